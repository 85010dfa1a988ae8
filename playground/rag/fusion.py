"""Reciprocal rank fusion: combine rankings without comparing their scores.

BM25 scores and cosine similarities live on different scales; RRF only uses
each item's rank in each list: ``score(d) = sum 1 / (k + rank_i(d))``.
Scores here are divided by the best possible score, so an item ranked first by
every retriever scores 1.0.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

RRF_K = 60


def rrf(rankings: Sequence[Sequence[Hashable]], k: int = RRF_K) -> list[tuple[Hashable, float]]:
    """Fuse ranked lists (best first) into one ``[(item, score)]`` list, best first.

    Ties are broken by the best rank the item reached in any list, then by the
    order of the lists, so the result is deterministic.
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
