"""The registry's memory budget under concurrency: reservations, per-device budgets, adapters,
``register(replace=True)`` against a running generation, and a 16-thread stress test."""

from __future__ import annotations

import random
import threading
import time

import pytest

from playground.config import ModelEntry, parse_config
from playground.errors import OutOfMemoryError, PlaygroundError
from playground.registry import Registry


class Blob:
    """A fake model of a given size that notices being closed while someone holds it."""

    def __init__(self, name: str, size: int, device: str = "cpu"):
        self.name = name
        self.memory_bytes = size
        self.device = device
        self.closed = False
        self.holders = 0
        self.closed_while_held = False
        self._lock = threading.Lock()

    def hold(self, delta: int) -> None:
        with self._lock:
            self.holders += delta

    def close(self):
        with self._lock:
            self.closed = True
            self.closed_while_held |= self.holders > 0


def make_registry(sizes: dict[str, int], budget: int, *, devices=None, delay=0.0, rng=None):
    devices = devices or {}
    entries = "".join(
        f"  - name: {n}\n    task: chat\n    source: org/{n}\n    memory_gb: {s / 1e9}\n"
        + (f"    device: {devices[n]}\n" if n in devices else "")
        for n, s in sizes.items()
    )
    config = parse_config(f"defaults:\n  device: cpu\nmodels:\n{entries}")
    made: list[Blob] = []

    def loader(entry, ctx):
        pause = rng.uniform(0, delay) if rng else delay
        time.sleep(pause)
        blob = Blob(entry.name, sizes[entry.name], ctx.device)
        made.append(blob)
        return blob

    return Registry(config, budget_bytes=budget, loader=loader), made


class Sampler(threading.Thread):
    """Reads every device's loaded + reserved bytes as often as it can."""

    def __init__(self, registry: Registry):
        super().__init__(daemon=True)
        self.registry = registry
        self.stop = threading.Event()
        self.samples = 0
        self.worst: dict[str, int] = {}

    def run(self):
        while not self.stop.is_set():
            for row in self.registry.memory():
                taken = row.used_bytes + row.reserved_bytes
                self.worst[row.device] = max(self.worst.get(row.device, 0), taken)
            self.samples += 1
            time.sleep(0.0005)


