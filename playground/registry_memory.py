"""Memory accounting of the model registry: per-device budgets, use, reservations.

``MemoryAccounting`` is the half of ``playground.registry.Registry`` that
decides whether a load fits: it reads the registry's loaded models and the
reservations of loads in flight, evicts idle models least-recently-used first,
and explains an out-of-memory refusal. It holds no state of its own; the
registry owns the maps and the lock it works on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from playground.config import ModelEntry, parse_size
from playground.device import format_bytes, total_memory_bytes
from playground.errors import OutOfMemoryError

log = logging.getLogger(__name__)


@dataclass
class Reservation:
    """Memory a load in flight holds on a device, and the thread loading it."""

    device: str
    memory_bytes: int
    thread: int = field(default_factory=threading.get_ident)


@dataclass
class DeviceMemory:
    """One device's budget and what is loaded on it or reserved by loads in flight."""

    device: str
    budget_bytes: int
    used_bytes: int
    reserved_bytes: int
    loaded: int

    def describe(self) -> str:
        text = (
            f"{self.device}: {format_bytes(self.used_bytes)} of {format_bytes(self.budget_bytes)}"
        )
        if self.reserved_bytes:
            text += f" (+{format_bytes(self.reserved_bytes)} loading)"
        return text


class MemoryAccounting:
    """Budget, use and admission of loads, per device; mixed into ``Registry``.

    It works on the registry's ``config``, ``_entries``, ``_loaded`` (least
    recently used first), ``_reserved``, ``_in_use``, ``_lock`` / ``_changed``
    and ``_budget_override``, and evicts through ``_unload_locked``.
    """

    def budget_bytes(self, device: str = "cpu") -> int:
        """A device's memory budget: from the models file, or 90% of the GPU / 60% of RAM."""
        if self._budget_override is not None:
            return self._budget_override
        budget = self.config.defaults.memory_budget
        if budget != "auto":
            return parse_size(budget)
        share = 0.9 if device.startswith("cuda") else 0.6
        return int(total_memory_bytes(device) * share)

    def used_bytes(self, device: str | None = None) -> int:
        """Bytes held by loaded models on ``device`` (on every device when None)."""
        key = device_key(device) if device else None
        with self._lock:
            return sum(m.memory_bytes for m in self._loaded.values() if key in (None, m.device))

    def reserved_bytes(self, device: str | None = None) -> int:
        """Bytes reserved by loads in flight on ``device`` (on every device when None)."""
        key = device_key(device) if device else None
        with self._lock:
            return sum(r.memory_bytes for r in self._reserved.values() if key in (None, r.device))

    def memory(self) -> list[DeviceMemory]:
        """Budget and use of every device that holds or is loading a model."""
        with self._lock:
            devices = {m.device for m in self._loaded.values()}
            devices |= {r.device for r in self._reserved.values()}
            return [
                DeviceMemory(
                    device=d,
                    budget_bytes=self.budget_bytes(d),
                    used_bytes=self.used_bytes(d),
                    reserved_bytes=self.reserved_bytes(d),
                    loaded=sum(1 for m in self._loaded.values() if m.device == d),
                )
                for d in sorted(devices)
            ]

    def estimate_bytes(self, entry: ModelEntry) -> int:
        """Memory a load will take: the entry's ``memory_gb``, else its weight files' size.

        An adapter (``base:`` set) is loaded on top of its own copy of the base
        model (peft changes the modules it wraps, so the base cannot be shared),
        so its estimate includes the base's.
        """
        if entry.memory_gb is not None:
            return int(entry.memory_gb * 1e9)
        if entry.task == "endpoint":
            return 0
        path = entry.local_path(self.config.base_dir)
        if path is None:
            from playground.loaders.hub import cached_snapshot

            path = cached_snapshot(entry)
        own = _weights_size(path) if path is not None else 0
        base = self._entries.get(entry.base) if entry.base else None
        if base is not None and base.name != entry.name:
            own += self.estimate_bytes(base)
        return own

    def _reserve(self, name: str, needed: int, device: str) -> None:
        """Admit a load of ``needed`` bytes on ``device``: evict, wait, or raise OOM."""
        budget = self.budget_bytes(device)
        with self._changed:
            while True:
                if self._fits(needed, device, budget, keep=name):
                    self._reserved[name] = Reservation(device, needed)
                    return
                # Loads in flight of other threads settle soon (they load or fail): wait.
                # Our own thread's reservations (a loader loading another model) never would.
                me = threading.get_ident()
                if any(r.device == device and r.thread != me for r in self._reserved.values()):
                    self._changed.wait(1.0)
                    continue
                raise self._out_of_memory(name, needed, device, budget)

    def _fits(self, needed: int, device: str, budget: int, *, keep: str) -> bool:
        """Whether ``needed`` fits on ``device`` after evicting idle models (LRU first)."""
        while self.used_bytes(device) + self.reserved_bytes(device) + needed > budget:
            victim = next(
                (
                    n
                    for n, m in self._loaded.items()
                    if n != keep and m.device == device and self._in_use[n] <= 0
                ),
                None,
            )
            if victim is None:
                return needed == 0
            log.info("evicting %s to stay within the memory budget of %s", victim, device)
            self._unload_locked(victim)
        return True

    def _out_of_memory(self, name: str, needed: int, device: str, budget: int) -> OutOfMemoryError:
        held = [
            f"{n} {format_bytes(m.memory_bytes)}{' (in use)' if self._in_use[n] else ''}"
            for n, m in self._loaded.items()
            if m.device == device and n != name
        ]
        held += [
            f"{n} {format_bytes(r.memory_bytes)} (loading)"
            for n, r in self._reserved.items()
            if r.device == device and n != name
        ]
        taken = self.used_bytes(device) + self.reserved_bytes(device)
        return OutOfMemoryError(
            f"loading '{name}' needs about {format_bytes(needed)} but the memory budget of "
            f"{device} is {format_bytes(budget)} and {format_bytes(taken)} is held by models "
            f"in use ({', '.join(held) or 'none'}). Wait for them to finish, unload a model "
            "in the Models panel, or raise defaults.memory_budget in the models file.",
            key="errors.memory.no_room" if held else "errors.memory.no_room_none_held",
            name=name,
            needed=format_bytes(needed),
            device=device,
            budget=format_bytes(budget),
            taken=format_bytes(taken),
            held=", ".join(held),
        )


def device_key(device: str) -> str:
    """One name per device: ``cuda`` and ``cuda:0`` are the same GPU."""
    device = str(device)
    return "cuda:0" if device == "cuda" else device


def _weights_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    files = [p for p in path.rglob("*.safetensors")]
    if not files:
        files = [p for ext in ("*.bin", "*.pt", "*.pth", "*.ckpt") for p in path.rglob(ext)]
    return sum(p.stat().st_size for p in files if p.is_file())
