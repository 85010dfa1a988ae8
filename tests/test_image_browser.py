"""What a person sees in the Image tab, in a headless Chromium."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.system_packages import headless_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def _unload_after(launched_app):
    """Leave the shared app as we found it: no models loaded (other tests count them)."""
    yield
    launched_app.registry.unload_all()


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(1400, 2000, "--lang=en-US")
    yield driver
    driver.quit()


def _wait(condition, timeout=180.0, step=0.5):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting for the page")


def _click_text(driver, tag: str, label: str) -> None:
    from selenium.webdriver.common.by import By

    element = _wait(
        lambda: next(
            (
                e
                for e in driver.find_elements(By.TAG_NAME, tag)
                if e.text.strip() == label and e.is_displayed()
            ),
            None,
        )
    )
    element.click()


def _visible_textareas(driver):
    from selenium.webdriver.common.by import By

    return [t for t in driver.find_elements(By.CSS_SELECTOR, "textarea") if t.is_displayed()]


def test_generate_in_the_browser_shows_the_image_and_seed(browser, launched_app):
    from selenium.webdriver.common.by import By

    browser.get(launched_app.url)
    _click_text(browser, "button", "Image")
    prompt = _wait(lambda: _visible_textareas(browser))[0]
    prompt.send_keys("a (cat:1.3) on a hill")
    _click_text(browser, "button", "Generate")
    _wait(
        lambda: browser.find_elements(
            By.CSS_SELECTOR, ".gallery-item img, button.thumbnail-item img"
        )
    )
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "image(s) in" in page and "seed(s):" in page
    # Gradio announces the end of the event (for screen readers) with a key its own
    # tables lack; the app's strings fill it in.
    ends = {"Done", "common.complete"}
    announced = _wait(lambda: ends & set(_body_lines(browser)), timeout=15, step=0.2)
    assert announced == {"Done"}


def _body_lines(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text.splitlines()


def test_chat_reply_can_be_sent_to_the_image_tab(browser, launched_app):
    browser.get(launched_app.url)
    box = _wait(lambda: _visible_textareas(browser))[0]
    box.send_keys("a cat on a windowsill")
    _click_text(browser, "button", "Send")
    _wait(
        lambda: any(
            True for _ in browser.find_elements("css selector", ".message.bot, [data-testid='bot']")
        )
    )
    _click_text(browser, "button", "Use reply as image prompt")
    prompt = _wait(
        lambda: next((t for t in _visible_textareas(browser) if t.get_attribute("value")), None)
    )
    assert prompt.get_attribute("value").strip()
    _wait(lambda: launched_app.registry.status() and _unload(launched_app, "tiny-chat"), 60)


def _unload(app, name: str) -> bool:
    """Leave the shared app as other tests expect it (once the chat reply has finished)."""
    from playground.errors import PlaygroundError

    try:
        app.registry.unload(name)
    except PlaygroundError:
        return False
    return True


def _set_number(driver, label: str, value: int) -> None:
    """Type ``value`` into the number box of the slider labelled ``label``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = _wait(
        lambda: next(
            (
                e
                for e in driver.find_elements(By.CSS_SELECTOR, "input[type='number']")
                if e.get_attribute("aria-label") == f"number input for {label}" and e.is_displayed()
            ),
            None,
        )
    )
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)


def test_cancel_stops_the_pages_generation_between_steps(browser, launched_app):
    from selenium.webdriver.common.by import By

    browser.get(launched_app.url)
    _click_text(browser, "button", "Image")
    prompt = _wait(lambda: _visible_textareas(browser))[0]
    prompt.send_keys("a cancelled cat")
    _set_number(browser, "Steps", 150)
    _set_number(browser, "Number of images", 4)
    _click_text(browser, "button", "Generate")
    body = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    _wait(lambda: "of 4 · step" in body(), step=0.1)  # running (the status shows its steps)
    _click_text(browser, "button", "Cancel")
    _wait(lambda: "seed(s):" in body())  # the run's summary
    assert "image(s) in" in body() and "4 image(s) in" not in body()  # stopped early


def test_cancel_reaches_a_generation_still_waiting_for_its_turn(browser, launched_app):
    """Another user holds the device; this page's Generate waits, and its Cancel still counts."""
    from gradio_client import Client
    from selenium.webdriver.common.by import By

    other = Client(launched_app.url, verbose=False)
    busy = other.submit("tiny-image", "someone else's cat", "", 64, 64, 150, 4.0, "default", 5, 4,
                        api_name="/image_generate")  # fmt: skip
    _wait(lambda: launched_app.registry.is_loaded("tiny-image")
          and launched_app.registry.get("tiny-image").lock.locked(), step=0.1)  # fmt: skip
    browser.get(launched_app.url)
    _click_text(browser, "button", "Image")
    prompt = _wait(lambda: _visible_textareas(browser))[0]
    prompt.send_keys("a cat that never was")
    _click_text(browser, "button", "Generate")
    body = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    _wait(lambda: re.search(r"queue: \d+/\d+", body()), step=0.1)  # behind the other user
    _click_text(browser, "button", "Cancel")
    _wait(lambda: "Cancelling" in body(), timeout=30, step=0.1)  # the toast
    busy.cancel()  # the device frees; this page's run gets its turn and ends at once
    _wait(lambda: "Cancelled while it waited for its turn" in body(), timeout=120)
    from playground.image import read_parameters

    saved = (Path(launched_app.data_dir) / "users").rglob("images/*.png")
    assert not any(read_parameters(p).prompt == "a cat that never was" for p in saved)
