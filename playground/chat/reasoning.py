"""A reply's visible reasoning (``<think>…</think>``) kept apart from its answer.

Thinking models (Qwen3 with ``enable_thinking``) write their reasoning first,
between ``<think>`` and ``</think>``, then the answer. The reasoning is shown
folded in the chat, but it is not the answer: it is never spoken, parsed as an
image prompt, sent back to the model as history, or cited as a Documents
answer. Every one of those consumers calls this module, so the rule lives in
one place.

Some templates open the ``<think>`` themselves (in the prompt), so a reply may
hold only the closing tag: everything before it is reasoning. A reply cut off
mid-thought (still streaming, or out of tokens) has reasoning and no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
# For ``gr.Chatbot(reasoning_tags=...)``: the same tags, so the UI folds what we strip.
REASONING_TAGS = [(THINK_OPEN, THINK_CLOSE)]
# The title Gradio gives the folded block it splits out of a message.
REASONING_TITLE = "Reasoning"


@dataclass(frozen=True)
class SplitReply:
    """A reply as ``reasoning`` (may be empty) and ``answer`` (may be empty)."""

    reasoning: str
    answer: str


def split_reasoning(text: str | None) -> SplitReply:
    """Separate the ``<think>`` blocks of ``text`` from its answer."""
    text = text or ""
    thoughts: list[str] = []
    answer: list[str] = []
    rest = text
    if THINK_CLOSE in rest and (
        THINK_OPEN not in rest or rest.find(THINK_CLOSE) < rest.find(THINK_OPEN)
    ):
        # The template opened the block: the reply starts inside it.
        head, rest = rest.split(THINK_CLOSE, 1)
        thoughts.append(head)
    while THINK_OPEN in rest:
        before, after = rest.split(THINK_OPEN, 1)
        answer.append(before)
        if THINK_CLOSE in after:
            thought, rest = after.split(THINK_CLOSE, 1)
        else:  # unfinished thought: all the rest is reasoning
            thought, rest = after, ""
        thoughts.append(thought)
    answer.append(rest)
    return SplitReply(
        reasoning="\n\n".join(t.strip() for t in thoughts if t.strip()),
        answer="".join(answer).strip(),
    )


def strip_reasoning(text: str | None) -> str:
    """Only the answer part of ``text`` (the whole text when it holds no reasoning)."""
    if not text or (THINK_OPEN not in text and THINK_CLOSE not in text):
        return text or ""
    return split_reasoning(text).answer


def is_reasoning_message(message: Any) -> bool:
    """Whether a chat message is a folded reasoning block (Gradio's ``metadata.title``)."""
    metadata = message.get("metadata") if isinstance(message, dict) else None
    metadata = metadata or getattr(message, "metadata", None) or {}
    title = (
        metadata.get("title") if isinstance(metadata, dict) else getattr(metadata, "title", None)
    )
    return title == REASONING_TITLE


def without_reasoning(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with reasoning blocks dropped and assistant texts cut to their answers."""
    out = []
    for message in messages:
        if is_reasoning_message(message):
            continue
        if message.get("role") == "assistant" and isinstance(message.get("content"), str):
            message = {**message, "content": strip_reasoning(message["content"])}
        out.append(message)
    return out
