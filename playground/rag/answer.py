"""Answer a question from retrieved chunks, with numbered citations.

The prompt puts each retrieved chunk between ``<source id="N" file=... page=...>``
delimiters (a short hit brings its neighbouring chunk along) and asks the chat
model to cite them as [N]. The sources are packed to fit the chat model's
context window: the best hits that fit are kept, the lowest-ranked dropped
first, and a single hit that is still too long is shortened. When no chunk is
relevant enough (see ``default_threshold``) the answer says the documents do
not contain it, without asking the model to guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from playground.errors import InputError
from playground.rag.index import Hit
from playground.rag.text import language_of

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


def page_label(pages: list[int]) -> str:
    """``"3"``, or ``"3-4"`` for a chunk that runs over a page break."""
    if not pages:
        return ""
    return str(pages[0]) if len(pages) == 1 else f"{pages[0]}-{pages[-1]}"


def format_sources(hits: list[Hit], limit: int | None = None) -> str:
    """The sources block; ``limit`` cuts the last source's text to that many characters."""
    blocks = []
    for n, hit in enumerate(hits, 1):
        c = hit.chunk
        pages = list(c.pages)
        text = c.text.strip()
        if hit.neighbour is not None:  # a short hit reads better with what follows it
            pages += [p for p in hit.neighbour.pages if p not in pages]
            text += "\n" + hit.neighbour.text.strip()
        if limit is not None and n == len(hits) and len(text) > limit:
            text = text[:limit].rstrip() + " …"
        attrs = f'id="{n}" file="{c.source}"'
        if pages:
            attrs += f' page="{page_label(sorted(pages))}"'
        if c.heading:
            attrs += f' section="{c.heading}"'
        blocks.append(f"<source {attrs}>\n{text}\n</source>")
    return "\n\n".join(blocks)


def build_messages(
    question: str, hits: list[Hit], limit: int | None = None
) -> list[dict[str, str]]:
    """Chat messages for the model: rules in the system prompt, sources + question after."""
    p = prompts()[language_of(question)]
    sources = format_sources(hits, limit)
    return [
        {"role": "system", "content": p["system"]},
        {"role": "user", "content": p["user"].format(sources=sources, question=question)},
    ]


@dataclass
class Packed:
    """The messages that fit the window, and how many of the hits made it in."""

    messages: list[dict[str, str]]
    used: list[Hit]
    offered: int
    shortened: bool = False
    window: int = 0

    def stats(self) -> str:
        text = f"{len(self.used)} of {self.offered} sources used"
        if len(self.used) < self.offered or self.shortened:
            text += f" (to fit the {self.window}-token context window"
            text += ", the last one shortened)" if self.shortened else ")"
        return text


def pack(question: str, hits: list[Hit], fits: Callable[[list[dict]], bool], window: int = 0):
    """Keep the best hits whose prompt ``fits``; drop from the lowest rank, then shorten.

    ``InputError`` when even the question with one shortened source does not fit.
    """
    kept = list(hits)
    while kept:
        messages = build_messages(question, kept)
        if fits(messages):
            return Packed(messages, kept, len(hits), window=window)
        if len(kept) == 1:
            break
        kept.pop()
    if not hits:
        return Packed(build_messages(question, []), [], 0, window=window)
    full = len(format_sources(hits[:1]))
    low, high = 0, full
    while low < high:  # the longest prefix of the best hit that still fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(build_messages(question, hits[:1], mid)) else (low, mid - 1)
    if low < 50:
        raise InputError(
            f"the question is too long for the chat model's context window ({window} tokens) "
            "even with one source; ask a shorter question, lower max new tokens, or pick a "
            "model with a larger window.",
            key="errors.rag.question_too_long",
            window=window,
        )
    return Packed(build_messages(question, hits[:1], low), hits[:1], len(hits), True, window)


def fit_to_model(registry: Any, model: str, question: str, hits: list[Hit], settings: Any = None):
    """``pack`` against ``model``'s real window: its tokenizer and chat template, or for
    an endpoint its ``options.context_window`` and a character estimate."""
    from playground.chat.prompt import count_tokens, render
    from playground.chat.settings import GenerationSettings

    settings = (settings or GenerationSettings.for_model(registry, model)).validated()
    entry = registry.entry(model)
    if entry.task == "endpoint":
        from playground.chat.remote import estimate_tokens

        window = int(entry.options.get("context_window") or 0)
        if not window:
            return pack(question, hits, lambda _: True)
        budget = window - settings.max_new_tokens
        return pack(question, hits,
                    lambda m: sum(estimate_tokens(x["content"]) + 4 for x in m) <= budget, window)  # fmt: skip
    from playground.chat.engine import apply_configured_template

    with registry.use(model) as chat_model:
        apply_configured_template(chat_model)
        tokenizer, window = chat_model.tokenizer, chat_model.context_window
        budget = window - settings.max_new_tokens
        return pack(question, hits,
                    lambda m: count_tokens(tokenizer, render(tokenizer, m)) <= budget, window)  # fmt: skip


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
    stats: str = ""  # e.g. "3 of 5 sources used (to fit the 2048-token context window)"


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
    """Stream the answer from ``model``; only relevant hits that fit its window are given."""
    usable = relevant(hits, threshold)
    if not usable:
        yield Answer(message("not_found", question), hits, found=False, done=True)
        return
    from playground.chat import stream_chat
    from playground.chat.reasoning import split_reasoning

    packed = fit_to_model(registry, model, question, usable, settings)
    used, stats = packed.used, packed.stats()
    reply = split_reasoning("")
    for text in stream_chat(registry, model, packed.messages, settings, stop=stop):
        reply = split_reasoning(text)
        yield Answer(reply.answer, used, reasoning=reply.reasoning, stats=stats)
    yield Answer(reply.answer, used, done=True, reasoning=reply.reasoning, stats=stats)
