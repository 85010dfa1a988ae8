"""The base model of a fine-tune: which chat models qualify, their files, tokenizer and shape.

Training needs the whole model (``resolve_base``); a plan only reads the
config and the tokenizer (``base_files``), so checking a dataset never
downloads the weights.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.config import Config, ModelEntry
from playground.errors import InputError


def base_models(config: Config | Any) -> list[str]:
    """Chat models that can be fine-tuned (local or Hub weights; not endpoints, not adapters)."""
    entries = config.entries("chat") if hasattr(config, "entries") else config.by_task("chat")
    return [e.name for e in entries if not e.base]


def _config_of(where) -> Config:
    return where.config if hasattr(where, "config") and isinstance(where.config, Config) else where


def _base_entry(where, name: str) -> ModelEntry:
    """The models-file entry of a base model; a clear error when it cannot be one."""
    config = _config_of(where)
    entry = where.entry(name) if hasattr(where, "entry") else config.get(name)
    if entry is None:
        choices = ", ".join(base_models(where))
        raise InputError(
            f"base model '{name}' is not configured; pick one of {choices}",
            key="errors.finetune.base_not_configured", name=name, choices=choices,
        )  # fmt: skip
    if entry.task != "chat":
        raise InputError(
            f"'{name}' is a {entry.task} model; fine-tuning needs a chat model as the base.",
            key="errors.finetune.base_not_chat", name=name, task=entry.task,
        )  # fmt: skip
    if entry.base:
        raise InputError(
            f"'{name}' is itself an adapter; pick its base model '{entry.base}' instead.",
            key="errors.finetune.base_is_adapter", name=name, base=entry.base,
        )  # fmt: skip
    return entry


def _device_of(where, entry: ModelEntry) -> str:
    from playground.device import resolve_device

    return resolve_device(_config_of(where).resolve_device(entry))


def resolve_base(where, name: str) -> tuple[ModelEntry, str, str]:
    """(entry, local weights folder, device) of a base model, downloading its weights if needed."""
    from playground.loaders.hub import local_source

    entry = _base_entry(where, name)
    source = local_source(entry, _config_of(where).base_dir)
    return entry, source, _device_of(where, entry)


@dataclass
class BaseFiles:
    """What a plan reads of a base model: a folder with its config and tokenizer, no weights."""

    entry: ModelEntry
    folder: str
    device: str
    weight_bytes: int  # of its safetensors weights, local or as the Hub lists them


def base_files(where, name: str) -> BaseFiles:
    """A base model's config and tokenizer files (fetched alone when not local) and device."""
    from playground.loaders.hub import config_source

    entry = _base_entry(where, name)
    folder, weight_bytes = config_source(entry, _config_of(where).base_dir)
    if not (Path(folder) / "config.json").exists():
        raise InputError(
            f"'{name}' ({entry.source}) has no config.json; it cannot be fine-tuned.",
            key="errors.finetune.base_no_config", name=name, source=entry.source,
        )  # fmt: skip
    return BaseFiles(entry, folder, _device_of(where, entry), weight_bytes)


@functools.lru_cache(maxsize=4)
def load_tokenizer(source: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(
            f"the tokenizer in {source} has no chat template; pick an instruct/chat model as the base.",
            key="errors.finetune.base_no_chat_template", source=source,
        )  # fmt: skip
    return tokenizer


@functools.lru_cache(maxsize=4)
def model_shape(source: str, weight_bytes: int | None = None) -> dict[str, int]:
    """Parameter count and sizes from config.json (no weights loaded).

    ``weight_bytes``: the weights' size when they are not in ``source`` (default:
    the ``*.safetensors`` files there).
    """
    data = json.loads((Path(source) / "config.json").read_text())
    data = data.get("text_config", data)
    hidden = int(data.get("hidden_size") or data.get("n_embd") or 1024)
    layers = int(data.get("num_hidden_layers") or data.get("n_layer") or 24)
    vocab = int(data.get("vocab_size") or 32000)
    inter = int(data.get("intermediate_size") or 4 * hidden)
    params = layers * (4 * hidden * hidden + 3 * hidden * inter) + vocab * hidden * (
        1 if data.get("tie_word_embeddings", True) else 2
    )
    if weight_bytes is None:
        weight_bytes = sum(p.stat().st_size for p in Path(source).glob("*.safetensors"))
    return {
        "hidden": hidden,
        "layers": layers,
        "vocab": vocab,
        "params": params,
        "weight_bytes": weight_bytes,
        "context": int(data.get("max_position_embeddings") or 2048),
    }
