"""Chunks that carry meaning: a character budget, overlap, and exact page citations.

A document is cut as one text (its sections joined), so a heading-only section
or a short page is merged into its neighbours instead of becoming a fragment
of its own. Cut points are chosen by preference: the start of a new heading
section, a paragraph break, the end of a sentence (English ``. ! ? ;`` and
Chinese ``。！？；``), a clause mark (``，、：``), a line break, a space, and
only as a last resort between two characters.

The budget is in characters with a CJK character counted twice: 1,000 units
are about 1,000 characters of English or 500 of Chinese -- the sizes common
practice uses for each (LangChain's 1000-character default; 400-600 characters
for Chinese, whose characters carry about as much as an English word). The
default overlap is 15%.

A chunk that spans pages records the page of each part (``parts``), so a
citation of a phrase inside it names the page the phrase is on. Each chunk is
an exact slice of the document text: ``doc.text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from playground.errors import InputError
from playground.rag.parsing import ParsedDocument
from playground.rag.text import CJK

DEFAULT_CHUNK_SIZE = 1000  # characters of English, a CJK character counts 2 (~500 of Chinese)
DEFAULT_OVERLAP = 150  # 15% of the chunk
MIN_CHUNK_SIZE = 100
# A chunk is cut at the best break in the last fifth of its budget: chunks stay close to
# the target size. Cutting anywhere past half (fragments of 500-1000 characters) lost
# 2 of 55 English questions from BM25's top 5 and 0.07 MRR in benchmarks/rag_quality.py.
FILL = 0.8

# A cut point's strength: higher is a better place to cut.
HEADING, PARAGRAPH, SENTENCE, CLAUSE, LINE, SPACE = 6, 5, 4, 3, 2, 1
_CUTS = [
    (PARAGRAPH, re.compile(r"\n[ \t]*\n\s*")),
    (SENTENCE, re.compile(r"(?:[.!?;][\"'”’)）]*\s+|[。！？；][\"'”’)）」』]*\s*)")),
    (CLAUSE, re.compile(rf"(?:[，、：]|[,:](?=\s|[{CJK}]))\s*")),
    (LINE, re.compile(r"\n\s*")),
    (SPACE, re.compile(r"\s+")),
]
_CJK_RE = re.compile(rf"[{CJK}]")


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut: ``chunk_size`` and ``overlap`` in characters (CJK count 2)."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    overlap: int = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        if self.chunk_size < MIN_CHUNK_SIZE:
            raise InputError(
                f"chunk size {self.chunk_size} is too small; use at least {MIN_CHUNK_SIZE} "
                "characters (1000 is a good default).",
                key="errors.rag.chunk_too_small",
                size=self.chunk_size,
                minimum=MIN_CHUNK_SIZE,
            )
        if not 0 <= self.overlap < self.chunk_size // 2:
            limit = self.chunk_size // 2 - 1
            raise InputError(
                f"overlap {self.overlap} must be between 0 and half the chunk size ({limit}).",
                key="errors.rag.bad_overlap",
                overlap=self.overlap,
                limit=limit,
            )


@dataclass
class Chunk:
    """A piece of a document, with where it came from.

    ``page`` is the page most of the chunk is on; ``parts`` lists
    ``[offset in text, page]`` for each page the chunk touches (empty when the
    document has no pages), so ``page_at`` cites the exact page of a phrase.
    """

    text: str
    source: str  # the file's base name
    doc_id: str
    page: int | None
    heading: str
    start: int  # character offsets in ParsedDocument.text
    end: int
    size: int  # budget units: characters, a CJK character counting 2
    parts: list[list[int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        data = dict(data)
        if "tokens" in data:  # collections written before sizes were in characters
            data["size"] = data.pop("tokens")
        return cls(**data)

    @property
    def pages(self) -> list[int]:
        return [p for _, p in self.parts] or ([self.page] if self.page is not None else [])

    def page_at(self, offset: int) -> int | None:
        """The page of the character at ``offset`` in ``text``."""
        page = self.page
        for start, number in self.parts:
            if start <= offset:
                page = number
        return page


def weights(text: str) -> np.ndarray:
    """Budget units of each character: 2 for CJK, 1 for everything else."""
    out = np.ones(len(text), dtype=np.int64)
    for match in _CJK_RE.finditer(text):
        out[match.start()] = 2
    return out


def size_of(text: str) -> int:
    return len(text) + len(_CJK_RE.findall(text))


def chunk_document(
    doc: ParsedDocument, doc_id: str, settings: ChunkSettings | None = None
) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ``settings.chunk_size`` units."""
    settings = settings or ChunkSettings()
    text = doc.text
    starts = np.asarray(doc.offsets, dtype=np.int64)
    headings = [s.heading for s in doc.sections]
    # A new heading is the best place to cut; a page break is only as good as a paragraph
    # break (sentences run on across pages).
    section_cuts = {
        int(start): HEADING if headings[i] != headings[i - 1] else PARAGRAPH
        for i, start in enumerate(starts)
        if i
    }
    chunks = []
    for start, end, size in split_spans(text, settings.chunk_size, settings.overlap, section_cuts):
        first = int(np.searchsorted(starts, start, side="right")) - 1
        last = int(np.searchsorted(starts, end - 1, side="right")) - 1
        spread = range(first, last + 1)
        share = [min(end, _section_end(doc, i)) - max(start, int(starts[i])) for i in spread]
        main = spread[int(np.argmax(share))]
        section = doc.sections[main]
        parts = []
        if section.page is not None:
            for i in spread:
                page = doc.sections[i].page
                if page is not None and (not parts or parts[-1][1] != page):
                    parts.append([max(0, int(starts[i]) - start), page])
        chunks.append(
            Chunk(
                text[start:end],
                doc.name,
                doc_id,
                section.page,
                section.heading,
                start,
                end,
                size,
                parts if len(parts) > 1 else [],
            )  # fmt: skip
        )
    return chunks