def test_concurrent_loads_reserve_before_they_start():
    """Two 100 B models loading at once under a 150 B budget: never 200 B at any instant."""
    reg, _ = make_registry({"a": 100, "b": 100}, 150, delay=0.3)
    sampler = Sampler(reg)
    sampler.start()
    threads = [threading.Thread(target=reg.get, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    time.sleep(0.1)
    # One load is in flight with its reservation counted; the other waits for it.
    assert reg.reserved_bytes("cpu") == 100
    for t in threads:
        t.join(10)
    sampler.stop.set()
    sampler.join()
    assert sampler.worst["cpu"] <= 150, sampler.worst
    assert sum(1 for s in reg.status() if s.state == "loaded") == 1
    assert reg.reserved_bytes() == 0


def test_out_of_memory_names_what_holds_the_memory():
    reg, _ = make_registry({"a": 100, "b": 100}, 150)
    with reg.use("a"), pytest.raises(OutOfMemoryError) as info:
        reg.get("b")
    message = str(info.value)
    assert "a 100 B (in use)" in message and "budget of cpu is 150 B" in message
    assert reg.reserved_bytes() == 0 and reg.state("b") == "not loaded"


def test_memory_is_accounted_per_device():
    reg, _ = make_registry({"gpu-chat": 100, "cpu-embed": 100}, 150, devices={"gpu-chat": "cuda:0"})
    gpu = reg.get("gpu-chat")
    cpu = reg.get("cpu-embed")
    # Each fits its own device's budget: loading one must not evict the other.
    assert not gpu.closed and not cpu.closed
    assert reg.used_bytes("cuda:0") == 100 and reg.used_bytes("cuda") == 100
    assert reg.used_bytes("cpu") == 100 and reg.used_bytes() == 200
    assert {(m.device, m.used_bytes, m.budget_bytes) for m in reg.memory()} == {
        ("cpu", 100, 150),
        ("cuda:0", 100, 150),
    }


def test_adapter_estimate_includes_its_base(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"x" * 5000)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"x" * 300)
    config = parse_config(
        f"models:\n  - name: base\n    task: chat\n    source: {base}\n"
        f"  - name: tuned\n    task: chat\n    source: {adapter}\n    base: base\n"
    )
    reg = Registry(config, loader=lambda e, c: Blob(e.name, 1))
    assert reg.estimate_bytes(reg.entry("base")) == 5000
    assert reg.estimate_bytes(reg.entry("tuned")) == 5300


def test_replace_refuses_a_model_in_use_then_waits_for_it():
    reg, _ = make_registry({"a": 10}, 100)
    new = ModelEntry(name="a", task="chat", source="org/a2", memory_gb=1e-8)
    with reg.use("a") as blob:
        with pytest.raises(PlaygroundError, match="in use"):
            reg.register(new, replace=True, wait=0.2)
        assert not blob.closed and reg.entry("a").source == "org/a"
        releaser = threading.Timer(0.3, lambda: None)
        releaser.start()
    # Released: a waiting replace goes through once the generation ends.
    done = threading.Event()

    def replace_after_use():
        reg.register(new, replace=True, wait=5)
        done.set()

    with reg.use("a") as blob:
        worker = threading.Thread(target=replace_after_use)
        worker.start()
        time.sleep(0.2)
        assert not done.is_set() and not blob.closed
    worker.join(5)
    assert done.is_set() and blob.closed and reg.entry("a").source == "org/a2"
    assert reg.state("a") == "not loaded"


def test_sixteen_threads_never_exceed_the_budget_or_unload_a_model_in_use(monkeypatch):
    # The fake models hold no memory, so the full gc after each unload only costs time:
    # in a long test session (a large heap) it took over 300 s of the ~1,000 unloads here.
    monkeypatch.setattr("playground.registry.free_memory", lambda: None)
    rng = random.Random(12)
    sizes = {f"m{i}": rng.randint(15, 60) for i in range(8)}
    budget = 160
    reg, made = make_registry(sizes, budget, delay=0.004, rng=random.Random(3))
    sampler = Sampler(reg)
    sampler.start()
    errors: list[BaseException] = []
    counts = {"get": 0, "use": 0, "unload": 0, "oom": 0, "refused": 0}
    counts_lock = threading.Lock()

    def count(key):
        with counts_lock:
            counts[key] += 1

    finished = threading.Event()  # set when the test ends: stragglers must not outlive it

    def worker(seed: int):
        local = random.Random(seed)
        try:
            for _ in range(150):
                if finished.is_set():
                    return
                name = local.choice(list(sizes))
                action = local.choices(["get", "use", "unload"], weights=[3, 4, 2])[0]
                try:
                    if action == "get":
                        reg.get(name)
                    elif action == "use":
                        with reg.use(name) as blob:
                            blob.hold(+1)
                            time.sleep(local.uniform(0, 0.003))
                            assert not blob.closed, f"{name} was closed while in use"
                            blob.hold(-1)
                    else:
                        reg.unload(name)
                    count(action)
                except OutOfMemoryError:
                    count("oom")  # everything else in use: a clear refusal, not a breach
                except PlaygroundError as exc:
                    assert "in use" in str(exc), exc
                    count("refused")
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(16)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 300  # far beyond a normal run: only a deadlock reaches it
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    finished.set()
    sampler.stop.set()
    sampler.join()
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"calls that never ended (deadlock): {stuck}"
    assert not errors, errors[:3]
    assert sampler.samples > 100 and sampler.worst["cpu"] <= budget, sampler.worst
    assert not any(b.closed_while_held for b in made)
    assert counts["use"] > 100 and counts["unload"] > 50, counts
    assert reg.reserved_bytes() == 0 and reg.used_bytes() <= budget
    assert all(s.in_use == 0 for s in reg.status())


def test_models_panel_summary_shows_each_device_budget_and_use():
    from types import SimpleNamespace

    from tabs.models import summary

    reg, _ = make_registry({"g": 100, "c": 40}, 150, devices={"g": "cuda:0"})
    ctx = SimpleNamespace(registry=reg)
    assert "nothing in memory yet" in summary(ctx)
    reg.get("g")
    reg.get("c")
    text = summary(ctx)
    assert "**2** loaded" in text
    assert "cpu: 40 B of 150 B" in text and "cuda:0: 100 B of 150 B" in text
