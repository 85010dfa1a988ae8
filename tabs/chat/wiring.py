"""The Chat tab's events: each panel's components connected to their handlers."""

from __future__ import annotations

import gradio as gr

from playground.chat.messages import plain_history
from tabs.chat import handlers, roles
from tabs.chat.layout import BuilderPanel, ChatPanel, GenerationPanel, PromptPanel
from tabs.common import AppContext, bind

PRIVATE = {"api_visibility": "private"}
INSTANT = {"api_visibility": "private", "queue": False}  # a UI-only change, no queue


def wire_roles(ctx: AppContext, chat: ChatPanel, builder: BuilderPanel) -> None:
    """The role builder and the role pickers: pick, edit, save, export, import, delete."""
    fields = builder.sections.in_order()
    gr.on([f.change for f in fields], roles.assemble, fields, [builder.assembled, builder.state],
          **INSTANT)  # fmt: skip
    picked = [chat.role_pick, chat.role_lang, ctx.client_id]
    pick_role = bind(roles.pick_role, ctx)  # one function: both events share its queue
    shown = [*fields, chat.chatbot, chat.notice]
    chat.role_pick.input(pick_role, picked, shown, **PRIVATE, **ctx.light)
    chat.role_lang.input(pick_role, picked, shown, **PRIVATE, **ctx.light).then(
        bind(roles.refresh_roles, ctx), [chat.role_lang, ctx.client_id],
        [chat.role_pick, chat.role_b], **PRIVATE,
    )  # fmt: skip
    builder.save.click(
        bind(roles.save_role, ctx), [builder.state, chat.role_lang, ctx.client_id],
        [chat.role_pick, chat.role_b], api_name="chat_save_role", **ctx.light,
    )  # fmt: skip
    builder.export.click(bind(roles.export_role, ctx), [builder.state, ctx.client_id],
                         builder.card, api_name="chat_export_role", **ctx.light)  # fmt: skip
    changed = [chat.role_pick, chat.role_b, *fields, chat.chatbot]
    card = [builder.upload, chat.role_lang, ctx.client_id]
    builder.upload.upload(bind(roles.import_role, ctx), card, changed, **PRIVATE, **ctx.light)
    builder.delete.click(bind(roles.delete_role, ctx), picked, changed, **PRIVATE, **ctx.light)


def wire_replies(
    ctx: AppContext, chat: ChatPanel, generation: GenerationPanel, builder: BuilderPanel,
    prompts: PromptPanel,
) -> list:  # fmt: skip
    """Send, regenerate, stop, edit and clear; returns the events that change chat A."""
    settings = [  # what the chat endpoints take after the conversation
        chat.model, *generation.in_order(), chat.compare, chat.model_b, chat.role_b,
        chat.chatbot_b, builder.state, chat.role_lang, ctx.client_id, chat.think,
    ]  # fmt: skip
    outputs = [chat.chatbot, chat.chatbot_b, chat.notice, prompts.prompt_a, prompts.prompt_b]
    send_outputs = [*outputs[:2], chat.message, *outputs[2:]]
    inputs = [chat.message, chat.chatbot, *settings]
    send = bind(handlers.chat, ctx)
    send_event = chat.send.click(send, inputs, send_outputs, api_name="chat", **ctx.chat)
    submit_event = chat.message.submit(send, inputs, send_outputs, **PRIVATE, **ctx.chat)
    regenerate = bind(handlers.regenerate, ctx)
    regen_event = chat.regenerate.click(regenerate, [chat.chatbot, *settings], outputs,
                                        api_name="chat_regenerate", **ctx.chat)  # fmt: skip
    # Setting the event ends generation within a token and keeps the partial reply;
    # cancelling also drops a reply still waiting in the queue.
    chat.stop.click(handlers.stop_reply, None, None, api_name="chat_stop",
                    cancels=[send_event, submit_event, regen_event], **ctx.light)  # fmt: skip
    both = [chat.chatbot, chat.chatbot_b]
    edit_event = chat.edit_last.click(handlers.edit_last, both, [*both, chat.message], **INSTANT)
    clear_event = chat.clear.click(
        bind(handlers.clear, ctx), [builder.state, chat.role_b, chat.role_lang, ctx.client_id],
        outputs, api_name="chat_clear", **ctx.light,  # queued: after a stopped reply's last update
    )  # fmt: skip
    return [send_event, submit_event, regen_event, edit_event, clear_event]


def wire_compare(ctx: AppContext, chat: ChatPanel, prompts: PromptPanel) -> None:
    """Compare mode: show the B side, and greet in the B role when it is picked."""
    side_b = [chat.compare_row, chat.chatbot_b, prompts.prompt_b]
    chat.compare.change(handlers.show_compare, chat.compare, side_b, **INSTANT)
    chat.role_b.input(bind(roles.pick_role_b, ctx), [chat.role_b, chat.role_lang, ctx.client_id],
                      chat.chatbot_b, **INSTANT)  # fmt: skip


def wire_page(ctx: AppContext, chat: ChatPanel, changes: list) -> None:
    """Keep chat A in the browser (a page refresh must not lose it) and restore it on load."""
    saved = gr.BrowserState([], storage_key="aigc-playground-chat")
    for event in changes:
        event.then(plain_history, chat.chatbot, saved, **INSTANT)
    root = gr.context.Context.root_block
    if root is not None:
        root.load(bind(handlers.on_page_load, ctx), [saved, chat.role_lang, ctx.client_id],
                  [chat.chatbot, chat.role_pick, chat.role_b, chat.model, chat.model_b],
                  **INSTANT)  # fmt: skip


def wire_defaults(ctx: AppContext, chat: ChatPanel, generation: GenerationPanel) -> None:
    """A model change, or the reset button, puts that model's sampling defaults back."""
    defaults = bind(handlers.model_defaults, ctx)  # one function: both events share it
    sliders = generation.in_order()[:-1]  # the seed stays as it is
    chat.model.change(defaults, chat.model, sliders, **INSTANT)
    generation.reset.click(defaults, chat.model, sliders, **INSTANT)
