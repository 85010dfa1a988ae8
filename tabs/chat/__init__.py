"""The Chat tab: talk to a role on any chat model, build roles, compare two models.

UI only: every reply comes from ``playground.chat`` (which never imports
gradio). The role builder's sections are the source of truth for the role in
use, so an edit changes the very next reply -- the point of the tab is to see
how each part of a prompt changes the answer.

Modules: ``layout`` (panels), ``roles`` (role builder and pickers), ``reply``
(a reply's options and streams, compare mode), ``handlers`` (the events'
functions), ``wiring`` (events).
"""

from __future__ import annotations

import gradio as gr

from playground.chat import GenerationSettings, load_role
from tabs.chat.handlers import chat, model_choices, refresh_models, regenerate
from tabs.chat.layout import builder_panel, chat_panel, generation_panel, prompt_panel
from tabs.chat.reply import ReplyOptions, reply_options, stats_line
from tabs.chat.roles import DEFAULT_ROLE, USER_PREFIX, builder_values, greeting, role_from_builder
from tabs.chat.wiring import wire_compare, wire_defaults, wire_page, wire_replies, wire_roles
from tabs.common import AppContext

__all__ = [
    "DEFAULT_ROLE", "USER_PREFIX", "ReplyOptions", "build", "builder_values", "chat",
    "greeting", "model_choices", "refresh_models", "regenerate", "reply_options",
    "role_from_builder", "stats_line",
]  # fmt: skip


def build(ctx: AppContext) -> None:
    registry = ctx.registry
    choices = model_choices(registry)
    first_model = choices[0][1] if choices else None
    default_role = load_role(DEFAULT_ROLE)
    defaults = (
        GenerationSettings.for_model(registry, first_model) if first_model else GenerationSettings()
    )
    gr.Markdown(ctx.t("chat.intro"))
    with gr.Row():
        with gr.Column(scale=3):
            panel = chat_panel(ctx, choices, first_model, default_role)
        with gr.Column(scale=2):
            generation = generation_panel(ctx, defaults)
            builder = builder_panel(ctx, default_role)
            prompts = prompt_panel(ctx)
    ctx.shared.update(
        {
            "chat.model": panel.model,
            "chat.model_b": panel.model_b,
            "chat.compare": panel.compare,
            "chat.chatbot": panel.chatbot,
            "chat.actions": panel.actions,
            "chat.refresh_models": lambda owner=None: refresh_models(registry, owner),
            "chat.role_state": builder.state,
        }
    )
    wire_roles(ctx, panel, builder)
    changes = wire_replies(ctx, panel, generation, builder, prompts)
    wire_compare(ctx, panel, prompts)
    wire_page(ctx, panel, changes)
    wire_defaults(ctx, panel, generation)
    from tabs import agents  # the Agents panel: its own module, shown in this tab

    agents.build(ctx)
