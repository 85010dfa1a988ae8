"""Downloads seen from the app: the Models panel streams progress, tabs get toasts, in en and zh."""

from __future__ import annotations

import pytest
import yaml

from tests.fake_hub import app_on_hub
from tests.test_downloads import wait_until


@pytest.fixture
def hub_app(tiny_models, tmp_path, monkeypatch):
    """The app on the tiny models plus ``hub-chat``, served by a fake Hub into an empty cache."""
    models = yaml.safe_load(tiny_models.read_text())["models"]
    models.append({"name": "hub-chat", "task": "chat", "source": "test-org/hub-chat"})
    repos = {"test-org/hub-chat": tiny_models.parent / "tiny-chat"}
    with app_on_hub(models, repos, tmp_path, monkeypatch) as app:
        yield app


def _state(client, name: str) -> str:
    table, _, _ = client.predict(api_name="/models_status")
    return {row[0]: row[2] for row in table["data"]}[name]


def test_models_panel_download_shows_progress_while_others_keep_working(hub_app):
    from gradio_client import Client

    hub, demo, url = hub_app
    client = Client(url, verbose=False)
    hub.hold.set()  # the weights file waits until released
    job = client.submit("hub-chat", api_name="/models_download")
    wait_until(lambda: _state(client, "hub-chat").startswith("downloading "), "the panel state")
    state = _state(client, "hub-chat")
    assert "%" in state and " of " in state and "/s" in state and "left" in state
    # Model work is not stuck behind the download: a chat model loads meanwhile.
    table, _, _ = client.predict("tiny-chat", api_name="/models_load")
    assert {row[0]: row[2] for row in table["data"]}["tiny-chat"] == "loaded"
    hub.release()
    job.result(timeout=120)
    notes = [out[3] for out in job.outputs()]
    assert any("downloading" in n and " of " in n for n in notes), notes
    assert "hub-chat is downloaded" in notes[-1]
    assert _state(client, "hub-chat") == "not loaded"  # downloaded, loads on first use
    assert set(hub.gets.values()) == {1}
    demo.registry.unload_all()


def test_models_panel_speaks_chinese(hub_app):
    from gradio_client import Client

    _, _, url = hub_app
    client = Client(url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    table, summary, _ = client.predict(api_name="/models_status")
    assert table["headers"][:3] == ["名称", "任务", "状态"]
    assert {row[0]: row[2] for row in table["data"]}["hub-chat"] == "未加载"
    assert "已加载" in summary and "预算" in summary


def test_a_tab_waiting_for_a_download_shows_its_progress(hub_app, monkeypatch):
    """What every tab handler gets through ``ui_errors``: toasts while a model downloads."""
    import threading

    import tabs.common as common

    hub, demo, _ = hub_app
    toasts: list[str] = []
    monkeypatch.setattr(common.gr, "Info", lambda message, **kw: toasts.append(message))

    @common.ui_errors
    def handler(name):
        return demo.registry.get(name)

    hub.hold.set()
    worker = threading.Thread(target=handler, args=("hub-chat",))
    worker.start()
    wait_until(lambda: toasts, "a progress toast")
    assert demo.registry.state("hub-chat") == "downloading"
    hub.release()
    worker.join(120)
    assert toasts[0].startswith("hub-chat: downloading") and " of " in toasts[0]
    assert "is downloaded" in toasts[-1]
    assert demo.registry.state("hub-chat") == "loaded"


def test_a_tab_fetches_its_models_before_the_device_slot(hub_app):
    """``tabs.common.prefetch``: the light step before a model-bound event streams the download."""
    import threading
    from types import SimpleNamespace

    from playground.downloads import DOWNLOADING, DOWNLOADS
    from tabs.common import prefetch

    hub, demo, _ = hub_app
    ctx = SimpleNamespace(registry=demo.registry)
    fetch_first = prefetch(ctx, lambda ctx, name: [name, "tiny-chat"])  # tiny-chat is local
    hub.hold.set()
    lines: list[str] = []

    def fetch():
        for line in fetch_first("hub-chat"):
            lines.append(line)

    worker = threading.Thread(target=fetch)
    worker.start()
    wait_until(lambda: lines, "a progress line")
    assert DOWNLOADS.progress(demo.registry.entry("hub-chat")).state == DOWNLOADING
    hub.release()
    worker.join(120)
    assert lines[0].startswith("⬇️ **hub-chat**: downloading") and " of " in lines[0]
    assert "hub-chat is downloaded" in lines[-1] and "tiny-chat" not in "".join(lines)
    assert demo.registry.state("hub-chat") == "not loaded"  # fetched, not loaded: no device used
    assert list(fetch_first("hub-chat")) == []  # cached now: nothing to show, nothing fetched
    assert set(hub.gets.values()) == {1}


def test_chat_shows_a_first_download_in_its_note(hub_app):
    """A chat model's first use: the download's progress streams into the note under the chat."""
    from gradio_client import Client

    hub, demo, url = hub_app
    client = Client(url, verbose=False)
    hub.hold.set()
    job = client.submit(message="hello", model="hub-chat", max_new_tokens=4, api_name="/chat")
    wait_until(lambda: any("downloading" in str(out[3]) for out in job.outputs()), "progress")
    hub.release()
    job.result(timeout=120)
    notes = [str(out[3]) for out in job.outputs()]
    assert any("⬇️ **hub-chat**: downloading" in n and " of " in n for n in notes), notes
    assert any("hub-chat is downloaded" in n for n in notes)
    assert job.outputs()[-1][0][-1]["role"] == "assistant"  # then the reply itself
    demo.registry.unload_all()
