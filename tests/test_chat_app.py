"""The Chat tab through a real client: streamed replies, Stop, compare, roles; and the CLI."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from playground.cli import main as cli_main


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


@pytest.fixture(scope="module")
def client(launched_app):
    from gradio_client import Client

    return Client(launched_app.url, verbose=False)


def test_chat_endpoint_streams_a_reply(client):
    job = client.submit("Hello there", max_new_tokens=48, seed=1, api_name="/chat")
    updates = list(job)
    history, _, box, notice, prompt, _ = job.outputs()[-1]
    assert [m["role"] for m in history] == ["assistant", "user", "assistant"]  # greeting first
    assert _text(history[1]) == "Hello there"
    assert any(u[2] == "" for u in updates)  # the message box is emptied
    replies = [
        _text(u[0][-1])
        for u in updates
        if u[0] and u[0][-1]["role"] == "assistant" and len(u[0]) == 3
    ]
    replies = [r for r in replies if r]
    assert len(replies) >= 2, "the reply should arrive in several pieces"
    for before, after in zip(replies, replies[1:], strict=False):
        assert after.startswith(before)
    assert replies[-1] == _text(history[-1])
    assert "48 tokens" in notice and "tokens/s" in notice
    assert "<|im_start|>user\nHello there<|im_end|>" in prompt  # the exact template text


def test_same_seed_same_reply_through_the_app(client):
    first = client.predict("Hi", max_new_tokens=16, seed=11, temperature=1.0, api_name="/chat")
    again = client.predict("Hi", max_new_tokens=16, seed=11, temperature=1.0, api_name="/chat")
    assert _text(first[0][-1]) == _text(again[0][-1])


def test_stop_really_stops(client, launched_app):
    job = client.submit(
        "Tell me a long story", max_new_tokens=1500, temperature=1.0, seed=2, api_name="/chat"
    )
    _wait_for_reply_text(job)
    started = time.time()
    client.predict(api_name="/chat_stop")
    while not job.done() and time.time() - started < 30:
        time.sleep(0.05)
    assert job.done() and time.time() - started < 10
    reply = _text(job.outputs()[-1][0][-1])
    assert len(reply) > 0
    status = {s.name: s for s in launched_app.registry.status()}
    assert status["tiny-chat"].in_use == 0  # the model was released


def _wait_for_reply_text(job, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        outs = job.outputs()
        if (
            outs
            and outs[-1][0]
            and outs[-1][0][-1]["role"] == "assistant"
            and _text(outs[-1][0][-1])
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the reply did not start")


def test_clear_stops_the_running_reply_before_it_clears(client, launched_app):
    """Else the reply streams on and puts the old conversation back over the cleared one."""
    job = client.submit(
        "Tell me a long story", max_new_tokens=1500, temperature=1.0, seed=3, api_name="/chat"
    )
    _wait_for_reply_text(job)
    cleared, *_ = client.predict(api_name="/chat_clear")
    assert [m["role"] for m in cleared] == ["assistant"]  # the greeting alone
    # The stopped reply's last update came before Clear's answer, on the same stream.
    deadline = time.time() + 1
    while not job.done() and time.time() < deadline:
        time.sleep(0.02)
    assert job.done()
    assert "1500 tokens" not in job.outputs()[-1][3]  # stopped early (the notice counts tokens)
    assert {s.name: s.in_use for s in launched_app.registry.status()}["tiny-chat"] == 0


def test_compare_streams_two_models(client):
    a, b, _, notice, prompt_a, prompt_b = client.predict(
        "Compare me",
        max_new_tokens=12,
        seed=5,
        compare=True,
        model_b="tiny-chat",
        role_b="tutor",
        api_name="/chat",
    )
    assert _text(a[-1]) and _text(b[-1])
    assert _text(a[-2]) == _text(b[-2]) == "Compare me"
    assert notice.count("tiny-chat") == 2
    assert "step by step" in prompt_b.lower() and "step by step" not in prompt_a.lower()


def test_clear_resets_to_the_greeting(client):
    history, history_b, notice, *_ = client.predict(api_name="/chat_clear")
    assert [_text(m) for m in history] == ["Hello! How can I help you today?"]
    assert notice == ""


def test_save_and_export_role_per_user(client, launched_app):
    from tabs.identity import COOKIE

    client.predict("en", api_name="/chat_save_role")
    anon_id = client.cookies[COOKIE].split(".")[1]  # the client's signed anonymous id
    roles = launched_app.data_dir / "users" / f"anon-{anon_id}" / "roles"
    saved = json.loads((roles / "assistant-custom.json").read_text())
    assert saved["name"] == "Helpful assistant"
    card = client.predict(api_name="/chat_export_role")
    path = Path(card["value"] if isinstance(card, dict) else card)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["spec"] == "chara_card_v2"


def test_model_choices_list_adapters_beside_their_base(registry):
    from playground.config import ModelEntry
    from tabs.chat import model_choices

    registry.register(ModelEntry(name="my-lora", task="chat", source="/tmp/x", base="tiny-chat"))
    registry.register(
        ModelEntry(name="vllm", task="endpoint", base_url="http://h/v1", api_model="m")
    )
    values = [value for _, value in model_choices(registry)]
    assert values.index("my-lora") == values.index("tiny-chat") + 1
    assert values[-1] == "vllm"


# ------------------------------------------------------------------ CLI


def test_cli_list_roles(capsys):
    assert cli_main(["chat", "--list-roles"]) == 0
    out = capsys.readouterr().out
    assert "sd-prompt" in out and "customer-service" in out


def test_cli_chat_reads_stdin_and_is_reproducible(tiny_models, capsys, monkeypatch):
    args = [
        "chat",
        "--config",
        str(tiny_models),
        "--model",
        "tiny-chat",
        "--role",
        "sd-prompt",
        "--seed",
        "4",
        "--temperature",
        "1.0",
        "--max-new-tokens",
        "12",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("一只猫\n"))
    assert cli_main([*args, "-"]) == 0
    first = capsys.readouterr().out
    assert cli_main([*args, "一只猫"]) == 0
    assert capsys.readouterr().out == first and first.strip()


def test_cli_system_prompt_and_errors(tiny_models, capsys):
    assert (
        cli_main(
            [
                "chat",
                "--config",
                str(tiny_models),
                "--system",
                "Be brief.",
                "--max-new-tokens",
                "4",
                "--show-prompt",
                "hi",
            ]
        )
        == 0
    )
    assert "<|im_start|>system\nBe brief.<|im_end|>" in capsys.readouterr().err
    assert cli_main(["chat", "--config", str(tiny_models), "--model", "nope", "hi"]) == 2
    assert "not configured" in capsys.readouterr().err
    assert cli_main(["chat", "--config", str(tiny_models), "--role", "nope", "hi"]) == 2
    assert "sd-prompt" in capsys.readouterr().err


def test_regenerate_replaces_the_last_reply(client):
    history, *_ = client.predict("Hi again", max_new_tokens=10, seed=21, api_name="/chat")
    again, *_ = client.predict(history, max_new_tokens=10, seed=21, api_name="/chat_regenerate")
    assert len(again) == len(history) and _text(again[-2]) == "Hi again"
    assert _text(again[-1]) == _text(history[-1])  # same seed, same reply
    other, *_ = client.predict(
        history, max_new_tokens=10, seed=22, temperature=1.0, api_name="/chat_regenerate"
    )
    assert len(other) == len(history)


def test_a_users_adapter_is_offered_only_to_that_user(registry, tiny_config):
    """Fine-tuned adapters are private like jobs: Chat lists them for their owner only."""
    from playground.config import ModelEntry
    from playground.storage import safe_name
    from tabs.chat import model_choices

    base = tiny_config.get("tiny-chat")
    registry.register(
        ModelEntry(name="alice-lora", task="chat", source=base.source, base="tiny-chat",
                   owner=safe_name("user-alice"))
    )  # fmt: skip
    registry.register(
        ModelEntry(name="shared-lora", task="chat", source=base.source, base="tiny-chat")
    )
    names = lambda owner: [value for _, value in model_choices(registry, owner)]  # noqa: E731
    assert "alice-lora" in names("user-alice")
    assert "alice-lora" not in names("user-bob")
    assert "alice-lora" not in names(None)
    assert "shared-lora" in names("user-bob") and "tiny-chat" in names("user-bob")
