"""Loaders register themselves: ``@loader("task")`` on a module's ``load`` function.

A loader turns a config entry into a ready object: ``load(entry, ctx) -> object``.
Adding a model family (or a whole new task kind) is one loader module in this
package that decorates its ``load`` with ``@loader("my-task")``, plus its
``models.yaml`` entries: the schema's list of tasks is the registered loaders
(``tasks()``), so ``config.py`` needs no edit. A package outside this repo can
add one through the ``playground.loaders`` entry-point group, and code (a test,
a notebook) through ``register_loader``. Loader modules import only light
modules at the top; heavy libraries are imported inside ``load`` so that
discovering them costs milliseconds and start-up stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from playground.errors import DependencyError

if TYPE_CHECKING:
    from playground.config import ModelEntry
    from playground.registry import LoadContext

LoaderFn = Callable[["ModelEntry", "LoadContext"], Any]
ENTRY_POINT_GROUP = "playground.loaders"
_LOADERS: dict[str, LoaderFn] = {}
_discovered = False
_discover_lock = threading.RLock()
# The pip package that provides each importable module a loader may need.
PIP_NAMES = {
    "sentence_transformers": "sentence-transformers",
    "faiss": "faiss-cpu",
    "diffusers": "diffusers",
    "peft": "peft",
    "transformers": "transformers",
    "torch": "torch",
    "openai": "openai",
    "soundfile": "soundfile",
}


def loader(task: str) -> Callable[[LoaderFn], LoaderFn]:
    """Decorator: ``fn`` loads the models of ``task`` (one loader per task)."""

    def register(fn: LoaderFn) -> LoaderFn:
        register_loader(task, fn)
        return fn

    return register


def register_loader(task: str, fn: LoaderFn, *, replace: bool = False) -> None:
    """Add a task kind; ``ValueError`` if another loader already has it."""
    current = _LOADERS.get(task)
    if current is not None and current is not fn and not replace:
        raise ValueError(f"task '{task}' already has a loader ({current.__module__})")
    _LOADERS[task] = fn


def unregister_loader(task: str) -> None:
    _LOADERS.pop(task, None)


def tasks() -> tuple[str, ...]:
    """Every task kind a models file may use: the registered loaders."""
    _discover()
    return tuple(_LOADERS)


def load_model(entry: ModelEntry, ctx: LoadContext) -> Any:
    """Turn a config entry into a ready model object."""
    _discover()
    return _LOADERS[entry.task](entry, ctx)


def _discover() -> None:
    """Import this package's loader modules (they register on import), once."""
    global _discovered
    with _discover_lock:
        if _discovered:
            return
        _discovered = True
        for module in pkgutil.iter_modules(__path__):
            import_optional(f"{__name__}.{module.name}", purpose="model loaders")
        _load_entry_points()


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _LOADERS:
            register_loader(point.name, point.load())


def import_optional(module: str, *, purpose: str) -> Any:
    """Import ``module`` or raise a ``DependencyError`` that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or module).split(".")[0]
        package = PIP_NAMES.get(missing, missing)
        raise DependencyError(
            f"{purpose} need the Python package '{package}', which is not installed "
            f"({exc}). Install it with: pip install {package}",
            key="errors.loader.package_missing",
            purpose=purpose,
            package=package,
            detail=str(exc),
        ) from exc
