"""The shared model registry: lazy, loaded once, memory-budgeted.

Every tab asks the registry for models by name. A model is loaded on first
use, exactly once even when many users ask at the same moment, and unloaded
least-recently-used first when a new load would exceed the memory budget. A
model that a running generation holds (``with registry.use(name)``) is never
evicted.

Memory is accounted per device (``cpu``, ``cuda:0``, ...) against that device's
budget. A load reserves its estimate before the loader runs, so loads in
flight count: a load is admitted only while loaded + reserved + its estimate
fit the budget; otherwise it evicts idle models, waits for other loads in
flight to settle, or raises ``OutOfMemoryError`` naming what holds the memory.
That accounting is ``playground.registry_memory.MemoryAccounting``, which
``Registry`` inherits; this module loads, unloads and reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.config import Config, ModelEntry
from playground.device import (
    cuda_allocated,
    format_bytes,
    free_memory,
    module_bytes,
    resolve_device,
)
from playground.errors import ModelLoadError, PlaygroundError, UnknownModelError
from playground.registry_memory import DeviceMemory, MemoryAccounting, Reservation, device_key

__all__ = [
    "DOWNLOADING",
    "FAILED",
    "LOADED",
    "LOADING",
    "NOT_LOADED",
    "DeviceMemory",
    "LoadContext",
    "Loader",
    "ModelStatus",
    "Registry",
    "device_key",
]

log = logging.getLogger(__name__)

NOT_LOADED, LOADING, LOADED, FAILED = "not loaded", "loading", "loaded", "failed"
DOWNLOADING = "downloading"  # loading, and its files are still coming from the Hub


@dataclass
class LoadContext:
    """What a loader needs besides the entry itself."""

    device: str
    dtype: str
    base_dir: Path | None
    registry: Registry


@dataclass
class ModelStatus:
    """One row of the Models panel."""

    name: str
    task: str
    source: str
    state: str = NOT_LOADED
    device: str | None = None
    memory_bytes: int | None = None
    error: str | None = None
    in_use: int = 0
    load_seconds: float | None = None
    download: Any = None  # playground.downloads.Progress of its latest download, if any

    @property
    def memory(self) -> str:
        return format_bytes(self.memory_bytes)


@dataclass
class _Loaded:
    obj: Any
    device: str
    memory_bytes: int
    loaded_at: float = field(default_factory=time.time)


Loader = Callable[[ModelEntry, LoadContext], Any]


class Registry(MemoryAccounting):
    """Lazily loads the models of a ``Config`` and keeps them within a memory budget."""

    def __init__(
        self,
        config: Config,
        *,
        budget_bytes: int | None = None,
        loader: Loader | None = None,
    ) -> None:
        self.config = config
        self._entries: dict[str, ModelEntry] = {m.name: m for m in config.models}
        self._lock = threading.RLock()
        # Signalled whenever memory is freed or a reservation settles (admission waits on it).
        self._changed = threading.Condition(self._lock)
        self._reserved: dict[str, Reservation] = {}
        self._model_locks: dict[str, threading.Lock] = {}
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()  # least recently used first
        self._errors: dict[str, str] = {}
        self._loading: set[str] = set()
        self._in_use: Counter[str] = Counter()
        self._load_seconds: dict[str, float] = {}
        self._loader = loader or _default_loader
        self._budget_override = budget_bytes
        self.load_count: Counter[str] = Counter()

    # ------------------------------------------------------------ entries

    def names(self, *tasks: str) -> list[str]:
        """Configured model names, optionally only those of the given tasks."""
        return [n for n, e in self._entries.items() if not tasks or e.task in tasks]

    def entries(self, *tasks: str) -> list[ModelEntry]:
        return [e for e in self._entries.values() if not tasks or e.task in tasks]

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            # Shared models only: a user's adapter name is nobody else's business.
            known = ", ".join(n for n, e in self._entries.items() if e.owner is None) or "(none)"
            where = f" in {self.config.path}" if self.config.path else ""
            raise UnknownModelError(
                f"model '{name}' is not configured{where}. Configured models: {known}. "
                "Add an entry to the models file or pick one of these.",
                key="errors.unknown_model",
                name=name,
                known=known,
            ) from None

    def register(self, entry: ModelEntry, *, replace: bool = False, wait: float = 5.0) -> None:
        """Add a model at run time (for example a freshly trained LoRA adapter).

        ``replace=True`` swaps an existing entry; a loaded copy is unloaded first.
        While that model is in use or loading, this waits up to ``wait`` seconds
        for it to be released, then refuses: a running generation keeps its model.
        """
        name = entry.name
        deadline = time.monotonic() + wait
        with self._changed:
            if name in self._entries and not replace:
                raise PlaygroundError(
                    f"a model named '{name}' is already registered",
                    key="errors.registry.already_registered",
                    name=name,
                )
            while self._in_use[name] > 0 or name in self._loading:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PlaygroundError(
                        f"'{name}' is in use by a running generation (or loading); stop it or "
                        "wait for it to finish, then replace it.",
                        key="errors.registry.busy_replace",
                        name=name,
                    )
                self._changed.wait(left)
            if replace and name in self._loaded:
                self._unload_locked(name)
            self._entries[name] = entry
        free_memory()

    # ------------------------------------------------------------ loading

    def get(self, name: str) -> Any:
        """The loaded model object, loading it first if needed."""
        entry = self.entry(name)
        with self._lock:
            loaded = self._loaded.get(name)
            if loaded is not None:
                self._loaded.move_to_end(name)
                return loaded.obj
            model_lock = self._model_locks.setdefault(name, threading.Lock())
        with model_lock:
            with self._lock:
                loaded = self._loaded.get(name)
                if loaded is not None:
                    self._loaded.move_to_end(name)
                    return loaded.obj
                self._loading.add(name)
                self._errors.pop(name, None)
            try:
                return self._load(entry)
            finally:
                with self._changed:
                    self._loading.discard(name)
                    self._reserved.pop(name, None)
                    self._changed.notify_all()

    @contextmanager
    def use(self, name: str) -> Iterator[Any]:
        """Hold a model for the length of a generation: it cannot be evicted meanwhile."""
        while True:
            obj = self.get(name)
            with self._lock:
                if name in self._loaded:
                    self._in_use[name] += 1
                    self._loaded.move_to_end(name)
                    break
        try:
            yield obj
        finally:
            with self._changed:
                self._in_use[name] -= 1
                if self._in_use[name] <= 0:
                    del self._in_use[name]
                    self._changed.notify_all()

    def _load(self, entry: ModelEntry) -> Any:
        device = device_key(resolve_device(self.config.resolve_device(entry)))
        self._reserve(entry.name, self.estimate_bytes(entry), device)
        free_memory()  # give evicted models' memory back before loading (outside the lock)
        ctx = LoadContext(
            device=device,
            dtype=self.config.resolve_dtype(entry),
            base_dir=self.config.base_dir,
            registry=self,
        )
        before = cuda_allocated(device)
        start = time.perf_counter()
        try:
            obj = self._loader(entry, ctx)
        except PlaygroundError as exc:
            self._fail(entry.name, str(exc))
            raise
        except Exception as exc:  # a loader bug or an unexpected library error
            error = _load_error(entry, exc)
            self._fail(entry.name, str(error))
            raise error from exc
        seconds = time.perf_counter() - start
        after = cuda_allocated(device)
        measured = getattr(obj, "memory_bytes", None)
        if measured is None:
            measured = (
                after - before if before is not None and after is not None else module_bytes(obj)
            )
        with self._changed:
            # The reservation turns into the measured use in one step: never counted twice.
            self._reserved.pop(entry.name, None)
            self._loaded[entry.name] = _Loaded(
                obj, device_key(str(getattr(obj, "device", device))), int(measured)
            )
            self._load_seconds[entry.name] = seconds
            self.load_count[entry.name] += 1
            # It may have measured more than estimated: evict idle models to get back in budget.
            where = self._loaded[entry.name].device
            self._fits(0, where, self.budget_bytes(where), keep=entry.name)
            self._changed.notify_all()
        log.info(
            "loaded %s on %s in %.1fs (%s)", entry.name, device, seconds, format_bytes(measured)
        )
        return obj

    def _fail(self, name: str, message: str) -> None:
        with self._lock:
            self._errors[name] = message
        log.warning("loading %s failed: %s", name, message)

    # ------------------------------------------------------------ memory
    # ------------------------------------------------------------ unloading

    def unload(self, name: str) -> bool:
        """Unload one model; returns False when it was not loaded.

        A model in use by a running generation is not unloaded: that raises.
        """
        self.entry(name)
        with self._lock:
            if name not in self._loaded:
                return False
            if self._in_use[name] > 0:
                raise PlaygroundError(
                    f"'{name}' is in use by a running generation; stop it first, then unload.",
                    key="errors.registry.busy_unload",
                    name=name,
                )
            self._unload_locked(name)
        free_memory()
        return True

    def unload_all(self) -> None:
        with self._lock:
            for name in [n for n in self._loaded if self._in_use[n] <= 0]:
                self._unload_locked(name)
        free_memory()

    def _unload_locked(self, name: str) -> None:
        loaded = self._loaded.pop(name, None)
        if loaded is None:
            return
        self._changed.notify_all()
        closer = getattr(loaded.obj, "close", None)
        if callable(closer):
            try:
                closer()
            except Exception as exc:  # closing must never block freeing memory
                log.warning("closing %s raised %s", name, exc)
        # free_memory() (a full gc) runs after the lock is released: under it, every
        # eviction would stall all other callers for the length of a collection.
        del loaded

    # ------------------------------------------------------------ status

    def is_loaded(self, name: str) -> bool:
        with self._lock:
            return name in self._loaded

    def state(self, name: str) -> str:
        with self._lock:
            if name in self._loading:
                download = self._download(name)
                return DOWNLOADING if download and download.state == DOWNLOADING else LOADING
            if name in self._loaded:
                return LOADED
            if name in self._errors:
                return FAILED
            return NOT_LOADED

    def status(self) -> list[ModelStatus]:
        """A snapshot of every model's state, for the Models panel and the CLI."""
        rows = []
        with self._lock:
            for name, entry in self._entries.items():
                loaded = self._loaded.get(name)
                rows.append(
                    ModelStatus(
                        name=name,
                        task=entry.task,
                        source=entry.source or entry.base_url or "",
                        state=self.state(name),
                        device=loaded.device if loaded else None,
                        memory_bytes=loaded.memory_bytes if loaded else None,
                        error=self._errors.get(name),
                        in_use=self._in_use[name],
                        load_seconds=self._load_seconds.get(name),
                        download=self._download(name),
                    )
                )
        return rows

    def _download(self, name: str):
        from playground.downloads import DOWNLOADS

        entry = self._entries.get(name)
        return DOWNLOADS.progress(entry) if entry is not None and entry.source else None


def _default_loader(entry: ModelEntry, ctx: LoadContext) -> Any:
    from playground.loaders import load_model

    return load_model(entry, ctx)


def _load_error(entry: ModelEntry, exc: Exception) -> ModelLoadError:
    """The ``ModelLoadError`` for an unexpected exception from a loader."""
    kind = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else kind
    if "out of memory" in text.lower():
        return ModelLoadError(
            f"'{entry.name}' did not fit in memory ({text}). Unload other models in the Models "
            "panel, pick a smaller model, or set dtype: float16 / device: cpu in the models file.",
            key="errors.registry.load_out_of_memory",
            name=entry.name,
            detail=text,
        )
    return ModelLoadError(
        f"could not load '{entry.name}' from {entry.source}: {kind}: {text}",
        key="errors.registry.load_failed",
        name=entry.name,
        source=str(entry.source),
        kind=kind,
        detail=text,
    )
