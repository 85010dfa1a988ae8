"""Validate reads a Hub base model's config and tokenizer only; Start still fetches the weights."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.fake_hub import FakeHub

REPO = "test-org/hub-base"


@pytest.fixture
def hub_base(tiny_models, tmp_path, monkeypatch):
    """The tiny chat model as ``hub-base`` on a fake Hub, an empty HF cache, and a dataset."""
    from huggingface_hub import constants

    from playground.config import load_config

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    config = yaml.safe_load(tiny_models.read_text())
    config["models"].append({"name": "hub-base", "task": "chat", "source": REPO})
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(config))
    data = tmp_path / "toy.jsonl"
    rows = [{"instruction": f"Question {i}", "output": f"Answer number {i}."} for i in range(8)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with FakeHub() as hub:
        hub.add_folder(REPO, tiny_models.parent / "tiny-chat")
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield hub, load_config(models), data


def fetched_weights(hub) -> list[str]:
    return sorted(name for name in hub.gets if name.endswith(".safetensors"))


def test_validate_fetches_config_and_tokenizer_but_no_weights(hub_base, tmp_path):
    from playground.registry import Registry
    from tabs.common import AppContext
    from tabs.finetune.handlers import validate

    hub, config, data = hub_base
    ctx = AppContext(registry=Registry(config), data_dir=tmp_path / "data", i18n=None)
    report, preview, issues, *filled = validate(ctx, "hub-base", str(data))
    assert "8 / 8 records valid" in report and "Tokens per record" in report, report
    assert "Estimate" in report and filled[0] == 8
    assert fetched_weights(hub) == []  # no *.safetensors was downloaded
    assert {f"{REPO}/config.json", f"{REPO}/tokenizer.json"} <= set(hub.gets)
    assert f"{REPO}/chat_template.jinja" in hub.gets


def test_the_weights_size_comes_from_the_hubs_file_list(hub_base):
    from playground.finetune.base import base_files

    hub, config, _ = hub_base
    files = base_files(config, "hub-base")
    assert files.weight_bytes == len(hub.repos[REPO]["model.safetensors"]) > 0
    assert fetched_weights(hub) == []


def test_start_still_fetches_the_whole_model_after_a_validate(hub_base):
    from pathlib import Path

    from playground.finetune import engine

    hub, config, data = hub_base
    engine.plan(config, "hub-base", data)
    # A half-filled cache snapshot would pass for a downloaded model: the config
    # files must not have gone there.
    _entry, source, _device = engine.resolve_base(config, "hub-base")  # what start_job uses
    assert (Path(source) / "model.safetensors").is_file()
    assert fetched_weights(hub) == [f"{REPO}/model.safetensors"]
