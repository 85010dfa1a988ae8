"""The Documents tab's panels: collections, retrieval settings, and questions and answers."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from playground.rag import supported_suffixes
from playground.rag.embedder import embedding_names
from tabs.common import AppContext
from tabs.rag.collection_handlers import chat_models

DOC_HEADERS = ["document", "type", "pages", "chunks"]


@dataclass
class ManagePanel:
    """Remove a document, rename or delete the collection."""

    document_pick: gr.Dropdown
    remove: gr.Button
    new_name: gr.Textbox
    rename: gr.Button
    delete: gr.Button


@dataclass
class CollectionPanel:
    """Pick or name a collection, add files to it, manage its documents."""

    collection: gr.Dropdown
    refresh: gr.Button
    files: gr.File
    add: gr.Button
    status: gr.Markdown
    documents: gr.Dataframe
    manage: ManagePanel

    @property
    def listing(self) -> list:
        """What a collection handler's view fills: the collection, its documents, the pick list."""
        return [self.collection, self.documents, self.manage.document_pick]


@dataclass
class SettingsPanel:
    """How documents are split and embedded, and how passages are found."""

    embedding: gr.Dropdown
    chunk_size: gr.Slider
    overlap: gr.Slider
    k: gr.Slider
    mode: gr.Radio
    reranker: gr.Dropdown
    threshold: gr.Number


@dataclass
class AnswerPanel:
    """The chat model, the question, the answer and its sources."""

    model: gr.Dropdown
    models_refresh: gr.Button
    chatbot: gr.Chatbot
    question: gr.Textbox
    context_only: gr.Checkbox
    ask: gr.Button
    search: gr.Button
    stop: gr.Button
    clear: gr.Button
    ask_status: gr.Markdown
    sources: gr.HTML
    raw: gr.JSON


def collection_panel(ctx: AppContext) -> CollectionPanel:
    with gr.Row():
        collection = gr.Dropdown(
            choices=[],
            value=None,
            allow_custom_value=True,
            label=ctx.t("rag.collection"),
            info=ctx.t("rag.collection_info"),
            scale=4,
        )
        refresh = gr.Button(ctx.t("rag.refresh"), scale=1, size="sm")
    files = gr.File(
        file_count="multiple",
        file_types=supported_suffixes(),
        label=ctx.t("rag.upload"),
        height=140,
    )
    add = gr.Button(ctx.t("rag.add"), variant="primary")
    status = gr.Markdown(label=ctx.t("rag.status"))
    documents = gr.Dataframe(
        headers=DOC_HEADERS, value=[], label=ctx.t("rag.documents"), interactive=False, wrap=True
    )
    manage = manage_panel(ctx)
    return CollectionPanel(collection, refresh, files, add, status, documents, manage)


def manage_panel(ctx: AppContext) -> ManagePanel:
    with gr.Accordion(ctx.t("rag.manage"), open=False):
        with gr.Row():
            document_pick = gr.Dropdown(choices=[], label=ctx.t("rag.document_pick"), scale=3)
            remove = gr.Button(ctx.t("rag.remove_document"), scale=1, variant="stop")
        with gr.Row():
            new_name = gr.Textbox(label=ctx.t("rag.new_name"), scale=3)
            rename = gr.Button(ctx.t("rag.rename"), scale=1)
        delete = gr.Button(ctx.t("rag.delete"), variant="stop")
    return ManagePanel(document_pick, remove, new_name, rename, delete)


def settings_panel(ctx: AppContext) -> SettingsPanel:
    embeddings = embedding_names(ctx.registry)
    rerankers = ctx.registry.names("reranker")
    with gr.Accordion(ctx.t("rag.settings"), open=False):
        embedding = gr.Dropdown(
            choices=embeddings,
            value=embeddings[0] if embeddings else None,
            label=ctx.t("rag.embedding_model"),
            info=ctx.t("rag.embedding_info"),
        )
        with gr.Row():
            chunk_size = gr.Slider(100, 4000, value=1000, step=50, label=ctx.t("rag.chunk_size"))
            overlap = gr.Slider(0, 1000, value=150, step=10, label=ctx.t("rag.overlap"))
        with gr.Row():
            k = gr.Slider(1, 20, value=5, step=1, label=ctx.t("rag.k"))
            mode = gr.Radio(
                ["hybrid", "dense", "keyword"],
                value="hybrid",
                label=ctx.t("rag.mode"),
                info=ctx.t("rag.mode_info"),
            )
        reranker = gr.Dropdown(
            choices=[("-", "")] + [(name, name) for name in rerankers],
            value="",
            label=ctx.t("rag.reranker"),
        )
        threshold = gr.Number(
            value=None, label=ctx.t("rag.threshold"), info=ctx.t("rag.threshold_info")
        )
    return SettingsPanel(embedding, chunk_size, overlap, k, mode, reranker, threshold)


def answer_panel(ctx: AppContext) -> AnswerPanel:
    models = chat_models(ctx.registry)
    with gr.Row():
        model = gr.Dropdown(
            choices=models,
            value=models[0] if models else None,
            label=ctx.t("rag.chat_model"),
            scale=4,
        )
        models_refresh = gr.Button(ctx.t("rag.refresh"), scale=1, size="sm")
    chatbot = gr.Chatbot(label=ctx.t("rag.chatbot"), height=380)
    question = gr.Textbox(
        label=ctx.t("rag.question"), placeholder=ctx.t("rag.question_placeholder"), lines=2
    )
    context_only = gr.Checkbox(value=False, label=ctx.t("rag.context_only"))
    with gr.Row():
        ask = gr.Button(ctx.t("rag.ask"), variant="primary")
        search = gr.Button(ctx.t("rag.search"))
        stop = gr.Button(ctx.t("rag.stop"), variant="stop")
        clear = gr.Button(ctx.t("rag.clear"))
    ask_status = gr.Markdown()  # why the last Ask failed, until the next one
    gr.Markdown(ctx.t("rag.sources_heading"))
    sources = gr.HTML(value="", label=ctx.t("rag.sources"))
    with gr.Accordion(ctx.t("rag.raw_hits"), open=False):
        raw = gr.JSON(value=[])
    return AnswerPanel(
        model=model,
        models_refresh=models_refresh,
        chatbot=chatbot,
        question=question,
        context_only=context_only,
        ask=ask,
        search=search,
        stop=stop,
        clear=clear,
        ask_status=ask_status,
        sources=sources,
        raw=raw,
    )
