"""A collection on disk: chunks, their vectors, a FAISS index and a BM25 index.

Layout of a collection folder::

    manifest.json   name, embedding model, chunk settings, documents
    chunks.jsonl    one chunk per line (text, source, page, heading, offsets)
    vectors.npy     float32 (n, dim), L2-normalised
    dense.faiss     exact inner-product index, or HNSW above HNSW_THRESHOLD chunks
    bm25/           bm25s keyword index (jieba for Chinese)

Every change writes a complete new folder next to the old one and swaps it in
(``playground.storage.replace_dir``): a crash mid-ingest leaves the previous
collection intact, and readers never see half a collection.

The search settings and hits are in ``playground.rag.search`` and the index
building in ``playground.rag.indexes`` (both re-exported here).
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from playground.errors import InputError
from playground.rag.chunking import Chunk, ChunkSettings
from playground.rag.embedder import Embedder, EmbeddingInfo
from playground.rag.fusion import dense_weight, weighted_fusion
from playground.rag.indexes import HNSW_EF_SEARCH, build_dense_index, build_keyword_index
from playground.rag.indexes import embedding_text as embedding_text  # re-exported
from playground.rag.search import MODES as MODES  # re-exported
from playground.rag.search import Hit, SearchSettings, rerank
from playground.rag.text import keyword_tokens, language_of
from playground.storage import atomic_write_bytes, atomic_write_json, atomic_write_text, replace_dir

log = logging.getLogger(__name__)

FORMAT = 2  # 2: chunk sizes in characters, chunks record the page of each part
CHUNK_UNIT = "chars"  # chunk sizes in characters, a CJK character counting 2
# A hit shorter than this (characters) is given to the chat model with its next chunk.
SHORT_HIT = 300
_LOCKS: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)


@dataclass
class DocumentInfo:
    id: str
    name: str
    sha256: str
    kind: str
    size: int
    pages: int | None
    chunks: int
    added: float = field(default_factory=time.time)


class Collection:
    """A searchable set of documents stored in one folder."""

    def __init__(
        self,
        path: Path,
        manifest: dict,
        chunks: list[Chunk],
        vectors: np.ndarray,
        dense: Any = None,
        bm25: Any = None,
    ) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors
        self._dense = dense
        self._bm25 = bm25

    # ------------------------------------------------------------ creating / opening

    @classmethod
    def create(
        cls,
        path: str | Path,
        embedding: EmbeddingInfo,
        *,
        name: str | None = None,
        chunking: ChunkSettings | None = None,
    ) -> Collection:
        """A new, empty collection (written to disk at once)."""
        path = Path(path)
        chunking = chunking or ChunkSettings()
        manifest = {
            "format": FORMAT,
            "name": name or path.name,
            "created": time.time(),
            "updated": time.time(),
            "embedding": embedding.to_dict(),
            "chunking": {
                "chunk_size": chunking.chunk_size,
                "overlap": chunking.overlap,
                "unit": CHUNK_UNIT,
            },
            "documents": [],
        }
        collection = cls(path, manifest, [], np.zeros((0, embedding.dimension), "float32"))
        with collection.lock:
            collection._commit(manifest, [], collection.vectors)
        return collection

    @classmethod
    def open(cls, path: str | Path) -> Collection:
        """Load a collection folder; ``InputError`` if it is not one."""
        path = Path(path)
        _recover(path)
        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            raise InputError(
                f"{path} is not a collection (no manifest.json). Create it with "
                "`playground rag index --collection DIR FILE...`.",
                key="errors.rag.not_a_collection",
                path=str(path),
            )
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format", 0) > FORMAT:
            raise InputError(
                f"{path} was written by a newer version of the playground; upgrade.",
                key="errors.rag.newer_collection",
                path=str(path),
            )
        with open(path / "chunks.jsonl", encoding="utf-8") as handle:
            chunks = [Chunk.from_dict(json.loads(line)) for line in handle if line.strip()]
        vectors = np.load(path / "vectors.npy")
        dense = _read_faiss(path / "dense.faiss") if chunks else None
        bm25 = _read_bm25(path / "bm25") if chunks else None
        return cls(path, manifest, chunks, vectors, dense, bm25)

    @classmethod
    def exists(cls, path: str | Path) -> bool:
        path = Path(path)
        _recover(path)
        return (path / "manifest.json").exists()

    # ------------------------------------------------------------ properties

    @property
    def lock(self) -> threading.RLock:
        return _LOCKS[str(self.path.resolve())]

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def embedding(self) -> EmbeddingInfo:
        return EmbeddingInfo.from_dict(self.manifest["embedding"])

    @property
    def chunking(self) -> ChunkSettings:
        recorded = self.manifest["chunking"]
        if recorded.get("unit") != CHUNK_UNIT:  # sizes in tokens, before format 2: use defaults
            return ChunkSettings()
        return ChunkSettings(recorded["chunk_size"], recorded["overlap"])

    @property
    def documents(self) -> list[DocumentInfo]:
        return [DocumentInfo(**d) for d in self.manifest["documents"]]

    def find_document(self, id_or_name: str) -> DocumentInfo:
        for doc in self.documents:
            if id_or_name in (doc.id, doc.name):
                return doc
        raise InputError(
            f"no document '{id_or_name}' in collection '{self.name}'.",
            key="errors.rag.no_document",
            document=id_or_name,
            collection=self.name,
        )

    def has_content(self, sha256: str) -> DocumentInfo | None:
        return next((d for d in self.documents if d.sha256 == sha256), None)

    # ------------------------------------------------------------ changing

    def add(self, docs: list[tuple[DocumentInfo, list[Chunk], np.ndarray]]) -> None:
        """Append documents with their chunks and vectors, then save atomically."""
        if not docs:
            return
        with self.lock:
            chunks = self.chunks + [c for _, cs, _ in docs for c in cs]
            vectors = np.vstack([self.vectors] + [v for _, _, v in docs]).astype("float32")
            manifest = dict(self.manifest)
            manifest["documents"] = self.manifest["documents"] + [vars(d) for d, _, _ in docs]
            self._commit(manifest, chunks, vectors)

    def remove_document(self, id_or_name: str) -> DocumentInfo:
        """Remove one document; the indexes are rebuilt without it (no re-embedding)."""
        with self.lock:
            doc = self.find_document(id_or_name)
            keep = [i for i, c in enumerate(self.chunks) if c.doc_id != doc.id]
            manifest = dict(self.manifest)
            manifest["documents"] = [d for d in self.manifest["documents"] if d["id"] != doc.id]
            self._commit(manifest, [self.chunks[i] for i in keep], self.vectors[keep])
            return doc

    def rename(self, new_name: str) -> None:
        new_name = new_name.strip()
        if not new_name:
            raise InputError("a collection name cannot be empty.", key="errors.rag.empty_name")
        with self.lock:
            manifest = dict(self.manifest, name=new_name, updated=time.time())
            atomic_write_json(self.path / "manifest.json", manifest)
            self.manifest = manifest

    def _commit(self, manifest: dict, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Build the indexes, write a complete new folder, swap it in, then update self."""
        manifest = dict(manifest, updated=time.time())
        dense = build_dense_index(vectors) if len(chunks) else None
        bm25 = build_keyword_index(chunks) if chunks else None
        staging = self.path.with_name(f".{self.path.name}.staging-{secrets.token_hex(4)}")
        staging.mkdir(parents=True)
        try:
            _write_chunks(staging / "chunks.jsonl", chunks)
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(vectors, dtype="float32"))
            atomic_write_bytes(staging / "vectors.npy", buffer.getvalue())
            if dense is not None:
                _write_faiss(dense, staging / "dense.faiss")
            if bm25 is not None:
                bm25.save(str(staging / "bm25"), show_progress=False)
            atomic_write_json(staging / "manifest.json", manifest)  # last: marks it complete
            replace_dir(staging, self.path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.manifest, self.chunks, self.vectors = manifest, chunks, vectors
        self._dense, self._bm25 = dense, bm25

    # ------------------------------------------------------------ searching

    def search(
        self,
        query: str,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        *,
        registry: Any = None,
    ) -> list[Hit]:
        """The ``settings.k`` best chunks for ``query``, best first."""
        settings = settings or SearchSettings()
        if not query.strip():
            raise InputError(
                "the question is empty; type a question first.", key="errors.rag.empty_question"
            )
        n = len(self.chunks)
        if n == 0:
            return []
        pool = min(n, max(settings.candidates, settings.k))
        qvec = embedder.embed_query(query)
        if qvec.shape[0] != self.vectors.shape[1]:
            raise InputError(
                f"the query vector has {qvec.shape[0]} dimensions but collection "
                f"'{self.name}' has {self.vectors.shape[1]}: a different embedding model.",
                key="errors.rag.dimension_mismatch",
                query=qvec.shape[0],
                collection=self.name,
                dimension=self.vectors.shape[1],
            )
        trusted = embedder.info.covers(language_of(query))
        dense, dense_scores = (
            self.dense_ranking(qvec, pool) if settings.mode != "keyword" else ([], [])
        )
        keyword, keyword_scores = (
            self.keyword_ranking(query, pool) if settings.mode != "dense" else ([], [])
        )
        if settings.mode == "hybrid":
            weight = dense_weight(trusted)
            fused = weighted_fusion(
                # Dense: scaled between the pool's worst and best; BM25: from 0, the score
                # of every chunk without a query word.
                [(dense, dense_scores, weight, None), (keyword, keyword_scores, 1 - weight, 0.0)]
            )
        elif settings.mode == "dense":
            fused = list(zip(dense, dense_scores, strict=True))
        else:
            fused = list(zip(keyword, keyword_scores, strict=True))
        keep = max(settings.k, settings.rerank_pool if settings.reranker else 0)
        hits = self._hits(fused[:keep], qvec, dense, keyword, keyword_scores, trusted)
        if settings.reranker:
            hits = rerank(registry, settings.reranker, query, hits)
        hits = hits[: settings.k]
        for rank, hit in enumerate(hits, 1):
            hit.rank = rank
        return hits

    def _hits(self, fused, qvec, dense, keyword, keyword_scores, trusted: bool) -> list[Hit]:
        """Hits for the fused ``(chunk index, score)`` list.

        Relevance is the cosine similarity, except for a query in a language the
        embedder does not know: there the keyword score relative to the best one.
        """
        dense_pos = {i: r for r, i in enumerate(dense, 1)}
        keyword_pos = {i: r for r, i in enumerate(keyword, 1)}
        top = max(keyword_scores, default=0.0) or 1.0
        by_keyword = {i: s / top for i, s in zip(keyword, keyword_scores, strict=True)}
        hits = []
        for i, score in fused:
            relevance = float(self.vectors[i] @ qvec) if trusted else by_keyword.get(i, 0.0)
            hits.append(
                Hit(
                    rank=0,
                    chunk=self.chunks[i],
                    score=float(score),
                    relevance=relevance,
                    dense_rank=dense_pos.get(i),
                    keyword_rank=keyword_pos.get(i),
                    neighbour=self._neighbour(i),
                )  # fmt: skip
            )
        return hits

    def _neighbour(self, i: int) -> Chunk | None:
        chunk = self.chunks[i]
        if len(chunk.text) >= SHORT_HIT:
            return None
        for j in (i + 1, i - 1):
            if 0 <= j < len(self.chunks) and self.chunks[j].doc_id == chunk.doc_id:
                return self.chunks[j]
        return None

    def dense_ranking(self, qvec: np.ndarray, pool: int) -> tuple[list[int], list[float]]:
        """The ``pool`` nearest chunk indexes, best first, and their cosine similarities."""
        if self._dense is None:
            self._dense = build_dense_index(self.vectors)
        scores, ids = self._dense.search(qvec[None, :].astype("float32"), pool)
        found = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        return [i for i, _ in found], [s for _, s in found]

    def keyword_ranking(self, query: str, pool: int) -> tuple[list[int], list[float]]:
        """The chunk indexes with a BM25 score above zero, best first, and their scores."""
        scores = self._bm25_scores(query)
        if scores is None:
            return [], []
        pool = min(pool, len(scores))
        top = np.argpartition(-scores, pool - 1)[:pool]
        top = top[np.argsort(-scores[top], kind="stable")]
        ids = [int(i) for i in top if scores[i] > 0]
        return ids, [float(scores[i]) for i in ids]

    def _bm25_scores(self, query: str) -> np.ndarray | None:
        if self._bm25 is None:
            self._bm25 = build_keyword_index(self.chunks)
        ids = self._bm25.get_tokens_ids(keyword_tokens(query))
        if not ids:
            return None
        return self._bm25.get_scores(ids)


def _write_chunks(path: Path, chunks: list[Chunk]) -> None:
    lines = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in chunks)
    atomic_write_text(path, lines)


def _write_faiss(index: Any, path: Path) -> None:
    import faiss

    atomic_write_bytes(path, faiss.serialize_index(index).tobytes())


def _read_faiss(path: Path) -> Any:
    import faiss

    index = faiss.deserialize_index(np.fromfile(path, dtype="uint8"))
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def _read_bm25(path: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(path), show_progress=False, verbosity=0)


def _recover(path: Path) -> None:
    """Finish a swap that a crash interrupted: put the previous version back."""
    old = path.with_name(f".{path.name}.old")
    if not path.exists() and old.exists():
        log.warning("restoring %s from %s after an interrupted write", path, old)
        os.replace(old, path)
