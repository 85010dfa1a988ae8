"""models.yaml validation: each mistake gives one message naming file, line, entry, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.config import load_config, parse_config, parse_size
from playground.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
version: 1
defaults:
  device: cpu
  memory_budget: 8GB
models:
  - name: small-chat
    task: chat
    source: Qwen/Qwen2.5-0.5B-Instruct
  - name: remote
    task: endpoint
    base_url: http://localhost:8000/v1
    api_model: qwen
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "models.yaml")
    return str(info.value)


def test_shipped_models_file_is_valid_and_covers_every_task():
    config = load_config(ROOT / "models.yaml")
    tasks = {m.task for m in config.models}
    assert {"chat", "embedding", "reranker", "text-to-image", "speech-recognition"} <= tasks
    for entry in config.models:
        assert entry.license, f"{entry.name} documents its licence"


def test_good_config_parses():
    config = parse_config(GOOD, "models.yaml")
    assert [m.name for m in config.models] == ["small-chat", "remote"]
    assert config.resolve_device(config.models[0]) == "cpu"
    assert config.resolve_dtype(config.models[0]) == "auto"


def test_unknown_task_names_entry_field_value_and_allowed_values():
    msg = error_of(GOOD.replace("task: chat", "task: chatt"))
    assert msg.startswith("models.yaml:7:")
    assert "'small-chat'" in msg and "field 'task'" in msg and "'chatt'" in msg
    for allowed in ("chat", "embedding", "text-to-image", "voice-clone", "endpoint"):
        assert allowed in msg
    assert "Traceback" not in msg


def test_missing_source_says_how_to_fix():
    msg = error_of(GOOD.replace("    source: Qwen/Qwen2.5-0.5B-Instruct\n", ""))
    assert "models.yaml:6" in msg and "'small-chat'" in msg
    assert "source" in msg and "local folder" in msg


def test_bad_dtype_lists_allowed_values():
    msg = error_of(GOOD.replace("    task: chat\n", "    task: chat\n    dtype: fp17\n"))
    assert "field 'dtype'" in msg and "'fp17'" in msg
    assert "float16" in msg and "bfloat16" in msg and "models.yaml:8" in msg


def test_bad_device():
    msg = error_of(GOOD.replace("device: cpu", "device: gpu"))
    assert "'gpu'" in msg and "cuda" in msg and "models.yaml:3" in msg


def test_unknown_top_level_key():
    msg = error_of(GOOD + "extra_stuff: 1\n")
    assert "unknown key 'extra_stuff'" in msg and "top level" in msg
    assert "defaults" in msg and "models" in msg and "models.yaml:13" in msg


def test_unknown_key_in_entry():
    msg = error_of(GOOD.replace("    task: chat\n", "    task: chat\n    sorce: x\n"))
    assert "unknown key 'sorce'" in msg and "'small-chat'" in msg and "source" in msg


def test_yaml_syntax_error_has_line_number():
    msg = error_of("models:\n  - name: a\n    task: [chat\n")
    assert msg.startswith("models.yaml:") and "YAML syntax error" in msg
    line = int(msg.split(":")[1])
    assert line in (3, 4)


def test_duplicate_names_rejected():
    text = GOOD.replace("name: remote", "name: small-chat")
    assert "used twice" in error_of(text)


def test_endpoint_needs_base_url():
    msg = error_of(GOOD.replace("    base_url: http://localhost:8000/v1\n", ""))
    assert "base_url" in msg and "'remote'" in msg


def test_bad_budget_and_sizes():
    assert parse_size("8GB") == 8_000_000_000
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size(1.5) == 1_500_000_000
    assert "memory_budget" in error_of(GOOD.replace("8GB", "lots"))


def test_several_problems_listed_together():
    text = GOOD.replace("task: chat", "task: chatt").replace("device: cpu", "device: gpu")
    msg = error_of(text)
    assert msg.startswith("2 problems in models.yaml")


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config("- a\n- b\n")


def test_relative_source_resolves_from_the_file(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "models.yaml").write_text(
        "models:\n  - name: local\n    task: chat\n    source: weights\n"
    )
    config = load_config(tmp_path / "models.yaml")
    assert config.models[0].local_path(config.base_dir) == tmp_path.resolve() / "weights"


def test_a_new_task_kind_is_one_registered_loader(tmp_path):
    """A loader registered from here is a task the schema accepts, with no edit to config.py."""
    from playground.config import load_config
    from playground.loaders import loader, tasks, unregister_loader
    from playground.registry import Registry

    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - name: echo\n    task: tiny-echo\n    source: anything\n")
    with pytest.raises(ConfigError, match="'tiny-echo' is not allowed"):
        load_config(models)

    @loader("tiny-echo")
    def load(entry, ctx):
        return {"echo": entry.name}

    try:
        assert "tiny-echo" in tasks()
        config = load_config(models)
        assert Registry(config).get("echo") == {"echo": "echo"}
    finally:
        unregister_loader("tiny-echo")
    assert "tiny-echo" not in tasks()
