"""Add files to a collection: parse and chunk each file, embed all chunks, index once.

The chunks of every file are embedded in one call, sorted by length, so the
batches are full and evenly padded; the FAISS and BM25 indexes are built once
at the end. A file that cannot be used (unsupported, corrupted, scanned, not
text, too big) is reported by name and skipped; the others are still indexed. A file whose
content is already in the collection (same SHA-256) is not indexed twice.
All new documents are committed together at the end, atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playground.errors import InputError, PlaygroundError
from playground.rag.chunking import ChunkSettings, chunk_document
from playground.rag.embedder import Embedder
from playground.rag.index import Collection, DocumentInfo, embedding_text
from playground.rag.parsing import file_not_found, parse_file
from playground.storage import file_sha256

DEFAULT_MAX_FILE_MB = 100.0
# progress(fraction done 0..1, message)
Progress = Callable[[float, str], None]


@dataclass
class IngestReport:
    """What happened to each file."""

    added: list[DocumentInfo] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)
    duplicates: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return sum(d.pages or 0 for d in self.added)

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.added)

    def summary(self) -> str:
        text = (
            f"indexed {len(self.added)} file(s), {self.pages} page(s), {self.chunks} chunk(s) "
            f"in {self.seconds:.1f} s"
        )
        if self.duplicates:
            text += f"; {len(self.duplicates)} already in the collection"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


def open_or_create(
    path: str | Path,
    embedder: Embedder,
    *,
    name: str | None = None,
    chunking: ChunkSettings | None = None,
) -> Collection:
    """Open the collection at ``path``, or create it for ``embedder``'s model."""
    if Collection.exists(path):
        return Collection.open(path)
    return Collection.create(path, embedder.info, name=name, chunking=chunking)


def ingest(
    collection: Collection,
    files: Iterable[str | Path | tuple[str | Path, str]],
    embedder: Embedder,
    *,
    chunking: ChunkSettings | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    progress: Progress | None = None,
) -> IngestReport:
    """Index ``files`` (paths, or ``(path, display name)`` pairs) into ``collection``."""
    start = time.perf_counter()
    recorded = collection.embedding
    if recorded.name and not recorded.same_model(embedder.info):
        raise InputError(
            f"collection '{collection.name}' was built with the embedding model "
            f"'{recorded.name}', not '{embedder.info.name}'. Use the same model, or a new collection.",
            key="errors.rag.other_embedding_model",
            collection=collection.name,
            recorded=recorded.name,
            embedder=embedder.info.name,
        )
    chunking = chunking or collection.chunking
    items = [(Path(f[0]), f[1]) if isinstance(f, tuple) else (Path(f), Path(f).name) for f in files]
    report = IngestReport()
    parsed = _parse_all(items, collection, chunking, report, progress, max_file_mb)
    # All chunks of all files in one call: sorted by length across the whole upload,
    # so every batch is full and evenly padded (a file at a time leaves ragged batches).
    texts = [embedding_text(c) for _, chunks in parsed for c in chunks]

    def embedded(done: int, n: int) -> None:
        if progress:
            progress(0.3 + 0.65 * done / max(1, n), f"embedded {done}/{n} chunks")

    vectors = embedder.embed_documents(texts, progress=embedded)
    pending, row = [], 0
    for info, chunks in parsed:
        pending.append((info, chunks, vectors[row : row + len(chunks)]))
        row += len(chunks)
    if pending:
        if progress:
            progress(0.95, "saving the collection")
        collection.add(pending)
    report.seconds = time.perf_counter() - start
    return report


def _parse_all(
    items: list[tuple[Path, str]],
    collection: Collection,
    chunking: ChunkSettings,
    report: IngestReport,
    progress: Progress | None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
) -> list[tuple[DocumentInfo, list]]:
    """Parse and chunk each file; the ones that cannot be used go to ``report.skipped``."""
    out = []
    seen = {d.sha256 for d in collection.documents}
    for number, (path, name) in enumerate(items):
        if progress:
            progress(0.3 * number / max(1, len(items)), f"{name}: reading")
        try:
            _check_size(path, name, max_file_mb)
            digest = file_sha256(path) if path.is_file() else ""
            if digest and digest in seen:
                report.duplicates.append(name)
                continue
            doc = parse_file(path, name=name)
        except PlaygroundError as exc:
            report.skipped.append((name, str(exc)))
            continue
        doc_id = doc.sha256[:16]
        chunks = chunk_document(doc, doc_id, chunking)
        info = DocumentInfo(id=doc_id, name=name, sha256=doc.sha256, kind=doc.kind,
                            size=doc.size, pages=doc.pages, chunks=len(chunks))  # fmt: skip
        out.append((info, chunks))
        seen.add(doc.sha256)
        report.added.append(info)
    return out


def _check_size(path: Path, name: str, max_file_mb: float) -> None:
    if not path.is_file():
        raise file_not_found(name, path)
    size_mb = path.stat().st_size / 1e6
    if max_file_mb and size_mb > max_file_mb:
        raise InputError(
            f"{name}: {size_mb:.1f} MB is over the {max_file_mb:g} MB limit for one file. "
            "Split it, or raise the limit (--max-file-size).",
            key="errors.rag.file_too_big",
            name=name,
            size_mb=size_mb,
            max_file_mb=max_file_mb,
        )
