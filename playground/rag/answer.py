"""Answer a question from retrieved chunks, with numbered citations.

The prompt puts each retrieved chunk between ``<source id="N">`` delimiters
and asks the chat model to cite them as [N]. When no chunk is relevant enough
(see ``default_threshold``) the answer says the documents do not contain it,
without asking the model to guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from playground.rag.index import Hit
from playground.rag.text import has_cjk

PROMPTS = Path(__file__).with_name("prompts.yaml")
# Cosine similarity below which a chunk is "not about the question", for
# embedding models whose entry sets no ``options.relevance_threshold``.
DEFAULT_MIN_RELEVANCE = 0.25
# Same for a cross-encoder reranker's probability.
DEFAULT_MIN_RERANK = 0.05
CITATION_RE = re.compile(r"\[(\d{1,3})\]")


@lru_cache(maxsize=1)
def prompts() -> dict[str, dict[str, str]]:
    return yaml.safe_load(PROMPTS.read_text(encoding="utf-8"))


def language_of(text: str) -> str:
    return "zh" if has_cjk(text) else "en"


def message(key: str, question: str = "") -> str:
    """A fixed answer (``not_found``, ``empty``) in the question's language."""
    return prompts()[language_of(question)][key]


def default_threshold(registry: Any, embedding: str, reranker: str | None = None) -> float:
    """The relevance threshold from the model's entry (``options.relevance_threshold``)."""
    name, fallback = (
        (reranker, DEFAULT_MIN_RERANK) if reranker else (embedding, DEFAULT_MIN_RELEVANCE)
    )
    try:
        value = registry.entry(name).options.get("relevance_threshold")
    except Exception:  # an ad-hoc model folder: no entry options
        value = None
    return float(value) if value is not None else fallback


def relevant(hits: list[Hit], threshold: float) -> list[Hit]:
    """The hits at or above the threshold."""
    return [h for h in hits if h.relevance >= threshold]


def format_sources(hits: list[Hit]) -> str:
    blocks = []
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        attrs = f'id="{n}" file="{c.source}"'
        if c.page is not None:
            attrs += f' page="{c.page}"'
        if c.heading:
            attrs += f' section="{c.heading}"'
        blocks.append(f"<source {attrs}>\n{c.text.strip()}\n</source>")
    return "\n\n".join(blocks)


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    """Chat messages for the model: rules in the system prompt, sources + question after."""
    p = prompts()[language_of(question)]
    return [
        {"role": "system", "content": p["system"]},
        {
            "role": "user",
            "content": p["user"].format(sources=format_sources(hits), question=question),
        },
    ]


def citations(answer: str, n_sources: int) -> tuple[list[int], list[int]]:
    """``(valid, invalid)`` source numbers cited in ``answer``, in order of first use."""
    valid: list[int] = []
    invalid: list[int] = []
    for match in CITATION_RE.finditer(answer):
        number = int(match.group(1))
        bucket = valid if 1 <= number <= n_sources else invalid
        if number not in bucket:
            bucket.append(number)
    return valid, invalid


@dataclass
class Answer:
    """A (partial) answer: text so far, the sources it may cite, and whether any were relevant."""

    text: str
    hits: list[Hit] = field(default_factory=list)
    found: bool = True
    done: bool = False
    reasoning: str = ""  # a thinking model's <think> part: shown apart, never the answer


def answer_stream(
    registry: Any,
    model: str,
    question: str,
    hits: list[Hit],
    *,
    threshold: float,
    settings: Any = None,
    stop: Any = None,
) -> Iterator[Answer]:
    """Stream the answer from ``model``; only relevant hits are given to it."""
    usable = relevant(hits, threshold)
    if not usable:
        yield Answer(message("not_found", question), hits, found=False, done=True)
        return
    from playground.chat import stream_chat
    from playground.chat.reasoning import split_reasoning

    reply = split_reasoning("")
    for text in stream_chat(registry, model, build_messages(question, usable), settings, stop=stop):
        reply = split_reasoning(text)
        yield Answer(reply.answer, usable, reasoning=reply.reasoning)
    yield Answer(reply.answer, usable, done=True, reasoning=reply.reasoning)
