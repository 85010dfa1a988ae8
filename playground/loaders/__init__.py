"""One small loader module per task kind; ``load_model`` dispatches on ``entry.task``.

A loader module exposes ``load(entry, ctx) -> object``. Adding a model family
is one loader module plus one ``models.yaml`` entry. Heavy libraries are
imported inside ``load`` so that start-up stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from playground.errors import DependencyError

if TYPE_CHECKING:
    from playground.config import ModelEntry
    from playground.registry import LoadContext

LOADERS: dict[str, str] = {
    "chat": "playground.loaders.chat_lm",
    "embedding": "playground.loaders.embedding",
    "reranker": "playground.loaders.reranker",
    "text-to-image": "playground.loaders.text_to_image",
    "voice-clone": "playground.loaders.voice_clone",
    "speech-recognition": "playground.loaders.speech_recognition",
    "endpoint": "playground.loaders.endpoint",
}

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


def load_model(entry: ModelEntry, ctx: LoadContext) -> Any:
    """Turn a config entry into a ready model object."""
    module = import_optional(LOADERS[entry.task], purpose=f"{entry.task} models")
    return module.load(entry, ctx)


def import_optional(module: str, *, purpose: str) -> Any:
    """Import ``module`` or raise a ``DependencyError`` that says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = (exc.name or module).split(".")[0]
        package = PIP_NAMES.get(missing, missing)
        raise DependencyError(
            f"{purpose} need the Python package '{package}', which is not installed "
            f"({exc}). Install it with: pip install {package}"
        ) from exc
