"""``playground models list|check`` and ``playground testing make-tiny``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from playground.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_models_list_prints_a_table(tiny_models, capsys):
    assert main(["models", "list", "--config", str(tiny_models)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "TASK", "SOURCE", "STATE"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert "tiny-chat" in rows and "not loaded" in rows["tiny-chat"]


def test_models_check_loads_one_and_reports(tiny_models, capsys):
    assert main(["models", "check", "--config", str(tiny_models), "--load", "tiny-chat"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "tiny-chat: loaded on cpu, memory" in out


def test_models_check_bad_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "models.yaml"
    bad.write_text("models:\n  - name: a\n    task: chat\n    dtype: fp17\n    source: x/y\n")
    assert main(["models", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "fp17" in err and "float16" in err and "models.yaml:4" in err


def test_models_check_unknown_model_exits_2(tiny_models, capsys):
    assert main(["models", "check", "--config", str(tiny_models), "--load", "nope"]) == 2
    assert "not configured" in capsys.readouterr().err


def test_console_script_runs_as_module(tiny_models):
    out = subprocess.run(
        [sys.executable, "-m", "playground.cli", "models", "list", "--config", str(tiny_models)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0 and "tiny-chat" in out.stdout


def test_make_tiny_writes_a_loadable_models_file(tmp_path, capsys):
    from playground.config import load_config

    assert main(["testing", "make-tiny", str(tmp_path / "tiny")]) == 0
    config = load_config(tmp_path / "tiny" / "models.yaml")
    assert {"chat", "embedding", "reranker"} <= {m.task for m in config.models}
    for entry in config.models:
        assert entry.local_path(config.base_dir) is not None, entry.name
