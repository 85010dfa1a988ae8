"""``playground models check`` refusals and ``playground models download`` from a fake Hub."""

from __future__ import annotations

import threading

import pytest

from playground.cli import main
from tests.fake_hub import FakeHub


def test_empty_models_file_is_an_error(tmp_path, capsys):
    empty = tmp_path / "models.yaml"
    empty.write_text("models: []\n")
    assert main(["models", "check", "--config", str(empty)]) == 2
    assert "no models configured" in capsys.readouterr().err


@pytest.mark.parametrize("source", ["./no-such-folder/my-finetuned-chat", "../nope", "/nope/x"])
def test_missing_local_source_is_an_error(tmp_path, capsys, source):
    models = tmp_path / "models.yaml"
    models.write_text(f"models:\n  - name: mine\n    task: chat\n    source: {source}\n")
    assert main(["models", "check", "--config", str(models)]) == 2
    err = capsys.readouterr().err
    assert "'mine'" in err and f"'{source}' does not exist" in err


def test_existing_local_source_and_hub_ids_pass(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n  - {name: mine, task: chat, source: ./mine}\n"
        "  - {name: hub, task: chat, source: Qwen/Qwen2.5-0.5B-Instruct}\n"
    )
    assert main(["models", "check", "--config", str(models)]) == 0
    assert "OK, 2 models" in capsys.readouterr().out


def test_download_one_then_all(tiny_models, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n  - {name: hub-chat, task: chat, source: test-org/tiny-chat}\n"
        f"  - {{name: local, task: chat, source: {tiny_models.parent / 'tiny-chat'}}}\n"
    )
    with FakeHub() as hub:
        hub.add_folder("test-org/tiny-chat", tiny_models.parent / "tiny-chat")
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 60)
        hub.hold.set()  # the weights file waits 2 s, so progress is printed meanwhile
        threading.Timer(2.0, hub.release).start()
        assert main(["models", "download", "--config", str(models), "hub-chat"]) == 0
        out = capsys.readouterr()
        assert "hub-chat: downloaded test-org/tiny-chat" in out.out
        assert "hub-chat: downloading" in out.err and " of " in out.err
        assert main(["models", "download", "--config", str(models), "--all"]) == 0
        out = capsys.readouterr().out
        assert "hub-chat: already in the Hugging Face cache" in out
        assert "local: nothing to download" in out
        assert set(hub.gets.values()) == {1}


def test_download_of_a_gated_model_exits_2_with_the_fix(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  - {name: g, task: chat, source: test-org/gated}\n")
    with FakeHub() as hub:
        hub.gated.add("test-org/gated")
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert main(["models", "download", "--config", str(models), "g"]) == 2
    err = capsys.readouterr().err
    assert "gated" in err and "hf auth login" in err and "Traceback" not in err
