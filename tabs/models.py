"""The Models panel: every configured model, its state and memory, and Unload."""

from __future__ import annotations

import gradio as gr

from tabs.common import AppContext, ui_errors

HEADERS = ["name", "task", "state", "device", "memory", "in use", "source", "error"]


def status_rows(ctx: AppContext) -> list[list[str]]:
    return [
        [
            s.name,
            s.task,
            s.state,
            s.device or "-",
            s.memory,
            str(s.in_use),
            s.source,
            s.error or "",
        ]
        for s in ctx.registry.status()
    ]


def summary(ctx: AppContext) -> str:
    """How many models are loaded, and each device's use (and loads in flight) of its budget."""
    loaded = sum(1 for s in ctx.registry.status() if s.state == "loaded")
    devices = ctx.registry.memory()
    if not devices:  # no device chosen yet (finding the GPU would import torch at start-up)
        budget = ctx.registry.config.defaults.memory_budget
        share = "90% of GPU memory, 60% of RAM" if budget == "auto" else f"{budget} per device"
        return f"**{loaded}** loaded · nothing in memory yet · budget: {share}"
    return f"**{loaded}** loaded · " + " · ".join(f"{d.describe()} budget" for d in devices)


def build(ctx: AppContext) -> None:
    gr.Markdown(ctx.t("models.help"))
    info = gr.Markdown(summary(ctx))
    table = gr.Dataframe(
        value=status_rows(ctx),
        headers=HEADERS,
        label=ctx.t("models.table"),
        interactive=False,
        wrap=True,
    )
    with gr.Row():
        pick = gr.Dropdown(choices=ctx.registry.names(), label=ctx.t("models.pick"), scale=3)
        load_btn = gr.Button(ctx.t("models.load"), scale=1)
        unload_btn = gr.Button(ctx.t("models.unload"), scale=1, variant="stop")
        unload_all_btn = gr.Button(ctx.t("models.unload_all"), scale=1)
        refresh_btn = gr.Button(ctx.t("models.refresh"), scale=1)

    def refresh():
        return status_rows(ctx), summary(ctx), gr.Dropdown(choices=ctx.registry.names())

    @ui_errors
    def load(name):
        if not name:
            raise gr.Error("Pick a model first.")
        ctx.registry.get(name)
        return refresh()

    @ui_errors
    def unload(name):
        if not name:
            raise gr.Error("Pick a model first.")
        if not ctx.registry.unload(name):
            gr.Info(f"{name} was not loaded.")
        return refresh()

    def unload_all():
        ctx.registry.unload_all()
        return refresh()

    outputs = [table, info, pick]
    load_btn.click(load, pick, outputs, api_name="models_load", **ctx.heavy)
    unload_btn.click(unload, pick, outputs, api_name="models_unload")
    unload_all_btn.click(unload_all, None, outputs, api_name="models_unload_all")
    refresh_btn.click(refresh, None, outputs, api_name="models_status")
    timer = gr.Timer(3.0)
    timer.tick(
        lambda: (status_rows(ctx), summary(ctx)),
        None,
        [table, info],
        api_visibility="private",
        queue=False,
    )
