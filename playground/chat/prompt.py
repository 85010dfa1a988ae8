"""From a conversation to the exact text a local model sees.

The chat template of the model's tokenizer turns messages into text; when the
conversation is longer than the model's context window allows, the oldest
turns are dropped first (the system prompt and the latest message are kept)
and the caller is told how many messages went.

Thinking models: ``enable_thinking`` goes to the chat template (Qwen3's
switch). Earlier replies' reasoning is never sent back (see
``playground.chat.reasoning``), and the room kept for the reply
(``max_new_tokens``) is shared by its reasoning and its answer, so a thinking
reply is trimmed against the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.chat.reasoning import strip_reasoning
from playground.errors import InputError

ROLES = ("system", "user", "assistant")


@dataclass
class PreparedPrompt:
    """What is actually sent: the kept messages, the rendered text, and its size."""

    messages: list[dict[str, str]]
    text: str
    prompt_tokens: int
    context_window: int
    dropped: int = 0  # messages left out to fit the context window (oldest first)
    input_ids: Any = field(default=None, repr=False)

    @property
    def trimmed(self) -> bool:
        return self.dropped > 0


def check_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Validate a conversation; return it as plain ``{role, content}`` dicts."""
    if not messages:
        raise InputError(
            "the conversation is empty: send at least one user message",
            key="errors.chat.empty_conversation",
        )
    clean = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise InputError(
                f"message #{i + 1} must be a dict with 'role' and 'content', got {message!r}",
                key="errors.chat.message_not_dict",
                number=i + 1,
                got=repr(message),
            )
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise InputError(
                f"message #{i + 1} has role '{role}'; allowed roles: {', '.join(ROLES)}",
                key="errors.chat.bad_message_role",
                number=i + 1,
                role=str(role),
                roles=", ".join(ROLES),
            )
        if not isinstance(content, str):
            raise InputError(
                f"message #{i + 1} content must be text, got {type(content).__name__}",
                key="errors.chat.content_not_text",
                number=i + 1,
                kind=type(content).__name__,
            )
        if role == "assistant":  # a past reply's reasoning is not part of the conversation
            content = strip_reasoning(content)
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] == "assistant":
        raise InputError(
            "the last message is the assistant's: add a user message to answer",
            key="errors.chat.last_is_assistant",
        )
    return clean


def require_chat_template(tokenizer: Any, model_name: str) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(
            f"'{model_name}' has no chat template, so it cannot hold a conversation (it is "
            "probably a base model, not an instruct/chat model). Pick a chat model such as "
            "Qwen2.5-0.5B-Instruct, or add options.chat_template to its models.yaml entry.",
            key="errors.chat.no_chat_template",
            model=model_name,
        )


def render(tokenizer: Any, messages: list[dict[str, str]], *, enable_thinking: bool = False) -> str:
    """The chat-template text for ``messages``, ending where the assistant speaks next.

    ``enable_thinking`` is handed to the template (templates without the switch ignore it).
    """
    try:
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking
        )
    except Exception as exc:  # jinja2 TemplateError: e.g. a template that has no system role
        if messages and messages[0]["role"] == "system" and "system" in str(exc).lower():
            return render(tokenizer, _fold_system(messages), enable_thinking=enable_thinking)
        raise InputError(
            f"the model's chat template rejected this conversation: {exc}",
            key="errors.chat.template_rejected",
            detail=str(exc),
        ) from exc


def _fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """For templates without a system role: put the system prompt into the first user turn."""
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for message in rest:
        if message["role"] == "user":
            message["content"] = f"{system}\n\n{message['content']}"
            break
    return rest


def count_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def prepare(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    *,
    context_window: int,
    max_new_tokens: int,
    model_name: str = "model",
    enable_thinking: bool = False,
) -> PreparedPrompt:
    """Render ``messages``; drop the oldest turns until prompt + reply fit the window.

    The reply's room, ``max_new_tokens``, covers its reasoning as well as its answer.
    """
    require_chat_template(tokenizer, model_name)
    messages = check_messages(messages)
    budget = context_window - max_new_tokens
    if budget <= 0:
        raise InputError(
            f"max new tokens ({max_new_tokens}) leaves no room for the prompt in "
            f"'{model_name}''s context window of {context_window} tokens; lower max new tokens",
            key="errors.chat.no_room_for_prompt",
            max_new_tokens=max_new_tokens,
            model=model_name,
            context_window=context_window,
        )
    kept = list(messages)
    dropped = 0
    while True:
        text = render(tokenizer, kept, enable_thinking=enable_thinking)
        tokens = count_tokens(tokenizer, text)
        if tokens <= budget:
            return PreparedPrompt(kept, text, tokens, context_window, dropped)
        kept, removed = drop_oldest_turn(kept)
        if not removed:
            raise InputError(
                f"the system prompt and your last message take {tokens} tokens, but "
                f"'{model_name}' has room for {budget} (context window {context_window} minus "
                f"{max_new_tokens} new tokens). Shorten the message or the role, or lower max "
                "new tokens.",
                key="errors.chat.prompt_too_long",
                tokens=tokens,
                model=model_name,
                budget=budget,
                context_window=context_window,
                max_new_tokens=max_new_tokens,
            )
        dropped += removed


def drop_oldest_turn(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], int]:
    """Remove the oldest exchange (a user message and the replies after it).

    Leading system messages and everything from the last user message on are kept.
    Returns the new list and how many messages were removed (0: nothing left to drop).
    """
    start = 0
    while start < len(messages) and messages[start]["role"] == "system":
        start += 1
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    if start >= last_user:
        return messages, 0
    end = start + 1
    while end < last_user and messages[end]["role"] != "user":
        end += 1
    return messages[:start] + messages[end:], end - start
