"""The app shell: cheap import, flags, tabs, and the Models panel through a real client."""

from __future__ import annotations

import subprocess
import sys

import pytest

import app

HEAVY = ["torch", "transformers", "diffusers", "sentence_transformers", "peft", "faiss"]


def test_import_app_loads_no_heavy_library():
    code = (
        "import sys, app\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=app.ROOT, check=True
    )
    assert out.stdout.strip() == ""


def test_build_app_loads_no_heavy_library(tiny_models, tmp_path):
    code = (
        "import sys, app\n"
        f"args = app.parse_args(['--config', {str(tiny_models)!r}, '--data-dir', {str(tmp_path)!r}])\n"
        "app.build_app(args)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=app.ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1:] in ([], [""])


def test_bad_config_exits_2_with_one_clear_line(tmp_path):
    bad = tmp_path / "models.yaml"
    bad.write_text("models:\n  - name: x\n    task: chatt\n    source: a/b\n")
    out = subprocess.run(
        [sys.executable, "app.py", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=app.ROOT,
        timeout=120,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "chatt" in out.stderr and "task" in out.stderr and "models.yaml:3" in out.stderr


def test_auth_file_parsing(tmp_path):
    good = tmp_path / "users.txt"
    good.write_text("# workshop logins\nalice:secret\n\nbob:pa:ss\n")
    args = app.parse_args(["--auth", "carol:x", "--auth-file", str(good)])
    assert app.read_auth(args) == [("carol", "x"), ("alice", "secret"), ("bob", "pa:ss")]
    good.write_text("nocolon\n")
    from playground.errors import ConfigError

    with pytest.raises(ConfigError, match=r"users.txt:1"):
        app.read_auth(app.parse_args(["--auth-file", str(good)]))


def test_models_panel_shows_model_loading_through_client(launched_app):
    from gradio_client import Client

    client = Client(launched_app.url, verbose=False)
    launched_app.registry.unload_all()  # other tests share this app and may have used it
    table, _, _ = client.predict(api_name="/models_status")
    states = {row[0]: row[2] for row in table["data"]}
    assert states["tiny-chat"] == "not loaded"
    table, summary, _ = client.predict("tiny-chat", api_name="/models_load")
    states = {row[0]: row[2] for row in table["data"]}
    assert states["tiny-chat"] == "loaded"
    assert "loaded" in summary and "budget" in summary
    table, _, _ = client.predict("tiny-chat", api_name="/models_unload")
    assert {row[0]: row[2] for row in table["data"]}["tiny-chat"] == "not loaded"


def test_every_tab_builds(tiny_models, tmp_path):
    from conftest import check_tabs_built

    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    assert demo.tab_failures == {}
    check_tabs_built(demo)


def test_a_tab_that_fails_to_build_turns_the_check_red(tiny_models, tmp_path, monkeypatch):
    from conftest import check_tabs_built

    import tabs.image

    def broken(ctx):
        raise RuntimeError("boom in the image tab")

    monkeypatch.setattr(tabs.image, "build", broken)
    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    # The user still gets the other tabs, and this tab says it is unavailable...
    assert demo.tab_failures == {"image": "RuntimeError: boom in the image tab"}
    # ...but a test that builds the app goes red.
    with pytest.raises(AssertionError, match="boom in the image tab"):
        check_tabs_built(demo)
