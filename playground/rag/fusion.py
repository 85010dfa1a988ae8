"""Combining dense and keyword results: weighted, normalised scores.

Each retriever's candidate scores are normalised to [0, 1] -- the best
candidate 1, the list's floor 0 (its worst candidate, or a score every
non-match has: 0 for BM25); a candidate missing from a list gets 0 there --
and summed with per-retriever weights (Weaviate's "relative score fusion"). Unlike
reciprocal rank fusion, this keeps how far apart the scores are: a confident
first place stays ahead of an item that is mediocre in both lists.

The weights use what is known about the embedding model. When the query's
language is not one the model was trained on, its vectors are close to noise
and the dense list gets no weight, so an English-only embedder cannot drag
Chinese search below keyword search. Measured with ``benchmarks/rag_quality.py``
(all-MiniLM-L6-v2, licence texts + PDF manuals, Debian FAQ in Chinese; see
``DENSE_WEIGHT``). ``rrf`` stays for callers that only have ranks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

RRF_K = 60
# Share of the dense list when the model knows the query's language. all-MiniLM-L6-v2 on
# 55 English questions (benchmarks/rag_quality.py --sweep): dense alone 0.709 recall@5 /
# 0.538 MRR@5, keyword alone 0.818 / 0.686; hybrid at 0.05: 0.855 / 0.682, 0.1: 0.836 / 0.691,
# 0.15: 0.836 / 0.688, 0.2: 0.873 / 0.672, 0.3-0.5 lower MRR still. 0.1 is where both
# figures are at least those of each part. (Chosen on that question set: see the README.)
DENSE_WEIGHT = 0.1
# Share of the dense list for a language the model was not trained on: all-MiniLM-L6-v2
# on 33 Chinese questions found 0.33 recall@5 alone against keyword search's 0.97, and
# weights from 0.3 up pulled hybrid below keyword-only. Zero: such a list is noise.
FOREIGN_DENSE_WEIGHT = 0.0


def dense_weight(model_covers_language: bool) -> float:
    return DENSE_WEIGHT if model_covers_language else FOREIGN_DENSE_WEIGHT


def normalise(scores: Sequence[float], floor: float | None = None) -> np.ndarray:
    """Scale to [0, 1] between ``floor`` (default: the lowest score) and the best score.

    A list whose scores are all equal (and above the floor) scores 1 everywhere.
    """
    values = np.asarray(scores, dtype="float64")
    if values.size == 0:
        return values
    low = values.min() if floor is None else min(floor, values.min())
    high = values.max()
    return np.ones_like(values) if high - low < 1e-12 else (values - low) / (high - low)


Ranked = tuple[Sequence[Hashable], Sequence[float], float, "float | None"]


def weighted_fusion(lists: Sequence[Ranked]) -> list[tuple[Hashable, float]]:
    """Fuse ``(items best first, their scores, weight, floor)`` lists into ``[(item, score)]``.

    The fused score is the weighted sum of normalised scores, divided by the
    total weight (an item first in every weighted list scores 1.0). Ties are
    broken by the best rank reached in any list, then list order.
    """
    fused: dict[Hashable, float] = {}
    best: dict[Hashable, tuple[int, int]] = {}
    total = sum(w for _, _, w, _ in lists if w > 0) or 1.0
    for list_no, (items, scores, weight, floor) in enumerate(lists):
        if weight <= 0:
            continue
        values = normalise(scores, floor)
        for rank, (item, value) in enumerate(zip(items, values, strict=True), 1):
            fused[item] = fused.get(item, 0.0) + weight * float(value) / total
            best[item] = min(best.get(item, (rank, list_no)), (rank, list_no))
    order = sorted(fused, key=lambda item: (-fused[item], best[item]))
    return [(item, fused[item]) for item in order]


def rrf(rankings: Sequence[Sequence[Hashable]], k: int = RRF_K) -> list[tuple[Hashable, float]]:
    """Reciprocal rank fusion of ranked lists (best first) into ``[(item, score)]``.

    Scores are divided by the best possible one, so an item ranked first by
    every list scores 1.0. Ties: best rank reached, then list order.
    """
    scores: dict[Hashable, float] = {}
    best: dict[Hashable, tuple[int, int]] = {}
    for list_no, ranking in enumerate(rankings):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best[item] = min(best.get(item, (rank, list_no)), (rank, list_no))
    top = max(1, len(rankings)) / (k + 1)
    order = sorted(scores, key=lambda item: (-scores[item], best[item]))
    return [(item, scores[item] / top) for item in order]
