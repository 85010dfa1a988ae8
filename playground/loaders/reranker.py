"""Cross-encoder rerankers (sentence-transformers ``CrossEncoder``)."""

from __future__ import annotations

from playground.config import ModelEntry
from playground.loaders import loader
from playground.loaders.hub import local_source


@loader("reranker")
def load(entry: ModelEntry, ctx):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(
        local_source(entry, ctx.base_dir),
        device=ctx.device,
        local_files_only=True,
        **entry.options.get("init", {}),
    )
