"""What a person sees: the Chat tab in headless Chromium (send, streamed reply, refresh keeps it)."""

from __future__ import annotations

import pytest

from tests.system_packages import headless_chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium(1400, 1600)
    yield driver
    driver.quit()


def _bubbles(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".message-row .message")]


def test_send_shows_a_streamed_reply_that_survives_a_refresh(browser, launched_app):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(launched_app.url)
    box = wait.until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "textarea[placeholder*='Type a message']"))
    )
    assert any("How can I help" in t for t in _bubbles(browser))  # the role's greeting
    box.send_keys("Hello from the browser")
    browser.find_element(By.XPATH, "//button[normalize-space()='Send']").click()
    wait.until(
        lambda d: any("tokens/s" in e.text for e in d.find_elements(By.CSS_SELECTOR, ".prose"))
    )
    texts = _bubbles(browser)
    assert "Hello from the browser" in texts
    assert texts[-1] and texts[-1] != "Hello from the browser"  # the model's reply
    browser.refresh()
    wait.until(lambda d: "Hello from the browser" in _bubbles(d))
