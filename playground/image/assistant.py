"""The prompt assistant: a plain description (Chinese or English) -> prompt + negative prompt.

The chat model is asked with the Chat tab's ``sd-prompt`` role, which answers
in two lines::

    Prompt: masterpiece, best quality, a cat on a windowsill, sunset light
    Negative Prompt: lowres, blurry, watermark

``parse_reply`` reads that (and the usual variations: bold labels, Chinese
labels, full-width colons, code fences, a label on its own line). A reply
that ignores the format is not lost: the whole text becomes the prompt and
``followed_format`` is False, so the UI can say "check it before generating".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playground.errors import DependencyError, InputError, PlaygroundError

ROLE_ID = "sd-prompt"
# Used only when the chat engine's role library cannot be read.
FALLBACK_SYSTEM_PROMPT = (
    "You write prompts for Stable Diffusion. Turn the user's description (in any language) "
    "into an English, comma-separated list of tags: subject, details, style, lighting, "
    "quality tags. Answer in exactly two lines and nothing else:\n"
    "Prompt: <the prompt>\nNegative Prompt: <what to avoid>"
)

_LABEL = r"[*_#\s>`-]*{names}[*_\s`]*[:：][*_\s`]*"
_NEGATIVE = re.compile(
    _LABEL.format(names=r"(?:negative[ _-]?prompt|反向提示词|负面提示词|负向提示词|反面提示词)"),
    re.I,
)
_POSITIVE = re.compile(
    _LABEL.format(names=r"(?:(?<![a-z])(?:positive[ _-]?)?prompt|正向提示词|正面提示词|提示词)"),
    re.I,
)
_FENCE = re.compile(r"^```[\w-]*\s*$|^```\s*$", re.M)


@dataclass
class PromptSuggestion:
    prompt: str
    negative_prompt: str
    followed_format: bool
    raw: str = ""


def _clean(text: str) -> str:
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")
    text = _FENCE.sub("", text).strip()
    text = text.strip("*_` \n")
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'“”":
        text = text[1:-1]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def parse_reply(reply: str) -> PromptSuggestion:
    """Split a chat reply into prompt and negative prompt (see the module docstring)."""
    from playground.chat.reasoning import strip_reasoning

    raw = reply or ""
    # A thinking model's reasoning is not the prompt: only its answer is parsed.
    text = _FENCE.sub("", strip_reasoning(raw))
    negative_match = _NEGATIVE.search(text)
    head = text[: negative_match.start()] if negative_match else text
    negative = _clean(text[negative_match.end() :]) if negative_match else ""
    positive_match = _POSITIVE.search(head)
    prompt = _clean(head[positive_match.end() :] if positive_match else head)
    followed = bool(positive_match) and bool(prompt)
    return PromptSuggestion(
        prompt=prompt, negative_prompt=negative, followed_format=followed, raw=raw
    )


def suggest_prompt(
    description: str,
    complete: Callable[[list[dict[str, str]]], str],
    system_prompt: str = FALLBACK_SYSTEM_PROMPT,
    *,
    role: Any = None,
) -> PromptSuggestion:
    """Ask ``complete(messages) -> reply`` for a prompt and parse its answer.

    With a chat ``role`` (``playground.chat.Role``) the messages are built by the
    role (its system prompt, examples and input delimiters); otherwise they are
    ``system_prompt`` plus the description.
    """
    if not description or not description.strip():
        raise InputError(
            "describe the picture first (one sentence is enough, in Chinese or English).",
            key="errors.image.describe_first",
        )
    user = {"role": "user", "content": description.strip()}
    if role is not None:
        messages = role.messages([user])
    else:
        messages = [{"role": "system", "content": system_prompt}, user]
    reply = complete(messages)
    suggestion = parse_reply(reply)
    if not suggestion.prompt and not suggestion.negative_prompt:
        raise PlaygroundError(
            "the chat model returned an empty answer. Try again, or pick a bigger chat model.",
            key="errors.image.assistant_empty",
        )
    return suggestion


def assist(
    registry: Any, chat_model: str, description: str, settings: Any = None
) -> PromptSuggestion:
    """``suggest_prompt`` through the chat engine, with the ``sd-prompt`` role."""
    try:
        from playground import chat
    except ImportError as exc:
        raise DependencyError(
            f"the prompt assistant needs the chat engine (playground.chat), which is not "
            f"available ({exc}). Write the prompt by hand.",
            key="errors.image.assistant_unavailable",
            detail=str(exc),
        ) from exc
    try:
        role = chat.load_role(ROLE_ID)
    except PlaygroundError:
        role = None  # the role library lacks it: fall back to our short instructions

    def complete(messages: list[dict[str, str]]) -> str:
        return chat.complete(registry, chat_model, messages, settings)

    return suggest_prompt(description, complete, role=role)
