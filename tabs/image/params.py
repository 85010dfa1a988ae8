"""The Image tab's other handlers: parameters back from a PNG or the history, prompts written.

A PNG made here carries its parameters; these handlers put them back into the form
(``ImageTab.fields``), or fill the prompt boxes from a description or a chat reply.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.chat.messages import last_assistant_text
from playground.errors import InputError
from playground.image import (
    ImageParams,
    format_parameters,
    parse_reply,
    read_parameters,
    schedulers,
)
from playground.image.assistant import assist
from playground.users import visible_entry
from tabs.common import AppContext, ui_errors
from tabs.i18n import tr
from tabs.identity import current_user

FIELD_COUNT = 10  # model, prompt, negative, five settings, seed, batch: ImageTab.fields


def form_updates(
    ctx: AppContext, params: ImageParams, request: gr.Request | None
) -> tuple[list[Any], str]:
    """The form's values from a PNG's parameters (the batch size is kept), and a note."""
    notes = []
    if params.model in ctx.registry.names("text-to-image"):
        model = params.model
    else:
        model = gr.skip()
        if params.model:
            notes.append(tr("image.unknown_model", request, model=params.model))
    sampler = params.sampler
    if sampler not in schedulers.all_names():
        notes.append(tr("image.unknown_sampler", request, sampler=sampler))
        sampler = schedulers.DEFAULT
    values = [
        model,
        params.prompt,
        params.negative_prompt,
        params.width,
        params.height,
        params.steps,
        params.guidance,
        sampler,
        params.seed,
        gr.skip(),
    ]
    return values, "\n".join([tr("image.params_loaded", request), *notes])


@ui_errors
def from_png(ctx: AppContext, path: str | None, request: gr.Request = None):
    """Read the generation parameters (prompt, seed, steps, ...) stored in a PNG."""
    if not path:
        return [gr.skip()] * FIELD_COUNT + [""]
    values, note = form_updates(ctx, read_parameters(path), request)
    return [*values, note]


def history_select(paths: list[str], evt: gr.SelectData):
    """The picked history image's parameters as text, and its path for "use"."""
    if evt.index is None or evt.index >= len(paths):
        return "", None
    try:
        params = read_parameters(paths[evt.index])
    except InputError as exc:  # not a PNG of ours: say so where its parameters would be
        return str(exc), None
    return f"```\n{format_parameters(params)}\n```", paths[evt.index]


@ui_errors
def use_history(ctx: AppContext, selected: str | None, request: gr.Request = None):
    """The picked history image's parameters into the form."""
    if not selected:
        raise gr.Error(tr("image.pick_history", request))
    values, _ = form_updates(ctx, read_parameters(selected), request)
    return values


@ui_errors
def write_prompt(
    ctx: AppContext, description: str, chat_model: str, client_id=None, request: gr.Request = None
):
    """Turn a plain description (Chinese or English) into a Stable Diffusion prompt.

    Args:
        description: what the picture should show, in any language.
        chat_model: the chat model that writes the prompt.

    Returns:
        The prompt, the negative prompt and a note.
    """
    if not chat_model:
        raise gr.Error(tr("image.no_chat_model", request))
    visible_entry(ctx.registry, current_user(request, client_id), chat_model)
    suggestion = assist(ctx.registry, chat_model, description)
    key = "image.assistant_ok" if suggestion.followed_format else "image.assistant_loose"
    return suggestion.prompt, suggestion.negative_prompt, tr(key, request)


def from_chat(ctx: AppContext, history: list[dict[str, Any]] | None, request: gr.Request = None):
    """The chat's last reply (e.g. from the sd-prompt role) as prompt and negative prompt."""
    reply = last_assistant_text(history)
    if not reply:
        raise gr.Error(tr("image.no_reply", request))
    suggestion = parse_reply(reply)
    values = [suggestion.prompt, suggestion.negative_prompt]
    return values if ctx.tabs is None else [*values, gr.Tabs(selected="image")]
