"""Stop/Cancel flags: a run is stoppable while it runs and, once armed, while it waits."""

from __future__ import annotations

import threading
import time

from tabs.stop_flags import StopFlags


def test_nothing_to_stop_says_so():
    assert StopFlags().stop("page") is False


def test_stop_sets_the_running_flag_of_that_key_only():
    flags = StopFlags()
    with flags.running("page-a") as mine, flags.running("page-b") as theirs:
        assert flags.stop("page-a") is True
        assert mine.is_set() and not theirs.is_set()
    assert flags.stop("page-a") is False  # the run ended: its flag is gone


def test_an_armed_run_is_stopped_before_it_starts():
    flags = StopFlags()
    flags.arm("page")  # the click, before the device queue
    assert flags.stop("page") is True  # Cancel while it waits
    with flags.running("page") as stop:
        assert stop.is_set()  # its turn comes: it sees the Cancel at once


def test_arming_again_starts_from_a_clear_flag():
    flags = StopFlags()
    flags.arm("page")
    flags.stop("page")
    flags.arm("page")  # the next click
    with flags.running("page") as stop:
        assert not stop.is_set()


def test_a_run_takes_its_armed_flag_once():
    flags = StopFlags()
    flags.arm("page")
    with flags.running("page"):
        pass
    with flags.running("page") as later:  # a run nobody armed gets a fresh flag
        assert not later.is_set()
    assert flags.stop("page") is False


def test_stopping_only_the_running_one_leaves_the_waiting_one():
    """What a new run does to the one still running on its page (Image tab)."""
    flags = StopFlags()
    with flags.running("page") as old:
        flags.arm("page")
        assert flags.stop("page", waiting=False) is True
        assert old.is_set()
    with flags.running("page") as new:
        assert not new.is_set()


def _run_in_thread(flags: StopFlags, *, obeys: bool, ended: list) -> threading.Thread:
    inside = threading.Event()

    def run():
        with flags.running("page") as stop:
            inside.set()
            if obeys:
                stop.wait(10)
            else:
                time.sleep(1.0)  # a step that cannot be interrupted
            time.sleep(0.05)  # its last update
            ended.append(True)

    worker = threading.Thread(target=run)
    worker.start()
    assert inside.wait(10)
    return worker


def test_stop_and_wait_returns_once_the_run_has_ended():
    flags, ended = StopFlags(), []
    worker = _run_in_thread(flags, obeys=True, ended=ended)
    asked = time.monotonic()
    assert flags.stop_and_wait("page", timeout=30) is True
    assert ended == [True]  # its last update came before
    assert time.monotonic() - asked < 10  # woken by the run's end, not by its timeout
    worker.join()
    assert flags.stop_and_wait("page", timeout=0) is True  # nothing runs: at once


def test_stop_and_wait_gives_up_after_its_timeout():
    flags, ended = StopFlags(), []
    worker = _run_in_thread(flags, obeys=False, ended=ended)
    assert flags.stop_and_wait("page", timeout=0.1) is False
    assert ended == []
    worker.join()
    assert ended == [True]
