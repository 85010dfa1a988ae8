"""Find a model's files: a local folder, the Hugging Face cache, or a download.

Every loader goes through ``local_source`` so that an offline machine gets one
clear message (how to fetch the weights, or point ``source:`` at a folder)
instead of a long network traceback. Downloads run in ``playground.downloads``
(progress, one download per repo, a message for each kind of failure).
"""

from __future__ import annotations

from pathlib import Path

from playground.config import ModelEntry
from playground.errors import ModelLoadError

# Formats the hub never loads; skipping them keeps downloads small.
IGNORE_PATTERNS = [
    "*.onnx",
    "*.onnx_data",
    "onnx/*",
    "openvino/*",
    "*.gguf",
    "*.msgpack",
    "*.h5",
    "*.ot",
    "*.tflite",
    "coreml/*",
    "flax_model*",
    "tf_model*",
    "rust_model*",
]
# What reading a model's shape and tokenizer needs: config, tokenizer, chat template.
CONFIG_PATTERNS = [
    "config.json",
    "generation_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.*",
    "merges.txt",
    "*.model",
    "*.tiktoken",
    "chat_template.*",
]


def local_source(entry: ModelEntry, base_dir: Path | None = None) -> str:
    """A local folder with the entry's files, downloading them when online."""
    path = entry.local_path(base_dir)
    if path is not None:
        return str(path)
    _check_hub_id(entry)
    cached = cached_snapshot(entry)
    if cached is not None:
        return str(cached)
    return str(_download(entry))


def config_source(entry: ModelEntry, base_dir: Path | None = None) -> tuple[str, int]:
    """A local folder with the entry's config and tokenizer files, and its weights' size in bytes.

    No weights are downloaded: a local folder or a cached snapshot is used as it is
    (weights: the ``*.safetensors`` there); otherwise only the ``CONFIG_PATTERNS``
    files are fetched, and the weights' size comes from the Hub's file list.
    """
    path = entry.local_path(base_dir)
    if path is None:
        _check_hub_id(entry)
        cached = cached_snapshot(entry)
        path = cached if cached is not None and (cached / "config.json").exists() else None
    if path is not None:
        return str(path), sum(p.stat().st_size for p in path.glob("*.safetensors"))
    from playground.downloads import fetch_files

    folder, sizes = fetch_files(entry, CONFIG_PATTERNS)
    weights = sum(
        size for name, size in sizes.items() if "/" not in name and name.endswith(".safetensors")
    )
    return str(folder), weights


def _check_hub_id(entry: ModelEntry) -> None:
    """Refuse a source that is neither an existing folder nor a Hub repo id."""
    source = entry.source or ""
    if not is_hub_id(source):
        raise ModelLoadError(
            f"'{entry.name}': source folder '{source}' does not exist. Fix the path in the "
            "models file, or use a Hugging Face repo id such as Qwen/Qwen2.5-0.5B-Instruct.",
            key="errors.loader.no_source_folder",
            name=entry.name,
            source=source,
        )


def is_hub_id(source: str) -> bool:
    """Whether a ``source:`` names a Hub repo ("owner/name") rather than a local folder."""
    return not source.startswith((".", "/", "~")) and source.count("/") == 1


def cached_snapshot(entry: ModelEntry) -> Path | None:
    """The cached snapshot folder of a Hub model, without touching the network."""
    if not entry.source or entry.local_path() is not None:
        return None
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                entry.source,
                revision=entry.revision,
                local_files_only=True,
                ignore_patterns=_ignore(entry),
            )
        )
    except Exception:  # not cached (or partially): the caller decides what to do
        return None


def ignore_patterns(entry: ModelEntry) -> list[str]:
    """File patterns never downloaded for this entry (formats the app does not load)."""
    return list(entry.options.get("ignore_patterns", IGNORE_PATTERNS))


_ignore = ignore_patterns


def _download(entry: ModelEntry) -> Path:
    """Download (or join the download of) the entry's files; progress in ``playground.downloads``."""
    from playground.downloads import DOWNLOADS

    return DOWNLOADS.wait(entry)
