"""Speech recognition (Whisper and friends) through the transformers pipeline."""

from __future__ import annotations

from playground.config import ModelEntry
from playground.device import resolve_dtype
from playground.loaders import loader
from playground.loaders.hub import local_source


@loader("speech-recognition")
def load(entry: ModelEntry, ctx):
    from transformers import pipeline

    return pipeline(
        "automatic-speech-recognition",
        model=local_source(entry, ctx.base_dir),
        dtype=resolve_dtype(ctx.dtype, ctx.device),
        device=ctx.device,
        **entry.options.get("init", {}),
    )
