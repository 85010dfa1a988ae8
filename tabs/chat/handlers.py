"""The Chat tab's handlers: send, regenerate, stop, edit, clear, and the model lists.

Top-level functions whose first parameter is the app context (wired with
``tabs.common.bind``), so a test can call them directly.
"""

from __future__ import annotations

import gradio as gr

from playground.chat import GenerationSettings, Role
from playground.chat.messages import message_text
from playground.errors import InputError
from tabs.chat.layout import GENERATION_FIELDS
from tabs.chat.reply import STOPS, ReplyOptions, reply_options, stream_replies, strip_reply
from tabs.chat.roles import DEFAULT_ROLE, greeting, load_picked, role_choices, roles_dir
from tabs.common import (
    AppContext,
    fetch_models,
    owner_of,
    session_key,
    takes_settings,
    ui_errors,
)

CLEAR_WAIT_SECONDS = 10.0  # Clear waits this long for a stopped reply to send its last update


def model_choices(registry, owner: str | None = None) -> list[tuple[str, str]]:
    """Chat models, each followed by its fine-tuned LoRA adapters, then endpoints.

    Adapters a user trained are offered to that ``owner`` only.
    """
    entries = [e for e in registry.entries("chat", "endpoint") if e.visible_to(owner)]
    adapters = [e for e in entries if e.task == "chat" and e.base]
    choices = []
    for entry in entries:
        if entry.task != "chat" or entry.base:
            continue
        choices.append((entry.display, entry.name))
        for adapter in adapters:
            if adapter.base == entry.name:
                choices.append((f"  ↳ {adapter.display} (LoRA on {entry.name})", adapter.name))
    listed = {value for _, value in choices}
    for adapter in adapters:  # an adapter whose base is not a configured chat model
        if adapter.name not in listed:
            choices.append((f"{adapter.display} (LoRA on {adapter.base})", adapter.name))
    for entry in entries:
        if entry.task == "endpoint" and entry.serves == "chat":
            choices.append((f"{entry.display} (endpoint)", entry.name))
    return choices


def refresh_models(registry, owner: str | None = None) -> tuple[gr.Dropdown, gr.Dropdown]:
    """Updated choices for the A and B model dropdowns (after a fine-tune, say)."""
    choices = model_choices(registry, owner)
    return gr.Dropdown(choices=choices), gr.Dropdown(choices=choices)


@ui_errors
@takes_settings(reply_options, "options")
def chat(ctx: AppContext, message: str, history: list, options: ReplyOptions):
    """Send a message to the chat model in the current role and stream the reply.

    Yields the conversation (A, and B in compare mode) as the reply grows,
    then a note with tokens/s, time to first token and any history trimming,
    and the exact prompt text the model received.
    """
    if not (message or "").strip():
        raise InputError("type a message first", key="errors.tabs.type_message")
    user = {"role": "user", "content": message}
    history = [*(history or []), user]
    history_b = list(options.history_b or [])
    if options.compare:
        history_b.append(user)
    yield history, history_b, "", "", gr.skip(), gr.skip()
    # A model's first use downloads it: its progress shows in the note under the chat.
    models = [options.model, options.model_b if options.compare else None]
    for progress in fetch_models(ctx, [m for m in models if m], options.request):
        yield history, history_b, "", progress, gr.skip(), gr.skip()
    for out in stream_replies(ctx, history, history_b, options):
        yield *out[:2], gr.skip(), *out[2:]


@ui_errors
@takes_settings(reply_options, "options")
def regenerate(ctx: AppContext, history: list, options: ReplyOptions):
    """Answer the last message again (a new sample unless the seed is fixed)."""
    history = strip_reply(history)
    history_b = strip_reply(options.history_b) if options.compare else list(options.history_b or [])
    if not history or history[-1]["role"] != "user":
        raise InputError(
            "nothing to regenerate yet: send a message first",
            key="errors.tabs.nothing_to_regenerate",
        )
    yield from stream_replies(ctx, history, history_b, options)


def stop_reply(request: gr.Request):
    """Stop the reply being generated for this session; the partial reply is kept."""
    STOPS.stop(session_key(request))


@ui_errors
def edit_last(history: list, history_b: list, request: gr.Request = None):
    """Put the last user message back in the box, and drop it and its reply."""
    history = list(history or [])
    last = max((i for i, m in enumerate(history) if m["role"] == "user"), default=None)
    if last is None:
        raise InputError("there is no message to edit yet", key="errors.tabs.nothing_to_edit")
    text = message_text(history[last])
    last_b = max((i for i, m in enumerate(history_b or []) if m["role"] == "user"), default=None)
    kept_b = list(history_b or [])[:last_b] if last_b is not None else history_b
    return history[:last], kept_b, text


def clear(
    ctx: AppContext,
    role_state: dict,
    role_b_id: str = DEFAULT_ROLE,
    language: str = "en",
    client_id: str | None = None,
    request: gr.Request = None,
):
    """Start a new conversation: both chats go back to their roles' greetings.

    A reply still streaming is stopped first, and its last update is sent before
    this one, so it cannot bring the old conversation back.
    """
    STOPS.stop_and_wait(session_key(request), timeout=CLEAR_WAIT_SECONDS)
    role = Role.from_dict(role_state)
    role_b = load_picked(role_b_id, language, roles_dir(ctx, request, client_id))
    return greeting(role), greeting(role_b), "", "", ""


def show_compare(on: bool):
    """Show or hide the B model's row, conversation and prompt."""
    return gr.update(visible=on), gr.update(visible=on), gr.update(visible=on)


def on_page_load(
    ctx: AppContext, kept: list, language: str, client_id: str | None, request: gr.Request
):
    """Restore the conversation; list this user's roles and any new adapters."""
    roles = role_choices(roles_dir(ctx, request, client_id), language or "en")
    models = model_choices(ctx.registry, owner_of(request, client_id))
    return (
        kept or gr.skip(),
        gr.update(choices=roles),
        gr.update(choices=roles),
        gr.update(choices=models),
        gr.update(choices=models),
    )


@ui_errors
def model_defaults(ctx: AppContext, model: str | None):
    """The model's default sampling settings, for the sliders (the seed is left alone)."""
    registry = ctx.registry
    settings = GenerationSettings.for_model(registry, model) if model else GenerationSettings()
    return [getattr(settings, name) for name in GENERATION_FIELDS[:-1]]
