"""What the Documents tab shows of an answer: highlighted source cards and linked citations."""

from __future__ import annotations

import html
import re

from playground.rag import citations
from playground.rag.text import keyword_tokens

CSS_SOURCES = (
    "<style>.rag-src{border:1px solid var(--border-color-primary);border-radius:8px;"
    "padding:8px 10px;margin:6px 0}.rag-src.unused{opacity:.6}.rag-meta{font-size:.85em;"
    "color:var(--body-text-color-subdued)}.rag-text{white-space:pre-wrap;margin-top:4px}"
    ".rag-src mark{background:#ffe58f;color:inherit;padding:0 1px}</style>"
)


def highlight(text: str, query: str) -> str:
    """HTML-escaped ``text`` with the query's keywords wrapped in ``<mark>``."""
    escaped = html.escape(text)
    words = sorted({w for w in keyword_tokens(query) if len(w) > 1 or not w.isascii()}, key=len)
    if not words:
        return escaped
    # Whole words for Latin script ("tea" not inside "steamed"); Chinese has no spaces.
    pattern = "|".join(
        rf"\b{re.escape(html.escape(w))}\b" if w.isascii() else re.escape(w)
        for w in reversed(words)
    )
    return re.sub(f"({pattern})", r"<mark>\1</mark>", escaped, flags=re.IGNORECASE)


def _where(chunk) -> str:
    """A passage's document, with its page when known."""
    return chunk.source + (f", page {chunk.page}" if chunk.page else "")


def link_citations(answer: str, hits) -> str:
    """Turn [n] into links to the n-th source card; flag numbers with no source."""
    valid, _ = citations(answer, len(hits))

    def link(match: re.Match) -> str:
        number = int(match.group(1))
        if number not in valid:
            return f"[{number}?]"
        where = _where(hits[number - 1].chunk)
        return f'[[{number}]](#rag-src-{number} "{html.escape(where)}")'

    return re.sub(r"\[(\d{1,3})\]", link, answer)


def sources_html(query: str, used: list, others: list | None = None) -> str:
    """Source cards: the numbered passages given to the model, then the unused ones."""
    if not used and not others:
        return ""
    cards = [CSS_SOURCES]
    for number, hit in enumerate(used, 1):
        cards.append(_card(query, hit, f"[{number}]", f"rag-src-{number}", ""))
    for hit in others or []:
        cards.append(_card(query, hit, "·", "", " unused"))
    return "".join(cards)


def _card(query: str, hit, label: str, anchor: str, extra: str) -> str:
    chunk = hit.chunk
    meta = [html.escape(chunk.source)]
    if chunk.page:
        meta.append(f"page {chunk.page}")
    if chunk.heading:
        meta.append(html.escape(chunk.heading))
    meta.append(f"score {hit.score:.3f}")
    meta.append(f"relevance {hit.relevance:.3f}")
    if extra:
        meta.append("below the relevance threshold")
    ident = f' id="{anchor}"' if anchor else ""
    return (
        f'<div class="rag-src{extra}"{ident}><b>{label}</b> '
        f'<span class="rag-meta">{" · ".join(meta)}</span>'
        f'<div class="rag-text">{highlight(chunk.text, query)}</div></div>'
    )


def context_text(hits) -> str:
    """The retrieved passages as the chat's reply (Ask with "context only", no model)."""
    parts = []
    for number, hit in enumerate(hits, 1):
        parts.append(
            f"**[{number}] {_where(hit.chunk)}** (relevance {hit.relevance:.2f})\n\n> "
            + " ".join(hit.chunk.text.split())
        )
    return "\n\n".join(parts)


def stats_html(stats: str) -> str:
    """How many sources the chat model's window took, above the source cards."""
    return f'<p class="rag-stats">{html.escape(stats)}</p>'
