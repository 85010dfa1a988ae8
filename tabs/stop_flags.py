"""What a Stop or Cancel button sets: one ``threading.Event`` per generation, by session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopFlags:
    """The stop flag of each browser session's generation.

    A flag exists while its generation runs (``running``). A tab whose run waits
    for the device queue can also ``arm`` one at the click, in the light step
    before the queue: Stop then sets that flag too, and the run, when its turn
    comes, sees it at once and ends with its own "cancelled" status. (Gradio's
    ``cancels=`` would remove a waiting run as well, but it also kills a running
    one before it can say how far it got, and the Stop reply can then lose the
    race with the run's last streamed update.)
    """

    def __init__(self) -> None:
        self._running: dict[str, threading.Event] = {}
        self._armed: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)  # notified when a run ends

    def arm(self, key: str) -> None:
        """A run for ``key`` was asked for: Stop from now on stops it, even while it waits."""
        with self._lock:
            self._armed[key] = threading.Event()

    @contextmanager
    def running(self, key: str) -> Iterator[threading.Event]:
        """The flag for ``key`` while the block runs: the armed one if any, else a fresh one."""
        with self._lock:
            event = self._armed.pop(key, None) or threading.Event()
            self._running[key] = event
        try:
            yield event
        finally:
            with self._lock:
                if self._running.get(key) is event:
                    del self._running[key]
                self._ended.notify_all()

    def stop(self, key: str, *, waiting: bool = True) -> bool:
        """Set the flag of ``key``'s running (and, unless ``waiting`` is False, armed) run.

        False when there was nothing to stop.
        """
        with self._lock:
            events = [self._running.get(key), self._armed.get(key) if waiting else None]
        events = [event for event in events if event is not None]
        for event in events:
            event.set()
        return bool(events)

    def stop_and_wait(self, key: str, timeout: float) -> bool:
        """Stop ``key``'s running run and wait (at most ``timeout`` s) until it has ended.

        For a button that replaces what the run writes (Clear): a handler's last
        update is sent before its flag's block ends, so whatever this caller then
        sends on the same queue arrives after it. True when nothing runs any more.
        """
        with self._lock:
            event = self._running.get(key)
        if event is None:
            return True
        event.set()
        with self._ended:
            return self._ended.wait_for(lambda: self._running.get(key) is not event, timeout)
