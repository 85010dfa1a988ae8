"""The Documents tab's events: which handler each button runs, with what inputs and outputs."""

from __future__ import annotations

from tabs.common import AppContext, bind, prefetch
from tabs.rag.answer_handlers import rag_ask, rag_clear, rag_search, rag_stop
from tabs.rag.collection_handlers import (
    embedding_model,
    rag_chat_models,
    rag_collections,
    rag_delete,
    rag_index,
    rag_remove_document,
    rag_rename,
)
from tabs.rag.layout import AnswerPanel, CollectionPanel, SettingsPanel

DELETE_JS = (
    "(name) => confirm('Delete collection \"' + name + '\" and its index? / "
    "删除文档集及其索引？') ? name : null"
)


def wire_collections(ctx: AppContext, panel: CollectionPanel, settings: SettingsPanel) -> None:
    manage = panel.manage
    list_collections = bind(rag_collections, ctx)
    listing_inputs = [panel.collection, ctx.client_id]
    panel.refresh.click(
        list_collections, listing_inputs, panel.listing, api_name="rag_collections", **ctx.light
    )
    for trigger in (panel.collection.select, ctx.client_id.change):
        trigger(
            list_collections, listing_inputs, panel.listing, api_visibility="private", **ctx.light
        )
    # The embedding model's first download streams into the status in a light step.
    fetch = panel.add.click(prefetch(ctx, embedding_model), settings.embedding, panel.status,
                            api_visibility="private", **ctx.light)  # fmt: skip
    fetch.success(
        bind(rag_index, ctx),
        [
            panel.files,
            panel.collection,
            settings.embedding,
            settings.chunk_size,
            settings.overlap,
            ctx.client_id,
        ],
        [panel.status, *panel.listing, panel.files],
        api_name="rag_index",
        **ctx.heavy,
    )
    manage.remove.click(
        bind(rag_remove_document, ctx),
        [panel.collection, manage.document_pick, ctx.client_id],
        [panel.status, *panel.listing],
        api_name="rag_remove_document",
        **ctx.light,
    )
    manage.rename.click(
        bind(rag_rename, ctx),
        [panel.collection, manage.new_name, ctx.client_id],
        [panel.status, *panel.listing, manage.new_name],
        api_name="rag_rename",
        **ctx.light,
    )
    manage.delete.click(
        bind(rag_delete, ctx),
        [panel.collection, ctx.client_id],
        [panel.status, *panel.listing],
        js=DELETE_JS,
        api_name="rag_delete",
        **ctx.light,
    )


def wire_answers(
    ctx: AppContext, panel: AnswerPanel, collections: CollectionPanel, settings: SettingsPanel
) -> None:
    panel.models_refresh.click(
        bind(rag_chat_models, ctx),
        ctx.client_id,
        panel.model,
        api_visibility="private",
        queue=False,
    )
    retrieval = [settings.k, settings.mode, settings.reranker]
    panel.search.click(
        bind(rag_search, ctx),
        [panel.question, collections.collection, *retrieval, ctx.client_id],
        [panel.sources, panel.raw],
        api_name="rag_search",
        **ctx.chat,
    )
    ask = bind(rag_ask, ctx)
    ask_inputs = [
        panel.question,
        panel.chatbot,
        collections.collection,
        panel.model,
        *retrieval,
        settings.threshold,
        panel.context_only,
        ctx.client_id,
    ]
    ask_outputs = [panel.chatbot, panel.sources, panel.raw, panel.question, panel.ask_status]
    ask_event = panel.ask.click(ask, ask_inputs, ask_outputs, api_name="rag_ask", **ctx.chat)
    submit_event = panel.question.submit(
        ask, ask_inputs, ask_outputs, api_visibility="private", **ctx.chat
    )
    panel.stop.click(
        bind(rag_stop, ctx),
        [ctx.client_id],
        None,
        api_visibility="private",
        cancels=[ask_event, submit_event],
        **ctx.light,
    )
    panel.clear.click(
        rag_clear,
        None,
        [panel.chatbot, panel.sources, panel.raw],
        api_visibility="private",
        queue=False,
    )
