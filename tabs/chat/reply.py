"""A reply to the conversation: what it needs (one ``ReplyOptions``) and its streams.

``reply_options`` holds the parameter list the chat and regenerate endpoints
share (written once; see ``tabs.common.takes_settings``). In compare mode
a second model answers the same message in its own role, side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from playground.chat import GenerationSettings, Role, load_role, merge_streams, stream_chat
from playground.chat.messages import plain_history
from playground.errors import InputError
from playground.users import visible_entry
from tabs.chat.roles import DEFAULT_ROLE, load_picked, roles_dir
from tabs.common import AppContext, StopFlags, session_key
from tabs.identity import current_user

# A Stop press must reach the running reply: one stop event per browser session.
STOPS = StopFlags()


@dataclass
class ReplyOptions:
    """Everything a reply needs besides the conversation: models, roles, sampling, who asks."""

    model: str
    settings: GenerationSettings
    compare: bool = False
    model_b: str | None = None
    role_b: str = DEFAULT_ROLE  # the B role picker's value
    history_b: list | None = None
    role_state: dict | None = None  # the role in use (A), as the builder holds it
    language: str = "en"
    client_id: str | None = None
    request: gr.Request | None = None


def reply_options(
    model: str,
    temperature: float = 0.7,
    top_p: float = 0.9,
    top_k: int = 50,
    repetition_penalty: float = 1.0,
    max_new_tokens: int = 256,
    seed: int | None = None,
    compare: bool = False,
    model_b: str | None = None,
    role_b: str = DEFAULT_ROLE,
    history_b: list | None = None,
    role_state: dict | None = None,
    language: str = "en",
    client_id: str | None = None,
    think: bool = False,
    request: gr.Request = None,
) -> ReplyOptions:
    """The chat endpoints' shared parameters as one value (``InputError`` if unusable)."""
    settings = GenerationSettings(
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        repetition_penalty=float(repetition_penalty),
        max_new_tokens=int(max_new_tokens),
        seed=None if seed in (None, "", -1) else int(seed),
        enable_thinking=bool(think),
    ).validated()
    role_state = role_state or load_role(DEFAULT_ROLE).to_dict()
    return ReplyOptions(
        model=model, settings=settings, compare=compare, model_b=model_b, role_b=role_b,
        history_b=history_b, role_state=role_state, language=language, client_id=client_id,
        request=request,
    )  # fmt: skip


def stats_line(info) -> str:
    """One reply's numbers: tokens, speed, time to first token, why it ended, any trimming."""
    parts = [f"**{info.model}**: {info.new_tokens} tokens"]
    if info.seconds:
        parts.append(f"{info.tokens_per_second:.1f} tokens/s")
    if info.first_token_seconds is not None:
        parts.append(f"first token {info.first_token_seconds:.2f} s")
    if info.finish_reason == "cancelled":
        parts.append("stopped")
    elif info.finish_reason == "length":
        parts.append("cut at max new tokens")
    if getattr(info, "path", ""):  # batched with other users, or plain generate and why
        parts.append(info.path)
    line = " · ".join(parts)
    if info.dropped:
        line += (
            f"\n\n⚠️ {info.dropped} oldest message(s) were left out to fit the "
            f"{info.context_window}-token context window (the system prompt is kept)."
        )
    return line


def strip_reply(history: list | None) -> list:
    """The conversation without its trailing assistant reply."""
    history = list(history or [])
    while history and history[-1]["role"] == "assistant":
        history.pop()
    return history


def _start_streams(ctx: AppContext, histories, roles: list[Role], options: ReplyOptions, stop):
    """Start the reply streams (A, and B in compare mode)."""
    if not options.model:
        raise InputError(
            "pick a model first (the Models tab lists what is configured)",
            key="errors.tabs.pick_model",
        )
    if options.compare and not options.model_b:
        raise InputError("compare mode: pick a second model (B)", key="errors.tabs.pick_model_b")
    models = [options.model, options.model_b] if options.compare else [options.model]
    return [
        stream_chat(
            ctx.registry, model, role.messages(plain_history(history)), options.settings, stop=stop
        )  # fmt: skip
        for model, role, history in zip(models, roles, histories, strict=False)
    ]


def stream_replies(ctx: AppContext, history: list, history_b: list, options: ReplyOptions):
    """Stream the replies to the last message.

    Yields both conversations, the notice (empty until the end: then the
    numbers of each reply) and each model's prompt (empty until it is known).
    """
    user = current_user(options.request, options.client_id)
    for name in (options.model, options.model_b) if options.compare else (options.model,):
        if name:  # another user's adapter fails exactly like a name that does not exist
            visible_entry(ctx.registry, user, name)
    folder = roles_dir(ctx, options.request, options.client_id)
    role = Role.from_dict(options.role_state)
    roles = [role, load_picked(options.role_b, options.language, folder)]
    with STOPS.running(session_key(options.request)) as stop:
        histories = [list(history), list(history_b)]
        streams = _start_streams(ctx, histories, roles, options, stop)
        for kept in histories[: len(streams)]:
            kept.append({"role": "assistant", "content": ""})
        for index, text in merge_streams(streams, stop):
            histories[index][-1]["content"] = text
            # Every output gets its current value, not gr.skip(): Gradio 6 rebuilds the
            # component (and its API schema) for each skip, on every token of every
            # user, where an unchanged value costs a diff of nothing.
            yield *histories, "", *shown_prompts(streams)
        # Still inside the flag's block: Clear waits for this last update (stop_and_wait).
        notice = "\n\n".join(stats_line(s.info) for s in streams)
        yield *histories, notice, *shown_prompts(streams)


def shown_prompts(streams: list) -> list[str]:
    """The prompt each side's model received ("" for a side not in use)."""
    return [s.info.prompt for s in streams] + [""] * (2 - len(streams))
