"""The Documents tab: upload files into collections, ask questions, see cited sources.

UI only: parsing, indexing, search and answering live in ``playground.rag``.
"""

from __future__ import annotations

import html
import os
import re
from typing import Any

import gradio as gr

from playground.errors import InputError
from playground.rag import (
    ChunkSettings,
    CollectionStore,
    SearchSettings,
    answer_stream,
    citations,
    default_threshold,
    embedder_for,
    ingest,
    supported_suffixes,
)
from playground.rag.answer import message as fixed_message
from playground.rag.embedder import embedding_names
from playground.rag.text import keyword_tokens
from playground.users import visible_entry
from tabs.common import AppContext, StopFlags, keep_inputs_on_failure, owner_of, ui_errors
from tabs.i18n import tr
from tabs.identity import current_user

DOC_HEADERS = ["document", "type", "pages", "chunks"]
_STOPS = StopFlags()
CSS_SOURCES = (
    "<style>.rag-src{border:1px solid var(--border-color-primary);border-radius:8px;"
    "padding:8px 10px;margin:6px 0}.rag-src.unused{opacity:.6}.rag-meta{font-size:.85em;"
    "color:var(--body-text-color-subdued)}.rag-text{white-space:pre-wrap;margin-top:4px}"
    ".rag-src mark{background:#ffe58f;color:inherit;padding:0 1px}</style>"
)
DELETE_JS = (
    "(name) => confirm('Delete collection \"' + name + '\" and its index? / "
    "删除文档集及其索引？') ? name : null"
)


# ------------------------------------------------------------------ plain helpers


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


def highlight(text: str, query: str) -> str:
    """HTML-escaped ``text`` with the query's keywords wrapped in ``<mark>``."""
    escaped = html.escape(text)
    words = sorted({w for w in keyword_tokens(query) if len(w) > 1 or not w.isascii()}, key=len)
    if not words:
        return escaped
    # Whole words for Latin script ("tea" not inside "steamed"); Chinese has no spaces.
    pattern = "|".join(
        rf"\b{re.escape(html.escape(w))}\b" if w.isascii() else re.escape(w)
        for w in reversed(words)
    )
    return re.sub(f"({pattern})", r"<mark>\1</mark>", escaped, flags=re.IGNORECASE)


