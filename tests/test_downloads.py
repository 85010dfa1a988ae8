"""Downloads from a local fake Hub: progress, one download per repo, and a message per failure."""

from __future__ import annotations

import threading
import time
from collections import namedtuple

import pytest

from playground.config import ModelEntry
from playground.downloads import DOWNLOADING, Downloads, listening
from playground.errors import ModelLoadError
from tests.fake_hub import FakeHub


@pytest.fixture
def hub(tiny_models, tmp_path, monkeypatch):
    """A fake Hub serving the tiny chat model as ``test-org/tiny-chat``, and an empty HF cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 60)  # the test holds a file back
    with FakeHub() as fake:
        fake.add_folder("test-org/tiny-chat", tiny_models.parent / "tiny-chat")
        fake.gated.add("test-org/gated")
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


def entry(source: str) -> ModelEntry:
    return ModelEntry(name="hub-chat", task="chat", source=source)


def wait_until(predicate, what: str, timeout: float = 60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_progress_reaches_the_listener_and_the_same_download_runs_once(hub):
    downloads, seen, paths = Downloads(), [], []
    hub.hold.set()  # the weights file waits until released; the small files come through

    def user():
        with listening(lambda p: seen.append((p.state, p.percent, p.summary()))):
            paths.append(downloads.wait(entry("test-org/tiny-chat"), poll=0.05))

    users = [threading.Thread(target=user) for _ in range(2)]
    for t in users:
        t.start()
    progress = lambda: downloads.progress(entry("test-org/tiny-chat"))  # noqa: E731
    wait_until(lambda: progress() and progress().done_bytes > 0, "a partial download")
    wait_until(
        lambda: any("of" in text and state == DOWNLOADING for state, _, text in seen), "a report"
    )
    during = progress()
    assert during.state == DOWNLOADING and 0 < during.done_bytes < during.total_bytes
    hub.release()
    for t in users:
        t.join(60)
    assert len(paths) == 2 and paths[0] == paths[1] and (paths[0] / "config.json").exists()
    # two users asked at once, yet every file was fetched once
    assert set(hub.gets.values()) == {1} and len(hub.gets) == len(hub.repos["test-org/tiny-chat"])
    partial = next(text for state, _, text in seen if state == DOWNLOADING and "0 B of" not in text)
    assert "%" in partial and " of " in partial and "/s" in partial and "left" in partial
    assert seen[-1][0] == "done" and seen[-1][1] == 100


def test_gated_repo_says_accept_the_terms_and_log_in(hub):
    with pytest.raises(ModelLoadError, match=r"gated.*Accept its terms.*hf auth login"):
        Downloads().wait(entry("test-org/gated"))


def test_missing_repo_says_check_the_spelling(hub):
    with pytest.raises(ModelLoadError, match=r"no repo 'test-org/nope' \(404"):
        Downloads().wait(entry("test-org/nope"))


def test_full_disk_is_its_own_message(hub, monkeypatch):
    import playground.download_checks as checks

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(checks.shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 100, 100))
    with pytest.raises(ModelLoadError, match=r"not enough disk space.*needed, 100 B free"):
        Downloads().wait(entry("test-org/tiny-chat"))
    assert not hub.gets  # nothing was fetched


def test_offline_is_its_own_message(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match=r"HF_HUB_OFFLINE is set.*hf download test-org/tiny"):
        Downloads().wait(entry("test-org/tiny-chat"))


def test_unreachable_hub_is_its_own_message(hub, monkeypatch):
    from conftest import free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ModelLoadError, match=r"cannot be reached"):
        Downloads().wait(entry("test-org/tiny-chat"))


def test_a_waiter_gives_up_after_max_wait_while_the_download_goes_on(hub):
    downloads = Downloads()
    hub.hold.set()
    with (
        listening(lambda p: None, max_wait=0.5),
        pytest.raises(ModelLoadError, match=r"still downloading.*goes on in the background"),
    ):
        downloads.wait(entry("test-org/tiny-chat"), poll=0.05)
    assert downloads.progress(entry("test-org/tiny-chat")).state == DOWNLOADING
    hub.release()
    path = downloads.wait(entry("test-org/tiny-chat"))  # joins the same download
    assert (path / "config.json").exists() and set(hub.gets.values()) == {1}
