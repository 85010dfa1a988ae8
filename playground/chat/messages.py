"""Reading a chat transcript as the UI hands it back (messages format).

Gradio's Chatbot returns each message as a dict (or a message object) whose
``content`` is a string, a list of parts or a dict. Chat, Image ("from chat"),
Voice ("Speak") and Agents all read it through these helpers.
"""

from __future__ import annotations

from typing import Any

from playground.chat.reasoning import is_reasoning_message, strip_reasoning


def _field(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, dict) else getattr(message, name, None)


def message_text(message: Any) -> str:
    """The text of one message, whatever shape its ``content`` has."""
    content = _field(message, "content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def message_role(message: Any) -> str | None:
    return _field(message, "role")


def plain_history(history: list[Any] | None) -> list[dict[str, str]]:
    """The conversation for the model: text only, folded reasoning blocks left out."""
    return [
        {"role": message_role(m), "content": message_text(m)}
        for m in history or []
        if message_role(m) in ("user", "assistant") and not is_reasoning_message(m)
    ]


def last_assistant_text(messages: list[Any] | None) -> str:
    """The last assistant answer, reasoning left out (folded blocks and ``<think>`` parts)."""
    for message in reversed(messages or []):
        if message_role(message) == "assistant" and not is_reasoning_message(message):
            return strip_reasoning(message_text(message).strip())
    return ""
