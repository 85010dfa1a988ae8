"""What a collection search asks for and returns, and the cross-encoder reranking of hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from playground.errors import InputError
from playground.rag.chunking import Chunk

MODES = ("hybrid", "dense", "keyword")


@dataclass
class SearchSettings:
    """How to search: hybrid (dense + BM25, weighted normalised scores), dense or keyword only."""

    k: int = 5
    mode: str = "hybrid"
    candidates: int = 50  # taken from each retriever before fusion
    reranker: str | None = None  # a reranker model name from the registry
    rerank_pool: int = 20

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            modes = ", ".join(MODES)
            raise InputError(
                f"search mode '{self.mode}' is unknown; use one of {modes}.",
                key="errors.rag.unknown_mode",
                mode=self.mode,
                modes=modes,
            )
        if self.k < 1:
            raise InputError(
                f"k must be at least 1, got {self.k}.", key="errors.rag.bad_k", value=self.k
            )


@dataclass
class Hit:
    """One retrieved chunk. ``score`` orders the hits; ``relevance`` is compared
    with the threshold (cosine similarity, or the reranker's probability)."""

    rank: int
    chunk: Chunk
    score: float
    relevance: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    # The next chunk of the same document, for a hit too short to stand on its own.
    neighbour: Chunk | None = None

    def to_json(self) -> dict:
        c = self.chunk
        return {"text": c.text, "source": c.source, "page": c.page, "score": round(self.score, 6)}


def rerank(registry: Any, name: str, query: str, hits: list[Hit]) -> list[Hit]:
    """Reorder hits with a cross-encoder; its probability becomes score and relevance."""
    if not hits:
        return hits
    if registry is None:
        raise InputError(
            "reranking needs the model registry.", key="errors.rag.rerank_without_registry"
        )
    with registry.use(name) as model:
        scores = np.asarray(
            model.predict([(query, h.chunk.text) for h in hits], show_progress_bar=False)
        )
    scores = scores.reshape(len(hits), -1)[:, -1].astype("float64")
    if scores.min() < 0 or scores.max() > 1:  # logits: squash to a probability
        scores = 1.0 / (1.0 + np.exp(-scores))
    for hit, score in zip(hits, scores, strict=True):
        hit.score = hit.relevance = float(score)
    return sorted(hits, key=lambda h: -h.score)
