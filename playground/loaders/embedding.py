"""Sentence-embedding models (sentence-transformers), for document search."""

from __future__ import annotations

from playground.config import ModelEntry
from playground.loaders import loader
from playground.loaders.hub import local_source


@loader("embedding")
def load(entry: ModelEntry, ctx):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        local_source(entry, ctx.base_dir),
        device=ctx.device,
        local_files_only=True,
        **entry.options.get("init", {}),
    )
    max_len = entry.options.get("max_seq_length")
    if max_len:
        model.max_seq_length = int(max_len)
    return model
