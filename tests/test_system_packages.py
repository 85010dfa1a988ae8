"""The one door for system-package tests: a skip naming the package, a failure under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import system_packages

ROOT = Path(__file__).resolve().parent.parent


def _hide_programs(monkeypatch):
    monkeypatch.setattr(system_packages.shutil, "which", lambda name: None)


def test_missing_package_skips_with_the_apt_get_line(monkeypatch):
    _hide_programs(monkeypatch)
    monkeypatch.delenv(system_packages.STRICT_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as caught:
        system_packages.require("chromium", "espeak-ng")
    message = str(caught.value)
    assert "chromium espeak-ng" in message and "apt-get install chromium espeak-ng" in message
    assert "\n" not in message


def test_missing_package_fails_when_ci_requires_them(monkeypatch):
    _hide_programs(monkeypatch)
    monkeypatch.setenv(system_packages.STRICT_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install sox"):
        system_packages.require("sox")


def test_present_package_gives_its_program(monkeypatch):
    monkeypatch.setattr(system_packages.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert system_packages.require("chromium-driver") == {
        "chromium-driver": "/usr/bin/chromedriver"
    }


def test_ci_script_sets_the_strict_variable():
    script = (ROOT / ".ci" / "run").read_text()
    assert f"export {system_packages.STRICT_ENV}=1" in script


def test_no_test_checks_programs_on_its_own():
    """Every test reaches system programs through ``require`` (one skip message, CI-strict)."""
    offenders = [
        path.name
        for path in (ROOT / "tests").glob("*.py")
        if path.name not in ("system_packages.py", Path(__file__).name)
        and ("shutil.which(" in path.read_text() or "pytest.skip(" in path.read_text())
    ]
    assert offenders == []
