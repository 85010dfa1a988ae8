"""The Documents tab's collection handlers: list, index files, remove, rename, delete.

Each is a top-level function of the app context and the event's inputs (wired with
``tabs.common.bind``); parsing and indexing live in ``playground.rag``.
"""

from __future__ import annotations

import html
import os
from typing import Any

import gradio as gr

from playground.errors import InputError
from playground.rag import ChunkSettings, CollectionStore, embedder_for, ingest
from tabs.common import AppContext, owner_of, ui_errors
from tabs.i18n import tr


def store_for(
    ctx: AppContext, request: gr.Request | None, client_id: str | None
) -> CollectionStore:
    """The collections of whoever sent ``request`` -- nobody else's."""
    return CollectionStore.for_owner(ctx.data_dir, owner_of(request, client_id))


def chat_models(registry, owner: str | None = None) -> list[str]:
    """Shared chat models and endpoints, plus ``owner``'s own adapters."""
    return [e.name for e in registry.entries("chat") if e.visible_to(owner)] + [
        e.name for e in registry.entries("endpoint") if e.serves == "chat"
    ]


def document_rows(collection) -> list[list[Any]]:
    return [[d.name, d.kind, d.pages or "", d.chunks] for d in collection.documents]


def collection_view(store: CollectionStore, name: str | None) -> tuple:
    """The collection list (``name`` selected), its documents, and the document pick list."""
    names = store.names()
    rows = document_rows(store.open(name)) if name and name in names else []
    return (
        gr.Dropdown(choices=names, value=name if name else None),
        rows,
        gr.Dropdown(choices=[row[0] for row in rows], value=None),
    )


@ui_errors
def rag_collections(ctx: AppContext, name=None, client_id=None, request: gr.Request = None):
    """List your collections and the documents of the selected one."""
    store = store_for(ctx, request, client_id)
    if not name:  # a typed new name stays; nothing picked yet: the first one
        name = (store.names() or [None])[0]
    return collection_view(store, name)


@ui_errors
def rag_index(
    ctx: AppContext,
    files,
    collection: str,
    embedding_model: str | None = None,
    chunk_size: int = 1000,
    overlap: int = 150,
    client_id: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (gradio's way to ask for a progress bar)
):
    """Add files (PDF, DOCX, TXT, MD, HTML, CSV, XLSX) to a collection, creating it if new.

    Returns a summary (files, pages, chunks, seconds, skipped files with reasons).
    """
    paths = [f if isinstance(f, str) else getattr(f, "name", f) for f in (files or [])]
    if not paths:
        raise InputError("choose one or more files to add first.", key="errors.tabs.choose_files")
    if not (collection or "").strip():
        raise InputError(
            "type a name for the collection first (a new name creates it).",
            key="errors.tabs.name_collection",
        )
    ctx.check_quota(owner_of(request, client_id), adding=sum(_size(p) for p in paths))
    store = store_for(ctx, request, client_id)
    chunking = ChunkSettings(chunk_size=int(chunk_size), overlap=int(overlap))
    target, embedder = _open_for_indexing(ctx, store, collection, embedding_model, chunking)
    progress(0.0, desc="starting")
    report = ingest(
        target,
        [(p, _display_name(p)) for p in paths],
        embedder,
        max_file_mb=ctx.settings.max_file_size_mb,
        progress=lambda fraction, message: progress(fraction, desc=message),
    )
    if report.skipped and not report.added:
        gr.Warning(tr("rag.nothing_indexed", request))
    return (_report_text(collection, report), *collection_view(store, collection), None)


def _open_for_indexing(ctx, store, collection, embedding_model, chunking: ChunkSettings):
    """The collection to add to (created if new) and its embedder.

    An existing collection keeps the embedding model and chunking it was made with.
    """
    if collection in store.names():
        recorded = store.open(collection).embedding
        embedder = embedder_for(ctx.registry, recorded=recorded)
        return store.open_or_create(collection, embedder, chunking=None), embedder
    embedder = embedder_for(ctx.registry, embedding_model or None)
    return store.open_or_create(collection, embedder, chunking=chunking), embedder


def _report_text(collection: str, report) -> str:
    lines = [f"**{collection}**: {report.summary()}."]
    lines += [f"- already in the collection: {name}" for name in report.duplicates]
    lines += [
        f"- ⚠️ skipped **{html.escape(name)}**: {html.escape(why.removeprefix(f'{name}: '))}"
        for name, why in report.skipped
    ]
    return "\n".join(lines)


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.isfile(path) else 0


def _display_name(path: str) -> str:
    """Gradio keeps the uploaded file's own name as the last path part."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


@ui_errors
def rag_remove_document(ctx: AppContext, collection, document, client_id, request: gr.Request):
    """Remove one document from a collection (the index is updated)."""
    if not document:
        raise InputError("pick a document to remove.", key="errors.tabs.pick_document")
    store = store_for(ctx, request, client_id)
    removed = store.open(collection).remove_document(document)
    return (f"Removed **{html.escape(removed.name)}**.", *collection_view(store, collection))


@ui_errors
def rag_rename(ctx: AppContext, collection, new_name, client_id, request: gr.Request):
    """Rename a collection."""
    store = store_for(ctx, request, client_id)
    store.rename(collection, new_name)
    renamed = new_name.strip()
    return (f"Renamed to **{html.escape(renamed)}**.", *collection_view(store, renamed), "")


@ui_errors
def rag_delete(ctx: AppContext, collection, client_id, request: gr.Request):
    """Delete a collection and its index."""
    if not collection:
        return (gr.skip(), gr.skip(), gr.skip(), gr.skip())
    store = store_for(ctx, request, client_id)
    store.delete(collection)
    names = store.names()
    deleted = f"Deleted **{html.escape(collection)}**."
    return (deleted, *collection_view(store, names[0] if names else None))


def rag_chat_models(ctx: AppContext, client_id=None, request: gr.Request = None):
    """The chat model list again: shared models and endpoints plus your own adapters."""
    return gr.Dropdown(choices=chat_models(ctx.registry, owner_of(request, client_id)))


def embedding_model(ctx: AppContext, embedding: str | None = None) -> list[str]:
    """The embedding model indexing needs downloaded: the one picked, else the first configured."""
    from playground.rag.embedder import embedding_names

    return [embedding or next(iter(embedding_names(ctx.registry)), "")]
