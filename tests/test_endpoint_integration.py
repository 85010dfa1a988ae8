"""`endpoint` entries against a real OpenAI-compatible server started in the test.

The server is `transformers serve` (transformers' own OpenAI-compatible
server) on the tiny chat model, fully offline. The chat engine talks to it
through the `openai` client exactly as it would to vLLM, TGI, SGLang or Ollama.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from playground.config import load_config
from playground.errors import ModelLoadError
from playground.registry import Registry
from tests.conftest import free_port


def start_transformers_serve(model_dir: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [
        sys.executable, "-c", "from transformers.cli.transformers import main; main()",
        "serve", model_dir, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
        "--dtype", "float32",
    ]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float = 150) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"transformers serve exited early:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("transformers serve did not become healthy in time")


@pytest.fixture(scope="module")
def server(tiny_config, tmp_path_factory):
    # The same weights as tiny-chat; its generation config samples by default, because
    # `transformers serve` keeps the model's do_sample and only maps temperature 0 to greedy.
    model_dir = str(tmp_path_factory.mktemp("served") / "tiny-chat")
    shutil.copytree(tiny_config.get("tiny-chat").source, model_dir)
    gen_path = Path(model_dir) / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen.update(do_sample=True, temperature=1.0, top_k=0, top_p=1.0)
    gen_path.write_text(json.dumps(gen))
    port = free_port()
    proc = start_transformers_serve(model_dir, port)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}/health")
        yield {"base_url": f"http://127.0.0.1:{port}/v1", "model": model_dir}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def endpoint_registry(server, tiny_models, tmp_path):
    """The tiny models plus endpoint entries for the server (and one for a server that is down)."""
    data = yaml.safe_load(tiny_models.read_text())
    data["models"] += [
        {
            "name": "served-chat",
            "task": "endpoint",
            "base_url": server["base_url"],
            "api_model": server["model"],
            "options": {"timeout": 60, "generation": {"max_new_tokens": 12}},
        },
        {
            "name": "hf-provider-chat",
            "task": "endpoint",
            "provider": "hf-inference",
            "base_url": server["base_url"],  # a router / dedicated endpoint URL in real use
            "api_model": server["model"],
            "api_key_env": "TEST_HF_PROVIDER_TOKEN",
            "options": {"timeout": 60},
        },
        {
            "name": "down-chat",
            "task": "endpoint",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "api_model": "anything",
            "options": {"timeout": 5},
        },
    ]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return Registry(load_config(path))


MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello / 你好"},
]


def test_stream_chat_streams_from_transformers_serve(endpoint_registry):
    from playground.chat import GenerationSettings, stream_chat

    settings = GenerationSettings(temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=16, seed=1)
    stream = stream_chat(endpoint_registry, "served-chat", MESSAGES, settings)
    parts = list(stream)
    assert len(parts) >= 2, "expected several streamed chunks"
    for before, after in zip(parts, parts[1:], strict=False):
        assert after.startswith(before), "each value is the reply so far"
    assert parts[-1].strip()
    assert stream.info.finish_reason in ("stop", "length")
    assert stream.info.new_tokens >= 2
    assert json.loads(stream.info.prompt)[-1]["content"] == "Say hello / 你好"
    # the endpoint is "loaded" in the registry but takes no local memory
    status = {s.name: s for s in endpoint_registry.status()}
    assert status["served-chat"].state == "loaded"
    assert status["served-chat"].memory_bytes == 0


def test_greedy_reply_matches_the_same_model_run_locally(endpoint_registry):
    """The server runs the very weights of tiny-chat: greedy replies agree token for token."""
    from playground.chat import GenerationSettings, complete

    settings = GenerationSettings(temperature=0.0, max_new_tokens=10, repetition_penalty=1.0)
    remote = complete(endpoint_registry, "served-chat", MESSAGES, settings)
    local = complete(endpoint_registry, "tiny-chat", MESSAGES, settings)
    assert remote == local
    assert complete(endpoint_registry, "served-chat", MESSAGES, settings) == remote


def test_stop_event_ends_the_remote_stream(endpoint_registry):
    import threading

    from playground.chat import GenerationSettings, stream_chat

    stop = threading.Event()
    settings = GenerationSettings(temperature=0.0, max_new_tokens=200)
    stream = stream_chat(endpoint_registry, "served-chat", MESSAGES, settings, stop=stop)
    first = next(stream)
    stop.set()
    rest = list(stream)
    assert first
    assert len(rest) <= 2
    assert stream.info.finish_reason == "cancelled"


def test_hf_inference_provider_entry_needs_its_token_then_streams(endpoint_registry, monkeypatch):
    from playground.chat import GenerationSettings, stream_chat

    monkeypatch.delenv("TEST_HF_PROVIDER_TOKEN", raising=False)
    with pytest.raises(ModelLoadError, match="TEST_HF_PROVIDER_TOKEN"):
        list(stream_chat(endpoint_registry, "hf-provider-chat", MESSAGES))
    monkeypatch.setenv("TEST_HF_PROVIDER_TOKEN", "hf_test")
    settings = GenerationSettings(temperature=0.0, max_new_tokens=6)
    assert list(stream_chat(endpoint_registry, "hf-provider-chat", MESSAGES, settings))[-1]


def test_server_down_gives_a_clear_error_quickly(endpoint_registry):
    from playground.chat import stream_chat

    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as err:
        list(stream_chat(endpoint_registry, "down-chat", MESSAGES))
    message = str(err.value)
    entry = endpoint_registry.entry("down-chat")
    assert "down-chat" in message and entry.base_url in message
    assert "running" in message.lower() and "base_url" in message
    assert time.perf_counter() - start < 30
