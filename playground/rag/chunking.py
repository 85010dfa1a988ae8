"""Structure-aware chunking with a token budget and overlap.

A document is cut inside its sections (a page, or the text under one heading),
never across them, so every chunk has one page and one heading path. Inside a
section the cut points are chosen by preference: paragraph breaks, then the
end of a sentence (English ``. ! ? ;`` and Chinese ``。！？；``), then a line
break, and only as a last resort between two tokens. Each chunk is an exact
slice of the document text: ``doc.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playground.errors import InputError
from playground.rag.parsing import ParsedDocument
from playground.rag.text import token_spans

DEFAULT_CHUNK_SIZE = 200  # tokens (see playground.rag.text): ~1000 characters of English
DEFAULT_OVERLAP = 40

SENTENCE_END = re.compile(r"(?:[.!?;](?=\s|$)|[。！？；]|[.!?;。！？；][\"'”’)）」』]+)")
# A cut point's strength: higher is a better place to cut.
PARAGRAPH, SENTENCE, LINE = 3, 2, 1


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut: ``chunk_size`` and ``overlap`` are in tokens."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    overlap: int = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        if self.chunk_size < 16:
            raise InputError(f"chunk size {self.chunk_size} is too small; use at least 16 tokens.")
        if not 0 <= self.overlap < self.chunk_size // 2:
            raise InputError(
                f"overlap {self.overlap} must be between 0 and half the chunk size "
                f"({self.chunk_size // 2 - 1})."
            )


@dataclass
class Chunk:
    """A piece of a document, with where it came from."""

    text: str
    source: str  # the file's base name
    doc_id: str
    page: int | None
    heading: str
    start: int  # character offsets in ParsedDocument.text
    end: int
    tokens: int

    def to_dict(self) -> dict:
        return dict(vars(self))


def chunk_document(
    doc: ParsedDocument, doc_id: str, settings: ChunkSettings | None = None
) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ``settings.chunk_size`` tokens."""
    settings = settings or ChunkSettings()
    text = doc.text
    chunks = []
    for section, offset in zip(doc.sections, doc.offsets, strict=True):
        for start, end, n in split_spans(section.text, settings.chunk_size, settings.overlap):
            chunks.append(
                Chunk(
                    text=text[offset + start : offset + end],
                    source=doc.name,
                    doc_id=doc_id,
                    page=section.page,
                    heading=section.heading,
                    start=offset + start,
                    end=offset + end,
                    tokens=n,
                )
            )
    return chunks


def split_spans(text: str, size: int, overlap: int) -> list[tuple[int, int, int]]:
    """``(start, end, tokens)`` character spans covering ``text``, each at most ``size`` tokens.

    Consecutive spans share about ``overlap`` tokens, starting at a sentence
    boundary where one falls inside the overlap window.
    """
    spans = token_spans(text)
    if not spans:
        return []
    strength = _cut_strengths(text, spans)
    out = []
    i, n = 0, len(spans)
    while i < n:
        j = _best_cut(strength, i, min(n, i + size), size) if i + size < n else n
        out.append((spans[i][0], spans[j - 1][1], j - i))
        if j >= n:
            break
        i = _overlap_start(strength, max(j - overlap, i + 1), j) if overlap else j
    return out


def _overlap_start(strength: list[int], lo: int, j: int) -> int:
    """Start the overlap on the earliest sentence (else line) boundary inside it."""
    for level in (SENTENCE, LINE):
        for k in range(lo, j):
            if strength[k] >= level:
                return k
    return lo


def _cut_strengths(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """``strength[k]``: how good it is to cut just before token k."""
    strength = [0] * (len(spans) + 1)
    sentence_ends = {m.end() for m in SENTENCE_END.finditer(text)}
    for k in range(1, len(spans)):
        prev_end, start = spans[k - 1][1], spans[k][0]
        gap = text[prev_end:start]
        if "\n\n" in gap or "\n \n" in gap:
            strength[k] = PARAGRAPH
        elif prev_end in sentence_ends or any(
            e in sentence_ends for e in range(prev_end, start + 1)
        ):
            strength[k] = SENTENCE
        elif "\n" in gap:
            strength[k] = LINE
    strength[len(spans)] = PARAGRAPH
    return strength


def _best_cut(strength: list[int], i: int, limit: int, size: int) -> int:
    """The cut in ``(i, limit]`` of the highest strength that still fills half the budget."""
    floor = i + max(1, size // 2)
    for level in (PARAGRAPH, SENTENCE, LINE):
        for k in range(limit, floor - 1, -1):
            if strength[k] >= level:
                return k
    return limit
