"""The Image tab's events: which handler each control runs, with what inputs and outputs."""

from __future__ import annotations

import gradio as gr

from tabs.common import AppContext, bind, prefetch
from tabs.image.generate import (
    STOPS,
    cancel_generation,
    generate,
    image_history,
    model_settings,
    random_seed,
    reuse_seed,
)
from tabs.image.layout import ImageTab
from tabs.image.params import from_chat, from_png, history_select, use_history, write_prompt


def wire_history(ctx: AppContext, tab: ImageTab) -> None:
    history = tab.history
    refresh = bind(image_history, ctx)
    for trigger in (history.refresh.click, history.accordion.expand):
        trigger(refresh, ctx.client_id, history.listing, api_visibility="private", **ctx.light)


def wire_settings(ctx: AppContext, tab: ImageTab) -> None:
    settings = tab.settings
    # `.input`, not `.change`: loading parameters from a PNG sets the model without a reset.
    tab.model.input(
        bind(model_settings, ctx),
        tab.model,
        settings.model_settings,
        api_visibility="private",
        **ctx.light,
    )
    settings.reuse.click(
        reuse_seed, settings.last_seed, settings.seed, api_visibility="private", queue=False
    )
    settings.random_seed.click(
        random_seed, None, settings.seed, api_visibility="private", queue=False
    )


def wire_generate(ctx: AppContext, tab: ImageTab) -> None:
    """Generate (streaming progress and previews), Cancel, and the history refresh after."""
    run, refresh = bind(generate, ctx), bind(image_history, ctx)
    inputs = [*tab.fields, ctx.client_id]
    history = [ctx.client_id, tab.history.listing]
    # A first download streams into the status in a light step; then the device slot.
    fetch_first = prefetch(ctx, image_model, STOPS)  # arms Cancel at the click
    fetches = []
    for trigger, api in ((tab.go.click, {"api_name": "image_generate"}),
                         (tab.prompt.submit, {"api_visibility": "private"})):  # fmt: skip
        fetch = trigger(fetch_first, tab.model, tab.result.status, api_visibility="private",
                        **ctx.light)  # fmt: skip
        fetch.success(run, inputs, tab.outputs, **api, **ctx.heavy).then(
            refresh, *history, api_visibility="private"
        )
        fetches.append(fetch)
    tab.stop.click(
        bind(cancel_generation, ctx),
        ctx.client_id,
        None,  # a toast: the status line is the run's own (see cancel_generation)
        cancels=fetches,  # a download still running: the generation does not start
        api_visibility="private",
        **ctx.light,  # queued, so that its toast can reach the page
    )


def image_model(ctx: AppContext, model: str | None) -> list[str]:
    """The model Generate needs downloaded."""
    return [model or ""]


def wire_prompt_sources(ctx: AppContext, tab: ImageTab) -> None:
    """The prompt assistant, parameters from a dropped PNG or the history."""
    assistant = tab.assistant
    assistant.button.click(
        bind(write_prompt, ctx),
        [assistant.description, assistant.chat_model, ctx.client_id],
        [tab.prompt, tab.negative, assistant.note],
        api_name="image_prompt_assistant",
        **ctx.chat,
    )
    tab.send_back.png.upload(
        bind(from_png, ctx),
        tab.send_back.png,
        [*tab.fields, tab.send_back.note],
        api_name="image_read_parameters",
        **ctx.light,
    )
    history = tab.history
    history.gallery.select(
        history_select,
        history.paths,
        [history.details, history.selected],
        api_visibility="private",
    )
    history.use.click(
        bind(use_history, ctx), history.selected, tab.fields, api_visibility="private", **ctx.light
    )


def wire_chat_button(ctx: AppContext, tab: ImageTab) -> None:
    """A button under the chat: send the last reply (e.g. from the sd-prompt role) here."""
    actions, chatbot = ctx.shared.get("chat.actions"), ctx.shared.get("chat.chatbot")
    if actions is None or chatbot is None:
        return
    with actions:
        button = gr.Button(ctx.t("image.from_chat"), size="sm")
    outputs = [tab.prompt, tab.negative] + ([] if ctx.tabs is None else [ctx.tabs])
    button.click(bind(from_chat, ctx), chatbot, outputs, api_visibility="private", queue=False)
