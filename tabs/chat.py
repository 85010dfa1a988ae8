"""The chat tab (being built)."""

from __future__ import annotations

import gradio as gr

from tabs.common import AppContext


def build(ctx: AppContext) -> None:
    gr.Markdown("Coming soon.")