def _section_end(doc: ParsedDocument, i: int) -> int:
    return doc.offsets[i] + len(doc.sections[i].text)


def split_spans(
    text: str, size: int, overlap: int, extra_cuts: dict[int, int] | None = None
) -> list[tuple[int, int, int]]:
    """``(start, end, units)`` spans covering ``text``, each at most ``size`` units.

    Consecutive spans share about ``overlap`` units, the shared part starting at
    a sentence (else a word) boundary. ``extra_cuts`` adds ``{position: strength}``.
    """
    if not text.strip():
        return []
    cum = np.concatenate([[0], np.cumsum(weights(text))])
    cuts = _cut_points(text, extra_cuts or {})
    out = []
    pos, n = _skip_space(text, 0), len(text)
    while pos < n:
        if cum[n] - cum[pos] <= size:
            end = n
        else:
            limit = int(np.searchsorted(cum, cum[pos] + size, side="right")) - 1
            floor = int(np.searchsorted(cum, cum[pos] + size * FILL))
            end = _best_cut(cuts, floor, limit)
        a, b = _strip(text, pos, end)
        if b > a:
            out.append((a, b, int(cum[b] - cum[a])))
        if end >= n:
            break
        back = int(np.searchsorted(cum, cum[end] - overlap)) if overlap else end
        pos = _overlap_start(cuts, max(back, pos + 1), end) if overlap else _skip_space(text, end)
    return out


def _cut_points(text: str, extra: dict[int, int]) -> dict[int, np.ndarray]:
    """Sorted positions (just after each separator) where a cut of each strength may fall."""
    found: dict[int, set[int]] = {level: set() for level, _ in _CUTS}
    for level, pattern in _CUTS:
        found[level].update(m.end() for m in pattern.finditer(text))
    found[HEADING] = set()
    for position, level in extra.items():
        found[level].add(position)
    return {level: np.array(sorted(p), dtype=np.int64) for level, p in found.items()}


def _best_cut(cuts: dict[int, np.ndarray], floor: int, limit: int) -> int:
    """The last cut in ``[floor, limit]`` of the highest strength found."""
    for level in sorted(cuts, reverse=True):
        points = cuts[level]
        i = int(np.searchsorted(points, limit, side="right")) - 1
        if i >= 0 and points[i] >= floor:
            return int(points[i])
    return max(limit, floor)


def _overlap_start(cuts: dict[int, np.ndarray], lo: int, end: int) -> int:
    """Start the overlap at the earliest sentence (else clause, line, word) boundary in it."""
    for level in (SENTENCE, CLAUSE, LINE, SPACE):
        points = cuts[level]
        i = int(np.searchsorted(points, lo))
        if i < len(points) and points[i] < end:
            return int(points[i])
    return lo


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b
