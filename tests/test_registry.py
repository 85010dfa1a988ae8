"""The shared registry: load once, LRU eviction under a budget, in-use protection, unload."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import pytest

from playground.config import parse_config
from playground.errors import ModelLoadError, OutOfMemoryError, PlaygroundError, UnknownModelError
from playground.registry import FAILED, LOADED, NOT_LOADED, Registry


class Blob:
    """A fake model that reports its own size."""

    def __init__(self, name: str, size: int):
        self.name = name
        self.memory_bytes = size
        self.closed = False

    def close(self):
        self.closed = True


def fake_registry(names=("a", "b", "c", "d"), size=100, budget=250, delay=0.0):
    entries = "".join(
        f"  - name: {n}\n    task: chat\n    source: org/{n}\n    memory_gb: {size / 1e9}\n"
        for n in names
    )
    config = parse_config(f"defaults:\n  device: cpu\nmodels:\n{entries}")
    calls: list[str] = []

    def loader(entry, ctx):
        calls.append(entry.name)
        time.sleep(delay)
        return Blob(entry.name, size)

    return Registry(config, budget_bytes=budget, loader=loader), calls


def loaded_names(reg: Registry) -> list[str]:
    return [s.name for s in reg.status() if s.state == LOADED]


def test_nothing_loads_until_asked():
    reg, calls = fake_registry()
    assert calls == [] and loaded_names(reg) == []
    assert {s.state for s in reg.status()} == {NOT_LOADED}


def test_eight_concurrent_first_calls_load_once():
    reg, calls = fake_registry(delay=0.3)
    barrier = threading.Barrier(8)

    def ask(_):
        barrier.wait()
        return reg.get("a")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    assert calls == ["a"]
    assert all(r is results[0] for r in results)


def test_state_is_loading_while_loading():
    reg, _ = fake_registry(delay=0.5)
    thread = threading.Thread(target=reg.get, args=("a",))
    thread.start()
    time.sleep(0.15)
    assert reg.state("a") == "loading"
    thread.join()
    assert reg.state("a") == LOADED


def test_lru_eviction_order():
    reg, calls = fake_registry(budget=250)
    a = reg.get("a")
    reg.get("b")
    reg.get("a")  # a is now the most recently used
    reg.get("c")  # over budget: b (least recently used) goes
    assert loaded_names(reg) == ["a", "c"]
    reg.get("d")  # then a goes
    assert loaded_names(reg) == ["c", "d"]
    assert a.closed
    assert calls == ["a", "b", "c", "d"]


def test_model_in_use_is_never_evicted():
    reg, _ = fake_registry(budget=250)
    with reg.use("a"):
        reg.get("b")
        reg.get("c")  # a is older but busy: b goes instead
        assert loaded_names(reg) == ["a", "c"]
        reg.get("d")
        assert "a" in loaded_names(reg)
        with pytest.raises(PlaygroundError, match="in use"):
            reg.unload("a")
    reg.get("b")
    assert "a" not in loaded_names(reg)


def test_out_of_memory_when_everything_is_busy():
    reg, _ = fake_registry(budget=150)
    with reg.use("a"), pytest.raises(OutOfMemoryError, match="memory_budget"):
        reg.get("b")
    assert reg.state("b") != LOADED


def test_unload_and_unload_all():
    reg, _ = fake_registry(budget=1000)
    blob = reg.get("a")
    reg.get("b")
    assert reg.unload("a") is True and blob.closed
    assert reg.unload("a") is False
    reg.unload_all()
    assert loaded_names(reg) == [] and reg.used_bytes() == 0


def test_unknown_model_lists_configured_ones():
    reg, _ = fake_registry()
    with pytest.raises(UnknownModelError, match=r"'nope' is not configured.*a, b, c, d"):
        reg.get("nope")


def test_failed_load_is_reported_and_can_be_retried():
    config = parse_config("models:\n  - name: x\n    task: chat\n    source: org/x\n")
    attempts = []

    def loader(entry, ctx):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("disk on fire")
        return Blob("x", 1)

    reg = Registry(config, loader=loader)
    with pytest.raises(ModelLoadError, match="disk on fire"):
        reg.get("x")
    status = reg.status()[0]
    assert status.state == FAILED and "disk on fire" in status.error
    reg.get("x")
    assert reg.state("x") == LOADED


def test_uncached_hub_model_offline_says_how_to_fetch(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = parse_config(
        "models:\n  - name: big\n    task: chat\n    source: someorg/not-cached-model\n"
    )
    reg = Registry(config)
    with pytest.raises(ModelLoadError) as info:
        reg.get("big")
    msg = str(info.value)
    assert "hf download someorg/not-cached-model" in msg and "source:" in msg
    assert reg.state("big") == FAILED


def test_missing_local_folder_is_clear(tmp_path):
    config = parse_config(
        f"models:\n  - name: gone\n    task: chat\n    source: {tmp_path}/missing/folder\n"
    )
    with pytest.raises(ModelLoadError, match="does not exist"):
        Registry(config).get("gone")


def test_real_tiny_model_loads_once_measures_memory_and_unload_frees(registry):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: registry.get("tiny-chat"), range(8)))
    assert registry.load_count["tiny-chat"] == 1
    status = next(s for s in registry.status() if s.name == "tiny-chat")
    params = sum(p.numel() * p.element_size() for p in results[0].model.parameters())
    assert status.memory_bytes >= params > 0
    assert status.device == "cpu"
    ref = weakref.ref(results[0].model)
    del results
    assert registry.unload("tiny-chat")
    gc.collect()
    assert ref() is None, "unload must drop the last reference to the weights"


def test_register_adds_a_model_at_run_time(registry, tiny_config):
    from playground.config import ModelEntry

    chat = tiny_config.get("tiny-chat")
    registry.register(ModelEntry(name="tiny-chat-copy", task="chat", source=chat.source))
    assert "tiny-chat-copy" in registry.names("chat")
    with pytest.raises(PlaygroundError, match="already registered"):
        registry.register(ModelEntry(name="tiny-chat-copy", task="chat", source=chat.source))


def test_estimate_uses_weight_files(registry, tiny_config):
    estimate = registry.estimate_bytes(tiny_config.get("tiny-chat"))
    assert estimate > 0
