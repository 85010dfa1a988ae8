"""A real browser keeps its signed anonymous identity in an HttpOnly cookie (headless Chromium)."""

from __future__ import annotations

import pytest

from tabs.identity import COOKIE
from tests.system_packages import headless_chromium, require

pytestmark = pytest.mark.browser
require("chromium", "chromium-driver")  # skips the module (fails in CI) without them


def test_the_browser_identity_is_a_signed_httponly_cookie_that_survives_a_refresh(
    launched_app,
):
    driver = headless_chromium(1200, 900)
    try:
        driver.get(launched_app.url)
        cookie = driver.get_cookie(COOKIE)
        assert cookie and cookie["httpOnly"], cookie
        assert launched_app.demo.identity.ids.verify(cookie["value"])
        assert cookie["value"] not in driver.execute_script("return document.cookie")
        driver.refresh()
        assert driver.get_cookie(COOKIE)["value"] == cookie["value"]  # survives a refresh
        # A forged cookie is replaced by a fresh identity, never honoured.
        driver.add_cookie({"name": COOKIE, "value": "v1." + "0" * 24 + "." + "0" * 64})
        driver.refresh()
        fresh = driver.get_cookie(COOKIE)["value"]
        assert launched_app.demo.identity.ids.verify(fresh) and fresh != cookie["value"]
    finally:
        driver.quit()
