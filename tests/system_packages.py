"""One door for tests that need a Debian package (a browser, a speech synthesiser...).

``require("chromium", "chromium-driver")`` returns the programs' paths, or
skips the test with one line naming the package and the ``apt-get install``
line. CI sets ``PLAYGROUND_REQUIRE_SYSTEM_PACKAGES=1`` (see ``.ci/run``): there
a missing package fails the test instead, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Debian package -> the programs it provides (any one will do; an absolute path is a file).
PROGRAMS: dict[str, tuple[str, ...]] = {
    "base-files": ("/usr/share/common-licenses/Apache-2.0",),
    "chromium": ("chromium", "chromium-browser"),
    "chromium-driver": ("chromedriver",),
    "espeak-ng": ("espeak-ng",),
    "sox": ("sox",),
    "ffmpeg": ("ffmpeg",),
}
STRICT_ENV = "PLAYGROUND_REQUIRE_SYSTEM_PACKAGES"


def strict() -> bool:
    """True when a missing system package must fail rather than skip (CI)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def find(package: str) -> str | None:
    """The path of the program ``package`` provides, or None."""
    for name in PROGRAMS[package]:
        path = (
            (name if os.path.exists(name) else None) if name.startswith("/") else shutil.which(name)
        )
        if path:
            return path
    return None


def require(*packages: str) -> dict[str, str]:
    """``{package: program path}``; skips (fails under CI) when any is missing."""
    found = {package: find(package) for package in packages}
    missing = [package for package, path in found.items() if path is None]
    if missing:
        names = " ".join(missing)
        message = f"needs the system package(s) {names} (not on PATH): sudo apt-get install {names}"
        if strict():
            pytest.fail(f"{message} [{STRICT_ENV} is set, so this is a failure]", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return found


def headless_chromium(width: int, height: int, *flags: str):
    """A headless Chromium driven by selenium at ``width`` x ``height`` (skips without it)."""
    programs = require("chromium", "chromium-driver")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", *flags):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = programs["chromium"]
    service = webdriver.ChromeService(executable_path=programs["chromium-driver"])
    return webdriver.Chrome(options=options, service=service)
