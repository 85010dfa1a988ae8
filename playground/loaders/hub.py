"""Find a model's files: a local folder, the Hugging Face cache, or a download.

Every loader goes through ``local_source`` so that an offline machine gets one
clear message (how to fetch the weights, or point ``source:`` at a folder)
instead of a long network traceback.
"""

from __future__ import annotations

import os
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


def local_source(entry: ModelEntry, base_dir: Path | None = None) -> str:
    """A local folder with the entry's files, downloading them when online."""
    path = entry.local_path(base_dir)
    if path is not None:
        return str(path)
    source = entry.source or ""
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise ModelLoadError(
            f"'{entry.name}': source folder '{source}' does not exist. Fix the path in the "
            "models file, or use a Hugging Face repo id such as Qwen/Qwen2.5-0.5B-Instruct."
        )
    cached = cached_snapshot(entry)
    if cached is not None:
        return str(cached)
    return str(_download(entry))


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


def _ignore(entry: ModelEntry) -> list[str]:
    return list(entry.options.get("ignore_patterns", IGNORE_PATTERNS))


def _download(entry: ModelEntry) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = entry.source
    rev = f" --revision {entry.revision}" if entry.revision else ""
    fetch = f"hf download {repo}{rev}"
    try:
        return Path(
            snapshot_download(
                repo,
                revision=entry.revision,
                allow_patterns=entry.options.get("allow_patterns"),
                ignore_patterns=_ignore(entry),
            )
        )
    except GatedRepoError:
        raise ModelLoadError(
            f"'{entry.name}': {repo} is gated. Accept its licence on huggingface.co, then log in "
            "with `hf auth login` (or set HF_TOKEN) and try again."
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"'{entry.name}': the Hub has no repo '{repo}' (or it is private). Check the spelling "
            "of source: in the models file, or log in with `hf auth login`."
        ) from None
    except RevisionNotFoundError:
        raise ModelLoadError(
            f"'{entry.name}': {repo} has no revision '{entry.revision}'. Fix revision: in the "
            "models file."
        ) from None
    except Exception as exc:  # offline: LocalEntryNotFoundError, httpx errors, OSError...
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")
        reason = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub cannot be reached"
        raise ModelLoadError(
            f"'{entry.name}': {repo} is not in the local Hugging Face cache and {reason} "
            f"({type(exc).__name__}). On a machine with internet run `{fetch}` to fetch it "
            "into the cache, or download it anywhere and set source: to that local folder "
            "in the models file."
        ) from None
