"""The Image tab's panels: the form, settings, prompt assistant, send-back and history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.image import schedulers
from tabs.common import AppContext


@dataclass
class SettingsPanel:
    """Size, steps, guidance, sampler, batch and seed."""

    width: gr.Slider
    height: gr.Slider
    steps: gr.Slider
    guidance: gr.Slider
    scheduler: gr.Dropdown
    batch: gr.Slider
    seed: gr.Number
    reuse: gr.Button
    random_seed: gr.Button
    last_seed: gr.State

    @property
    def model_settings(self) -> list:
        """What a model sets when picked (its defaults): width, height, steps, guidance, sampler."""
        return [self.width, self.height, self.steps, self.guidance, self.scheduler]


@dataclass
class AssistantPanel:
    """Write a prompt from a plain description with a chat model."""

    description: gr.Textbox
    chat_model: gr.Dropdown
    button: gr.Button
    note: gr.Markdown


@dataclass
class SendBackPanel:
    """Drop a PNG made here to get its parameters back into the form."""

    png: gr.File
    note: gr.Markdown


@dataclass
class HistoryPanel:
    """The user's earlier images and their parameters."""

    accordion: gr.Accordion
    gallery: gr.Gallery
    refresh: gr.Button
    use: gr.Button
    details: gr.Markdown
    paths: gr.State
    selected: gr.State

    @property
    def listing(self) -> list:
        """What a history refresh fills: the gallery and the paths behind it."""
        return [self.gallery, self.paths]


@dataclass
class ResultPanel:
    """Status line, live preview, gallery of the last run and its notes."""

    status: gr.Markdown
    preview: gr.Image
    gallery: gr.Gallery
    info: gr.Markdown


@dataclass
class ImageTab:
    model: gr.Dropdown
    prompt: gr.Textbox
    negative: gr.Textbox
    go: gr.Button
    stop: gr.Button
    settings: SettingsPanel
    assistant: AssistantPanel
    send_back: SendBackPanel
    result: ResultPanel
    history: HistoryPanel

    @property
    def fields(self) -> list:
        """The form, in the order of ``generate``'s parameters (and of a PNG's parameters)."""
        settings = self.settings
        return [
            self.model,
            self.prompt,
            self.negative,
            *settings.model_settings,
            settings.seed,
            settings.batch,
        ]

    @property
    def outputs(self) -> list:
        """What ``generate`` updates."""
        result = self.result
        return [result.gallery, result.status, result.preview, result.info, self.settings.last_seed]


def image_tab(ctx: AppContext, names: list[str], defaults: dict[str, Any]) -> ImageTab:
    with gr.Row():
        with gr.Column(scale=5):
            model = gr.Dropdown(names, value=names[0], label=ctx.t("image.model"))
            assistant = assistant_panel(ctx)
            prompt = gr.Textbox(
                label=ctx.t("image.prompt"), info=ctx.t("image.prompt_info"), lines=3
            )
            negative = gr.Textbox(label=ctx.t("image.negative"), lines=2)
            with gr.Row():
                go = gr.Button(ctx.t("image.generate"), variant="primary", scale=3)
                stop = gr.Button(ctx.t("image.cancel"), variant="stop", scale=1)
            settings = settings_panel(ctx, defaults)
            send_back = send_back_panel(ctx)
        with gr.Column(scale=6):
            result = result_panel(ctx)
    history = history_panel(ctx)
    return ImageTab(
        model, prompt, negative, go, stop, settings, assistant, send_back, result, history
    )


def result_panel(ctx: AppContext) -> ResultPanel:
    status = gr.Markdown(ctx.t("image.ready"))
    preview = gr.Image(label=ctx.t("image.preview"), visible=False, interactive=False, height=256)
    gallery = gr.Gallery(
        label=ctx.t("image.gallery"), columns=2, height=520, format="png", interactive=False
    )
    return ResultPanel(status=status, preview=preview, gallery=gallery, info=gr.Markdown())


def settings_panel(ctx: AppContext, defaults: dict[str, Any]) -> SettingsPanel:
    with gr.Accordion(ctx.t("image.settings"), open=True):
        with gr.Row():
            width = gr.Slider(64, 2048, value=defaults["width"], step=8, label=ctx.t("image.width"))
            height = gr.Slider(
                64, 2048, value=defaults["height"], step=8, label=ctx.t("image.height")
            )
        with gr.Row():
            steps = gr.Slider(1, 150, value=defaults["steps"], step=1, label=ctx.t("image.steps"))
            guidance = gr.Slider(
                0,
                30,
                value=defaults["guidance"],
                step=0.5,
                label=ctx.t("image.guidance"),
                info=ctx.t("image.guidance_info"),
            )
        with gr.Row():
            scheduler = gr.Dropdown(
                schedulers.all_names(),
                value=defaults["scheduler"],
                label=ctx.t("image.scheduler"),
                info=ctx.t("image.scheduler_info"),
            )
            batch = gr.Slider(1, 16, value=1, step=1, label=ctx.t("image.batch"))
        with gr.Row():
            seed = gr.Number(
                value=-1,
                precision=0,
                minimum=-1,
                label=ctx.t("image.seed"),
                info=ctx.t("image.seed_info"),
                scale=3,
            )
            with gr.Column(scale=1, min_width=120):
                reuse = gr.Button(ctx.t("image.reuse_seed"), size="sm")
                random_seed = gr.Button(ctx.t("image.random_seed"), size="sm")
    return SettingsPanel(
        width, height, steps, guidance, scheduler, batch, seed, reuse, random_seed, gr.State(None)
    )


def assistant_panel(ctx: AppContext) -> AssistantPanel:
    chat_models = [
        e.name
        for e in ctx.registry.entries("chat", "endpoint")
        if (e.task == "chat" or e.serves == "chat") and e.visible_to(None)  # shared only
    ]
    with gr.Accordion(ctx.t("image.assistant"), open=False):
        gr.Markdown(ctx.t("image.assistant_help"))
        description = gr.Textbox(
            label=ctx.t("image.description"), lines=2, placeholder=ctx.t("image.description_hint")
        )
        with gr.Row():
            chat_model = gr.Dropdown(
                chat_models,
                value=chat_models[0] if chat_models else None,
                label=ctx.t("image.chat_model"),
                scale=3,
            )
            button = gr.Button(ctx.t("image.write_prompt"), scale=1)
        note = gr.Markdown()
    return AssistantPanel(description=description, chat_model=chat_model, button=button, note=note)


def send_back_panel(ctx: AppContext) -> SendBackPanel:
    with gr.Accordion(ctx.t("image.send_back"), open=False):
        gr.Markdown(ctx.t("image.send_back_help"))
        png = gr.File(label=ctx.t("image.drop_png"), file_types=[".png"], type="filepath")
        note = gr.Markdown()
    return SendBackPanel(png=png, note=note)


def history_panel(ctx: AppContext) -> HistoryPanel:
    with gr.Accordion(ctx.t("image.history"), open=False) as accordion:
        gallery = gr.Gallery(label=ctx.t("image.history"), columns=6, height=360, interactive=False)
        with gr.Row():
            refresh = gr.Button(ctx.t("image.refresh"), size="sm", scale=1)
            use = gr.Button(ctx.t("image.use_params"), size="sm", scale=1)
        details = gr.Markdown()
        paths = gr.State([])
        selected = gr.State(None)
    return HistoryPanel(
        accordion=accordion,
        gallery=gallery,
        refresh=refresh,
        use=use,
        details=details,
        paths=paths,
        selected=selected,
    )
