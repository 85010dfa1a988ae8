"""The search indexes of a collection: FAISS for the vectors, BM25 for the keywords."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from playground.rag.chunking import Chunk
from playground.rag.text import keyword_tokens

HNSW_THRESHOLD = 20_000  # chunks; below it an exact index is both fast and exact
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128


def embedding_text(chunk: Chunk) -> str:
    """What gets embedded and keyword-indexed: the heading path gives a chunk its context."""
    return f"{chunk.heading}\n{chunk.text}" if chunk.heading else chunk.text


def build_dense_index(vectors: np.ndarray) -> Any:
    """Exact inner-product search for small collections, HNSW above ``HNSW_THRESHOLD``."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype="float32")
    dim = vectors.shape[1]
    if len(vectors) >= HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def build_keyword_index(chunks: list[Chunk]) -> Any:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

    tokens = [keyword_tokens(embedding_text(c)) or [""] for c in chunks]
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    return index
