"""The queue with many users: chat off the device slot, positions shown, a per-user cap."""

from __future__ import annotations

import threading
import time

import gradio as gr
import pytest

import app
from tests.conftest import free_port

IMAGE = dict(model_name="tiny-image", prompt_text="a red apple", negative_text="", width=64,
             height=64, steps=1, seed=7, api_name="/image_generate")  # fmt: skip


def test_chat_events_do_not_take_the_device_slot(tiny_models, tmp_path):
    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    groups = {f.api_name: (f.concurrency_id, f.concurrency_limit) for f in demo.fns.values()}
    assert groups["chat"] == ("chat", demo.settings.chat_concurrency)
    for name in ("rag_ask", "image_prompt_assistant"):
        assert groups[name][0] == "chat", name
    for name in ("image_generate", "voice_clone", "models_load"):
        assert groups[name] == ("heavy", 1), name  # one at a time on the device


def test_on_zerogpu_chat_joins_the_gpu_calls(tiny_models, tmp_path):
    from tabs.common import AppContext, Settings

    ctx = AppContext(registry=None, data_dir=tmp_path, i18n=None, settings=Settings(zerogpu=True))
    assert ctx.chat == ctx.heavy


@pytest.fixture
def held_app(tiny_models, tmp_path):
    """The app with one extra device-bound event that holds the slot until released."""
    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    release, holding = threading.Event(), threading.Event()

    def hold() -> str:
        holding.set()
        release.wait(timeout=120)
        return "done"

    with demo:
        box = gr.Textbox(visible=False)
        gr.Button(visible=False).click(
            hold, None, box, api_name="test_hold", concurrency_id="heavy"
        )
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                i18n=demo.i18n_strings, **app.security_launch_kwargs(demo))  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/", release, holding
    finally:
        release.set()
        demo.close()


def wait_for_rank(job, rank: int):
    """The job's status once the queue has told it its position (polls, no timing asserted)."""
    for _ in range(600):
        status = job.status()
        if status.rank == rank and status.queue_size:
            return status
        time.sleep(0.05)
    raise AssertionError(f"the queue never reported rank {rank}: {job.status()}")


def test_a_waiting_image_request_sees_its_position(held_app):
    from gradio_client import Client

    url, release, holding = held_app
    blocker = Client(url, verbose=False).submit(api_name="/test_hold")
    assert holding.wait(timeout=60)
    client = Client(url, verbose=False)
    first = client.submit(**IMAGE)
    status = wait_for_rank(first, 0)  # nobody ahead of it, the slot is busy
    assert status.queue_size == 1
    second = Client(url, verbose=False).submit(**IMAGE)
    assert wait_for_rank(second, 1).queue_size == 2  # one ahead
    release.set()
    assert blocker.result(timeout=60) == "done"
    gallery, *_ = first.result(timeout=300)
    assert gallery  # the waiting request ran once the slot was free
    second.result(timeout=300)


def test_one_user_may_have_two_model_requests_waiting(held_app):
    from gradio_client import Client
    from gradio_client.exceptions import ValidationError

    url, release, holding = held_app
    blocker = Client(url, verbose=False).submit(api_name="/test_hold")
    assert holding.wait(timeout=60)
    greedy = Client(url, verbose=False)
    waiting = [greedy.submit(**IMAGE)]  # one at a time: submits run in threads, in any order
    wait_for_rank(waiting[0], 0)
    waiting.append(greedy.submit(**IMAGE))
    wait_for_rank(waiting[1], 1)
    third = greedy.submit(**IMAGE)
    # Refused at the door, saying why (not gradio_client's generic "Queue is full"):
    with pytest.raises(ValidationError, match="You already have 2 requests waiting"):
        third.result(timeout=60)
    # The same user (their identity cookie), asking in Chinese:
    chinese = Client(url, verbose=False, headers={"Accept-Language": "zh-CN"},
                     httpx_kwargs={"cookies": greedy.cookies})  # fmt: skip
    with pytest.raises(ValidationError, match="你已有 2 个请求在等待模型"):
        chinese.submit(**IMAGE).result(timeout=60)
    other = Client(url, verbose=False).submit(**IMAGE)  # another user is not affected
    assert wait_for_rank(other, 2).queue_size == 3
    release.set()
    blocker.result(timeout=60)
    for job in [*waiting, other]:
        job.result(timeout=300)
