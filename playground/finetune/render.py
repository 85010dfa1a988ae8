"""Render records with the base model's own chat template, and mask the loss.

The loss is computed on the assistant's tokens only. Templates rarely carry
``{% generation %}`` markers, so the assistant spans are found by rendering
prefixes: the text of turns ``0..i-1`` plus the generation prompt ends where
assistant turn ``i`` starts, and the text of turns ``0..i`` ends where it
stops (its end-of-turn token included, so the model learns to stop). The full
text is tokenized once with character offsets and every token inside an
assistant span keeps its label; all others get -100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.errors import InputError

IGNORE_INDEX = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    full_length: int  # tokens before truncation

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.input_ids)

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def render(tokenizer: Any, messages: list[dict[str, str]], **kwargs: Any) -> str:
    """The chat template applied to ``messages`` as text (the same text Chat would send)."""
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(
            "the base model's tokenizer has no chat template, so conversations cannot be "
            "rendered the way Chat uses them; pick an instruct/chat model as the base.",
            key="errors.finetune.no_chat_template",
        )
    return tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)


def assistant_spans(
    tokenizer: Any, messages: list[dict[str, str]]
) -> tuple[str, list[tuple[int, int]]]:
    """The full rendered text and the character spans of every assistant turn in it."""
    full = render(tokenizer, messages)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[: i + 1])
        # Templates that rewrite earlier turns (for example dropping old reasoning) break
        # the prefix property for those turns; only turns that render stably are trained.
        if full.startswith(upto) and upto.startswith(before) and len(upto) > len(before):
            spans.append((len(before), len(upto)))
    if not spans:
        raise InputError(
            "the chat template renders this conversation in a way where no assistant reply "
            "can be located; try single-turn records.",
            key="errors.finetune.no_assistant_reply_found",
        )
    return full, spans


def encode(tokenizer: Any, messages: list[dict[str, str]], max_length: int) -> Encoded:
    """Token ids and labels (-100 outside assistant turns), truncated to ``max_length``."""
    text, spans = assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    labels = [
        token if _inside(start, end, spans) else IGNORE_INDEX
        for token, (start, end) in zip(ids, offsets, strict=True)
    ]
    return Encoded(ids[:max_length], labels[:max_length], len(ids))


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return end > start and any(s <= start and end <= e for s, e in spans)


def count_tokens(tokenizer: Any, messages: list[dict[str, str]]) -> int:
    return len(tokenizer(render(tokenizer, messages), add_special_tokens=False)["input_ids"])
