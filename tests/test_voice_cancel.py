"""Voice (and Image) Cancel: the run ends itself and writes its own last status, running or waiting."""

from __future__ import annotations

import pytest

from tabs.common import AppContext, session_key
from tests.voice_clips import GOOD_TEXT, make_clips

TEXT = " ".join(f"Sentence number {i}." for i in range(6))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture
def ctx(registry, tmp_path):
    from tabs.i18n import build_i18n

    yield AppContext(registry=registry, data_dir=tmp_path / "data", i18n=build_i18n())
    registry.unload_all()


def _clone(ctx, clips):
    from tabs.voice.handlers import clone_voice

    return clone_voice(ctx, "tiny-voice", "", None, str(clips["good"]), GOOD_TEXT, TEXT, True,
                       1, 1.3, 2, 0.9, 40)  # fmt: skip


def test_cancel_mid_run_ends_with_the_runs_own_status(ctx, clips):
    from tabs.voice.handlers import STOPS, cancel

    updates = []
    for update in _clone(ctx, clips):
        updates.append(update)
        if update[0].startswith("⏳ 2/6"):
            cancel(ctx)  # the Cancel button, from this page, after two sentences
    assert updates[-1] == ("⏹ Cancelled after 2 of 6 sentences.", None)
    assert not any(status.startswith("✅") for status, _ in updates)
    assert STOPS.stop(session_key(None)) is False  # the run's flag is gone with it


def test_cancel_while_waiting_ends_the_run_before_any_work(ctx, clips):
    from tabs.voice.handlers import STOPS, cancel

    STOPS.arm(session_key(None))  # the click's light step, before the device queue
    cancel(ctx)  # Cancel while the request waits for its turn
    updates = list(_clone(ctx, clips))
    assert updates == [("⏹ Cancelled while it waited for its turn; nothing was generated.", None)]
    assert not ctx.registry.is_loaded("tiny-voice")


@pytest.mark.parametrize(
    ("run_api", "cancel_name"), [("voice_clone", "voice_cancel"), ("image_generate", None)]
)
def test_cancel_answers_in_a_toast_and_writes_no_status(launched_app, run_api, cancel_name):
    """Its reply may reach the page after the run's last update: it must not be a status.

    Voice and Image alike; the Image tab's Cancel has no API name, only its handler's.
    """
    fns = launched_app.demo.fns.values()
    run = next(f for f in fns if f.api_name == run_api)
    stop = next(f for f in fns if (f.api_name or f.name) == (cancel_name or "cancel_generation"))
    run_outputs = {block._id for block in run.outputs}
    assert run_outputs and not run_outputs & {block._id for block in stop.outputs}
    assert stop.queue  # a toast needs the queue's connection to reach the page
    # Gradio's cancelling is a function of its own on the same button.
    cancelled = {i for f in fns if f.is_cancel_function and f.targets == stop.targets
                 for i in f.cancels}  # fmt: skip
    assert cancelled and run._id not in cancelled  # a download only: the run stops itself
