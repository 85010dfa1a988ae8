"""The Documents tab: upload files into collections, ask questions, see cited sources.

UI only: parsing, indexing, search and answering live in ``playground.rag``.
``layout`` builds the panels, ``collection_handlers`` and ``answer_handlers`` hold
the event handlers, ``wiring`` connects them, ``render`` draws sources and citations.
"""

from __future__ import annotations

import gradio as gr

from tabs.common import AppContext
from tabs.rag.answer_handlers import rag_ask, rag_search, rag_stop, search_settings
from tabs.rag.collection_handlers import (
    chat_models,
    document_rows,
    rag_collections,
    rag_delete,
    rag_index,
    rag_remove_document,
    rag_rename,
    store_for,
)
from tabs.rag.layout import DOC_HEADERS, answer_panel, collection_panel, settings_panel
from tabs.rag.render import highlight, link_citations, sources_html
from tabs.rag.wiring import wire_answers, wire_collections

__all__ = [
    "DOC_HEADERS",
    "build",
    "chat_models",
    "document_rows",
    "highlight",
    "link_citations",
    "rag_ask",
    "rag_collections",
    "rag_delete",
    "rag_index",
    "rag_remove_document",
    "rag_rename",
    "rag_search",
    "rag_stop",
    "search_settings",
    "sources_html",
    "store_for",
]


def build(ctx: AppContext) -> None:
    gr.Markdown(ctx.t("rag.intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            collections = collection_panel(ctx)
            settings = settings_panel(ctx)
        with gr.Column(scale=3, min_width=420):
            answers = answer_panel(ctx)
    wire_collections(ctx, collections, settings)
    wire_answers(ctx, answers, collections, settings)
