"""Ask your documents: parse, chunk, index (dense + BM25), search, answer with citations.

The engine behind the Documents tab and ``playground rag``. No gradio here;
torch, sentence-transformers, faiss, bm25s and jieba are imported only when used.
"""

from playground.rag.answer import (
    Answer,
    answer_stream,
    build_messages,
    citations,
    default_threshold,
    relevant,
)
from playground.rag.chunking import Chunk, ChunkSettings, chunk_document, split_spans
from playground.rag.embedder import Embedder, EmbeddingInfo, embedder_for
from playground.rag.fusion import rrf, weighted_fusion
from playground.rag.index import Collection, DocumentInfo, Hit, SearchSettings
from playground.rag.ingest import IngestReport, ingest, open_or_create
from playground.rag.parsing import ParsedDocument, Section, parse_file, supported_suffixes
from playground.rag.store import CollectionStore, CollectionSummary, load_cached

__all__ = [
    "Answer",
    "Chunk",
    "ChunkSettings",
    "Collection",
    "CollectionStore",
    "CollectionSummary",
    "DocumentInfo",
    "Embedder",
    "EmbeddingInfo",
    "Hit",
    "IngestReport",
    "ParsedDocument",
    "SearchSettings",
    "Section",
    "answer_stream",
    "build_messages",
    "chunk_document",
    "citations",
    "default_threshold",
    "embedder_for",
    "ingest",
    "load_cached",
    "open_or_create",
    "parse_file",
    "relevant",
    "rrf",
    "weighted_fusion",
    "split_spans",
    "supported_suffixes",
]