def link_citations(answer: str, hits) -> str:
    """Turn [n] into links to the n-th source card; flag numbers with no source."""
    valid, _ = citations(answer, len(hits))

    def repl(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in valid:
            return f"[{n}?]"
        c = hits[n - 1].chunk
        where = c.source + (f", page {c.page}" if c.page else "")
        return f'[[{n}]](#rag-src-{n} "{html.escape(where)}")'

    return re.sub(r"\[(\d{1,3})\]", repl, answer)


def sources_html(query: str, used: list, others: list | None = None) -> str:
    """Source cards: the numbered passages given to the model, then the unused ones."""
    if not used and not others:
        return ""
    cards = [CSS_SOURCES]
    for n, hit in enumerate(used, 1):
        cards.append(_card(query, hit, f"[{n}]", f"rag-src-{n}", ""))
    for hit in others or []:
        cards.append(_card(query, hit, "·", "", " unused"))
    return "".join(cards)


def _card(query: str, hit, label: str, anchor: str, extra: str) -> str:
    c = hit.chunk
    meta = [html.escape(c.source)]
    if c.page:
        meta.append(f"page {c.page}")
    if c.heading:
        meta.append(html.escape(c.heading))
    meta.append(f"score {hit.score:.3f}")
    meta.append(f"relevance {hit.relevance:.3f}")
    if extra:
        meta.append("below the relevance threshold")
    ident = f' id="{anchor}"' if anchor else ""
    return (
        f'<div class="rag-src{extra}"{ident}><b>{label}</b> '
        f'<span class="rag-meta">{" · ".join(meta)}</span>'
        f'<div class="rag-text">{highlight(c.text, query)}</div></div>'
    )


def _owner_key(request: gr.Request | None, client_id: str | None) -> str:
    return owner_of(request, client_id) + ":" + str(getattr(request, "session_hash", ""))


# ------------------------------------------------------------------ layout


def build(ctx: AppContext) -> None:
    c: dict[str, Any] = {}
    gr.Markdown(ctx.t("rag.intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            _collection_panel(ctx, c)
            _settings_panel(ctx, c)
        with gr.Column(scale=3, min_width=420):
            _answer_panel(ctx, c)
    _wire_collections(ctx, c)
    _wire_answers(ctx, c)


def _collection_panel(ctx: AppContext, c: dict) -> None:
    with gr.Row():
        c["collection"] = gr.Dropdown(
            choices=[],
            value=None,
            allow_custom_value=True,
            label=ctx.t("rag.collection"),
            info=ctx.t("rag.collection_info"),
            scale=4,
        )
        c["refresh"] = gr.Button(ctx.t("rag.refresh"), scale=1, size="sm")
    c["files"] = gr.File(
        file_count="multiple",
        file_types=supported_suffixes(),
        label=ctx.t("rag.upload"),
        height=140,
    )
    c["add"] = gr.Button(ctx.t("rag.add"), variant="primary")
    c["status"] = gr.Markdown(label=ctx.t("rag.status"))
    c["documents"] = gr.Dataframe(
        headers=DOC_HEADERS,
        value=[],
        label=ctx.t("rag.documents"),
        interactive=False,
        wrap=True,
    )
    with gr.Accordion(ctx.t("rag.manage"), open=False):
        with gr.Row():
            c["doc_pick"] = gr.Dropdown(choices=[], label=ctx.t("rag.document_pick"), scale=3)
            c["remove"] = gr.Button(ctx.t("rag.remove_document"), scale=1, variant="stop")
        with gr.Row():
            c["new_name"] = gr.Textbox(label=ctx.t("rag.new_name"), scale=3)
            c["rename"] = gr.Button(ctx.t("rag.rename"), scale=1)
        c["delete"] = gr.Button(ctx.t("rag.delete"), variant="stop")


def _settings_panel(ctx: AppContext, c: dict) -> None:
    embeddings = embedding_names(ctx.registry)
    rerankers = ctx.registry.names("reranker")
    with gr.Accordion(ctx.t("rag.settings"), open=False):
        c["embedding"] = gr.Dropdown(
            choices=embeddings,
            value=embeddings[0] if embeddings else None,
            label=ctx.t("rag.embedding_model"),
            info=ctx.t("rag.embedding_info"),
        )
        with gr.Row():
            c["chunk_size"] = gr.Slider(
                100, 4000, value=1000, step=50, label=ctx.t("rag.chunk_size")
            )
            c["overlap"] = gr.Slider(0, 1000, value=150, step=10, label=ctx.t("rag.overlap"))
        with gr.Row():
            c["k"] = gr.Slider(1, 20, value=5, step=1, label=ctx.t("rag.k"))
            c["mode"] = gr.Radio(
                ["hybrid", "dense", "keyword"],
                value="hybrid",
                label=ctx.t("rag.mode"),
                info=ctx.t("rag.mode_info"),
            )
        c["reranker"] = gr.Dropdown(
            choices=[("-", "")] + [(r, r) for r in rerankers],
            value="",
            label=ctx.t("rag.reranker"),
        )
        c["threshold"] = gr.Number(
            value=None, label=ctx.t("rag.threshold"), info=ctx.t("rag.threshold_info")
        )


def _answer_panel(ctx: AppContext, c: dict) -> None:
    models = chat_models(ctx.registry)
    with gr.Row():
        c["model"] = gr.Dropdown(
            choices=models,
            value=models[0] if models else None,
            label=ctx.t("rag.chat_model"),
            scale=4,
        )
        c["models_refresh"] = gr.Button(ctx.t("rag.refresh"), scale=1, size="sm")
    c["chatbot"] = gr.Chatbot(label=ctx.t("rag.chatbot"), height=380)
    c["question"] = gr.Textbox(
        label=ctx.t("rag.question"), placeholder=ctx.t("rag.question_placeholder"), lines=2
    )
    c["context_only"] = gr.Checkbox(value=False, label=ctx.t("rag.context_only"))
    with gr.Row():
        c["ask"] = gr.Button(ctx.t("rag.ask"), variant="primary")
        c["search"] = gr.Button(ctx.t("rag.search"))
        c["stop"] = gr.Button(ctx.t("rag.stop"), variant="stop")
        c["clear"] = gr.Button(ctx.t("rag.clear"))
    c["ask_status"] = gr.Markdown()  # why the last Ask failed, until the next one
    gr.Markdown(ctx.t("rag.sources_heading"))
    c["sources"] = gr.HTML(value="", label=ctx.t("rag.sources"))
    with gr.Accordion(ctx.t("rag.raw_hits"), open=False):
        c["raw"] = gr.JSON(value=[])


# ------------------------------------------------------------------ collection events


def _wire_collections(ctx: AppContext, c: dict) -> None:
    def view(store: CollectionStore, name: str | None):
        names = store.names()
        rows = document_rows(store.open(name)) if name and name in names else []
        docs = [r[0] for r in rows]
        return (
            gr.Dropdown(choices=names, value=name if name else None),
            rows,
            gr.Dropdown(choices=docs, value=None),
        )

    @ui_errors
    def rag_collections(name=None, client_id=None, request: gr.Request = None):
        """List your collections and the documents of the selected one."""
        store = store_for(ctx, request, client_id)
        if not name:  # a typed new name stays; nothing picked yet: the first one
            name = (store.names() or [None])[0]
        return view(store, name)

    outputs = [c["collection"], c["documents"], c["doc_pick"]]
    c["refresh"].click(
        rag_collections,
        [c["collection"], ctx.client_id],
        outputs,
        api_name="rag_collections",
        **ctx.light,
    )
    c["collection"].select(
        rag_collections,
        [c["collection"], ctx.client_id],
        outputs,
        api_visibility="private",
        **ctx.light,
    )
    ctx.client_id.change(
        rag_collections,
        [c["collection"], ctx.client_id],
        outputs,
        api_visibility="private",
        **ctx.light,
    )

    @ui_errors
    def rag_index(
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
            raise InputError("choose one or more files to add first.")
        if not (collection or "").strip():
            raise InputError("type a name for the collection first (a new name creates it).")
        ctx.check_quota(owner_of(request, client_id), adding=sum(_size(p) for p in paths))
        store = store_for(ctx, request, client_id)
        existing = collection in store.names()
        if existing:
            recorded = store.open(collection).embedding
            embedder = embedder_for(ctx.registry, recorded=recorded)
        else:
            embedder = embedder_for(ctx.registry, embedding_model or None)
        chunking = ChunkSettings(chunk_size=int(chunk_size), overlap=int(overlap))
        target = store.open_or_create(collection, embedder, chunking=None if existing else chunking)
        progress(0.0, desc="starting")
        report = ingest(
            target,
            [(p, _display_name(p)) for p in paths],
            embedder,
            max_file_mb=ctx.settings.max_file_size_mb,
            progress=lambda f, msg: progress(f, desc=msg),
        )
        lines = [f"**{collection}**: {report.summary()}."]
        lines += [f"- already in the collection: {n}" for n in report.duplicates]
        lines += [
            f"- ⚠️ skipped **{html.escape(n)}**: {html.escape(why.removeprefix(f'{n}: '))}"
            for n, why in report.skipped
        ]
        if report.skipped and not report.added:
            gr.Warning(tr("rag.nothing_indexed", request))
        return ("\n".join(lines), *view(store, collection), None)

    c["add"].click(
        rag_index,
        [c["files"], c["collection"], c["embedding"], c["chunk_size"], c["overlap"], ctx.client_id],
        [c["status"], *outputs, c["files"]],
        api_name="rag_index",
        **ctx.heavy,
    )

    @ui_errors
    def rag_remove_document(collection, document, client_id, request: gr.Request):
        """Remove one document from a collection (the index is updated)."""
        if not document:
            raise InputError("pick a document to remove.")
        store = store_for(ctx, request, client_id)
        doc = store.open(collection).remove_document(document)
        return (f"Removed **{html.escape(doc.name)}**.", *view(store, collection))

    c["remove"].click(
        rag_remove_document,
        [c["collection"], c["doc_pick"], ctx.client_id],
        [c["status"], *outputs],
        api_name="rag_remove_document",
        **ctx.light,
    )

    @ui_errors
    def rag_rename(collection, new_name, client_id, request: gr.Request):
        """Rename a collection."""
        store = store_for(ctx, request, client_id)
        store.rename(collection, new_name)
        return (
            f"Renamed to **{html.escape(new_name.strip())}**.",
            *view(store, new_name.strip()),
            "",
        )

    c["rename"].click(
        rag_rename,
        [c["collection"], c["new_name"], ctx.client_id],
        [c["status"], *outputs, c["new_name"]],
        api_name="rag_rename",
        **ctx.light,
    )

    @ui_errors
    def rag_delete(collection, client_id, request: gr.Request):
        """Delete a collection and its index."""
        if not collection:
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip())
        store = store_for(ctx, request, client_id)
        store.delete(collection)
        names = store.names()
        return (
            f"Deleted **{html.escape(collection)}**.",
            *view(store, names[0] if names else None),
        )

    c["delete"].click(
        rag_delete,
        [c["collection"], ctx.client_id],
        [c["status"], *outputs],
        js=DELETE_JS,
        api_name="rag_delete",
        **ctx.light,
    )

    c["models_refresh"].click(
        lambda client_id, request: gr.Dropdown(
            choices=chat_models(ctx.registry, owner_of(request, client_id))
        ),
        ctx.client_id,
        c["model"],
        api_visibility="private",
        queue=False,
    )


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.isfile(path) else 0


def _display_name(path: str) -> str:
    """Gradio keeps the uploaded file's own name as the last path part."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


# ------------------------------------------------------------------ answer events


def _wire_answers(ctx: AppContext, c: dict) -> None:
    def retrieve(collection, question, k, mode, reranker, client_id, request):
        if not collection:
            raise InputError(
                "pick a collection (or create one by adding files) first.",
                key="errors.pick_collection",
            )
        if not (question or "").strip():
            raise InputError("type a question first.", key="errors.type_question")
        target = store_for(ctx, request, client_id).open(collection)
        embedder = embedder_for(ctx.registry, recorded=target.embedding)
        settings = SearchSettings(k=int(k), mode=mode or "hybrid", reranker=reranker or None)
        hits = target.search(question, embedder, settings, registry=ctx.registry)
        return hits, embedder

    @ui_errors
    def rag_search(
        question: str,
        collection: str,
        k: int = 5,
        mode: str = "hybrid",
        reranker: str = "",
        client_id: str | None = None,
        request: gr.Request = None,
    ):
        """Retrieve the best passages for a question (no LLM).

        Returns the Sources panel HTML and a JSON list of hits
        ``{"text", "source", "page", "score"}`` in rank order.
        """
        hits, _ = retrieve(collection, question, k, mode, reranker, client_id, request)
        return sources_html(question, hits), [h.to_json() for h in hits]

    search_inputs = [
        c["question"],
        c["collection"],
        c["k"],
        c["mode"],
        c["reranker"],
        ctx.client_id,
    ]
    c["search"].click(
        rag_search, search_inputs, [c["sources"], c["raw"]], api_name="rag_search", **ctx.chat
    )

    @keep_inputs_on_failure(outputs=4, inputs={"history": 0})
    @ui_errors
    def rag_ask(
        question: str,
        history: list,
        collection: str,
        model: str,
        k: int = 5,
        mode: str = "hybrid",
        reranker: str = "",
        threshold: float | None = None,
        context_only: bool = False,
        client_id: str | None = None,
        request: gr.Request = None,
    ):
        """Answer a question from a collection with cited sources ([1], [2]...).

        Streams the chat history, the Sources panel HTML, the hits as JSON, the
        question box (cleared when the answer is done) and a status message.
        With ``context_only`` the chat model is not called.
        """
        hits, embedder = retrieve(collection, question, k, mode, reranker, client_id, request)
        history = list(history or []) + [{"role": "user", "content": question}]
        if threshold is None:
            threshold = default_threshold(ctx.registry, embedder.info.name, reranker or None)
        raw = [h.to_json() for h in hits]
        if context_only or not hits:
            text = fixed_message("empty", question) if not hits else _context_text(hits)
            history.append({"role": "assistant", "content": text})
            yield history, sources_html(question, hits), raw, "", ""
            return
        if not model:
            raise InputError("pick a chat model first.")
        visible_entry(ctx.registry, current_user(request, client_id), model)
        with _STOPS.running(_owner_key(request, client_id)) as stop:
            history.append({"role": "assistant", "content": ""})
            yield history, gr.skip(), raw, gr.skip(), ""  # the question stays until it is answered
            sources: Any = gr.skip()
            for answer in answer_stream(
                ctx.registry, model, question, hits, threshold=threshold, stop=stop
            ):
                used = answer.hits if answer.found else []
                history[-1]["content"] = (
                    link_citations(answer.text, used) if answer.found else answer.text
                )
                if not isinstance(sources, str):  # the sources are known from the first update
                    sources = sources_html(question, used, [h for h in hits if h not in used])
                    if answer.stats:  # how many sources the chat model's window took
                        sources = f'<p class="rag-stats">{html.escape(answer.stats)}</p>' + sources
                    yield history, sources, raw, gr.skip(), ""
                else:
                    yield history, gr.skip(), gr.skip(), gr.skip(), ""
            yield history, sources, raw, "", ""  # the final state in full, for API callers

    ask_inputs = [
        c["question"],
        c["chatbot"],
        c["collection"],
        c["model"],
        c["k"],
        c["mode"],
        c["reranker"],
        c["threshold"],
        c["context_only"],
        ctx.client_id,
    ]
    ask_outputs = [c["chatbot"], c["sources"], c["raw"], c["question"], c["ask_status"]]
    ask_event = c["ask"].click(rag_ask, ask_inputs, ask_outputs, api_name="rag_ask", **ctx.chat)
    submit_event = c["question"].submit(
        rag_ask, ask_inputs, ask_outputs, api_visibility="private", **ctx.chat
    )

    def rag_stop(client_id, request: gr.Request):
        _STOPS.stop(_owner_key(request, client_id))

    c["stop"].click(
        rag_stop,
        [ctx.client_id],
        None,
        api_visibility="private",
        cancels=[ask_event, submit_event],
        **ctx.light,
    )
    c["clear"].click(
        lambda: ([], "", []),
        None,
        [c["chatbot"], c["sources"], c["raw"]],
        api_visibility="private",
        queue=False,
    )


def _context_text(hits) -> str:
    parts = []
    for n, hit in enumerate(hits, 1):
        ch = hit.chunk
        where = ch.source + (f", page {ch.page}" if ch.page else "")
        parts.append(
            f"**[{n}] {where}** (relevance {hit.relevance:.2f})\n\n> " + " ".join(ch.text.split())
        )
    return "\n\n".join(parts)
