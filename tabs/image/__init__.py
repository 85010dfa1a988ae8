"""The Image tab: prompt (with an assistant), settings, live progress, gallery and history.

UI only: every action calls ``playground.image``. ``layout`` builds the panels,
``generate`` and ``params`` hold the handlers, ``wiring`` connects them.
"""

from __future__ import annotations

import gradio as gr

from playground.image import model_defaults
from tabs.common import AppContext
from tabs.image.generate import cancel_generation, generate, image_history, model_settings
from tabs.image.layout import ImageTab, image_tab
from tabs.image.params import from_chat, from_png, use_history, write_prompt
from tabs.image.wiring import (
    wire_chat_button,
    wire_generate,
    wire_history,
    wire_prompt_sources,
    wire_settings,
)

__all__ = [
    "ImageTab",
    "build",
    "cancel_generation",
    "from_chat",
    "from_png",
    "generate",
    "image_history",
    "model_settings",
    "use_history",
    "write_prompt",
]


def build(ctx: AppContext) -> None:
    names = ctx.registry.names("text-to-image")
    if not names:
        gr.Markdown(ctx.t("image.no_models"))
        return
    gr.Markdown(ctx.t("image.intro"))
    tab = image_tab(ctx, names, model_defaults(ctx.registry, names[0]))
    wire_history(ctx, tab)
    wire_settings(ctx, tab)
    wire_generate(ctx, tab)
    wire_prompt_sources(ctx, tab)
    wire_chat_button(ctx, tab)
