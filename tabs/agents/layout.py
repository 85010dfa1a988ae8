"""The Agents panel's parts: each builds its components and returns them as one dataclass."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from tabs.common import AppContext


@dataclass
class TalkPanel:
    agent: gr.Dropdown
    refresh: gr.Button
    summary: gr.Markdown
    chatbot: gr.Chatbot
    message: gr.Textbox
    send: gr.Button
    grounding: gr.Checkbox
    speak: gr.Checkbox
    seed: gr.Number
    stop: gr.Button
    clear: gr.Button
    audio: gr.Audio
    sources: gr.HTML
    raw: gr.JSON


@dataclass
class SavePanel:
    name: gr.Textbox
    collection: gr.Dropdown
    voice: gr.Dropdown
    picture: gr.File
    save: gr.Button


@dataclass
class ManagePanel:
    new_name: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    include_documents: gr.Checkbox
    include_voice: gr.Checkbox
    export: gr.Button
    file: gr.File
    upload: gr.UploadButton


def _picker(ctx: AppContext) -> tuple[gr.Dropdown, gr.Button]:
    with gr.Row():
        agent = gr.Dropdown(choices=[], value=None, label=ctx.t("agents.agent"), scale=4,
                            allow_custom_value=True, elem_id="agents-pick")  # fmt: skip
        refresh = gr.Button(ctx.t("agents.refresh"), scale=1, size="sm")
    return agent, refresh


def talk_panel(ctx: AppContext) -> TalkPanel:
    agent, refresh = _picker(ctx)
    summary = gr.Markdown("")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label=ctx.t("agents.chatbot"), height=360,
                                 elem_id="agents-chatbot")  # fmt: skip
            with gr.Row():
                message = gr.Textbox(label=ctx.t("agents.message"), lines=2, scale=5,
                                     elem_id="agents-message")  # fmt: skip
                send = gr.Button(ctx.t("agents.send"), variant="primary", scale=1,
                                 elem_id="agents-send")  # fmt: skip
            with gr.Row():
                grounding = gr.Checkbox(value=True, label=ctx.t("agents.grounding"))
                speak = gr.Checkbox(value=True, label=ctx.t("agents.speak"))
                seed = gr.Number(value=None, precision=0, minimum=0, label=ctx.t("agents.seed"))
            with gr.Row():
                stop = gr.Button(ctx.t("agents.stop"), variant="stop")
                clear = gr.Button(ctx.t("agents.clear"))
        with gr.Column(scale=2):
            audio = gr.Audio(type="filepath", label=ctx.t("agents.audio"), interactive=False,
                             elem_id="agents-audio")  # fmt: skip
            gr.Markdown(ctx.t("agents.sources"))
            sources = gr.HTML("", elem_id="agents-sources")
            raw = gr.JSON(value=[], visible=False)
    return TalkPanel(agent, refresh, summary, chatbot, message, send, grounding, speak, seed,
                     stop, clear, audio, sources, raw)  # fmt: skip


def save_panel(ctx: AppContext) -> SavePanel:
    with gr.Accordion(ctx.t("agents.save_heading"), open=False):
        gr.Markdown(ctx.t("agents.save_help"))
        with gr.Row():
            name = gr.Textbox(label=ctx.t("agents.name"), scale=2)
            collection = gr.Dropdown(
                choices=[], value=None, label=ctx.t("agents.collection"), allow_custom_value=True
            )
            voice = gr.Dropdown(
                choices=[], value=None, label=ctx.t("agents.voice"), allow_custom_value=True
            )
        picture = gr.File(label=ctx.t("agents.picture"), file_types=["image"], type="binary",
                          height=90)  # fmt: skip
        save = gr.Button(ctx.t("agents.save"), variant="primary")
    return SavePanel(name, collection, voice, picture, save)


def manage_panel(ctx: AppContext) -> ManagePanel:
    with gr.Accordion(ctx.t("agents.manage"), open=False):
        with gr.Row():
            new_name = gr.Textbox(label=ctx.t("agents.new_name"), scale=3)
            rename = gr.Button(ctx.t("agents.rename"), scale=1)
            delete = gr.Button(ctx.t("agents.delete"), variant="stop", scale=1)
        with gr.Row():
            include_documents = gr.Checkbox(False, label=ctx.t("agents.include_documents"))
            include_voice = gr.Checkbox(False, label=ctx.t("agents.include_voice"))
            export = gr.Button(ctx.t("agents.export"))
        file = gr.File(label=ctx.t("agents.file"), interactive=False, visible=False)
        upload = gr.UploadButton(ctx.t("agents.import"), file_types=[".zip"], type="filepath")
    return ManagePanel(new_name, rename, delete, include_documents, include_voice, export, file,
                       upload)  # fmt: skip
