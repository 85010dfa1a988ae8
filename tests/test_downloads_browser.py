"""A first download seen in the browser: progress in the tab, and the device slot stays free.

The Voice tab's Check needs a voice model that is not downloaded yet. Its light
prefetch step streams the download into the tab's report while another user's
image (a model-bound event, one at a time on the device) runs to the end.
"""

from __future__ import annotations

import time

import pytest
import yaml

from tests.fake_hub import app_on_hub
from tests.system_packages import headless_chromium
from tests.voice_clips import make_clips

pytestmark = pytest.mark.browser
IMAGE = dict(model_name="tiny-image", prompt_text="a red apple", negative_text="", width=64,
             height=64, steps=1, seed=7, api_name="/image_generate")  # fmt: skip


@pytest.fixture
def hub_voice_app(tiny_models, tmp_path, monkeypatch):
    """The app whose only voice model, ``hub-voice``, comes from a fake Hub into an empty cache."""
    models = yaml.safe_load(tiny_models.read_text())["models"]
    voice = next(m for m in models if m["name"] == "tiny-voice")
    others = [m for m in models if m["task"] != "voice-clone"]
    models = [*others, {**voice, "name": "hub-voice", "source": "test-org/hub-voice"}]
    repos = {"test-org/hub-voice": tiny_models.parent / "tiny-voice"}
    with app_on_hub(models, repos, tmp_path, monkeypatch) as app:
        yield app


def _wait(condition, what: str, timeout: float = 120.0):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _button(driver, label: str):
    from selenium.webdriver.common.by import By

    return _wait(lambda: next((b for b in driver.find_elements(By.TAG_NAME, "button")
                               if b.text.strip() == label and b.is_displayed()), None), label)  # fmt: skip


def test_first_download_streams_in_the_tab_while_the_device_serves_others(hub_voice_app, tmp_path):
    from gradio_client import Client
    from selenium.webdriver.common.by import By

    hub, demo, url = hub_voice_app
    clip = make_clips(tmp_path / "clips")["good"]
    driver = headless_chromium(1400, 2000, "--lang=en-US")
    try:
        driver.get(url)
        _button(driver, "Voice").click()
        upload = _wait(lambda: next(iter(driver.find_elements(
            By.CSS_SELECTOR, "input[type='file'][accept*='audio']")), None), "the clip upload")  # fmt: skip
        upload.send_keys(str(clip))
        _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "audio"), "the uploaded clip")
        hub.hold.set()  # the model's largest file waits until released
        _button(driver, "Check clip").click()
        body = lambda: driver.find_element(By.TAG_NAME, "body").text  # noqa: E731
        _wait(lambda: "hub-voice" in body() and "downloading" in body(), "download progress")
        # Meanwhile another user's image runs through the one device slot, to the end.
        gallery, *_ = Client(url, verbose=False).predict(**IMAGE)
        assert gallery and "downloading" in body()
        hub.release()
        _wait(lambda: "is downloaded" in body(), "the end of the download")
        # Then the check itself runs and its report replaces the download's lines.
        _wait(lambda: "is downloaded" not in body() and ("✅" in body() or "❌" in body()),
              "the clip report", timeout=300)  # fmt: skip
        assert set(hub.gets.values()) == {1}  # every file fetched once
    finally:
        driver.quit()
        demo.registry.unload_all()
