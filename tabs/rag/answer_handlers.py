"""The Documents tab's answer handlers: search, ask (streamed, with citations), stop.

Search and Ask share their retrieval parameters (``k``, ``mode``, ``reranker``): they
are listed once, in ``search_settings``, and both endpoints show them to Gradio (see
``tabs.common.takes_settings``), while the handlers receive one ``SearchSettings``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.errors import InputError
from playground.rag import SearchSettings, answer_stream, default_threshold, embedder_for
from playground.rag.answer import message as fixed_message
from playground.users import visible_entry
from tabs.common import (
    AppContext,
    StopFlags,
    keep_inputs_on_failure,
    owner_of,
    takes_settings,
    ui_errors,
)
from tabs.identity import current_user
from tabs.rag.collection_handlers import store_for
from tabs.rag.render import context_text, link_citations, sources_html, stats_html

STOPS = StopFlags()  # the Stop button's flag for each session's running answer


def stop_key(request: gr.Request | None, client_id: str | None) -> str:
    """Whose answer a Stop button stops: this user's, in this browser session."""
    return owner_of(request, client_id) + ":" + str(getattr(request, "session_hash", ""))


def search_settings(k: int = 5, mode: str = "hybrid", reranker: str = "") -> SearchSettings:
    """How passages are found: ``k`` best, by ``mode``, re-ranked by ``reranker`` if given."""
    return SearchSettings(k=int(k), mode=mode or "hybrid", reranker=reranker or None)


def retrieve(
    ctx: AppContext,
    collection: str,
    question: str,
    search: SearchSettings,
    client_id: str | None,
    request: gr.Request | None,
):
    """The best passages for ``question`` in the sender's ``collection``, and its embedder."""
    if not collection:
        raise InputError(
            "Pick a collection (or create one by adding files) first.",
            key="errors.pick_collection",
        )
    if not (question or "").strip():
        raise InputError("Type a question first.", key="errors.type_question")
    target = store_for(ctx, request, client_id).open(collection)
    embedder = embedder_for(ctx.registry, recorded=target.embedding)
    hits = target.search(question, embedder, search, registry=ctx.registry)
    return hits, embedder


@ui_errors
@takes_settings(search_settings, "search")
def rag_search(
    ctx: AppContext,
    question: str,
    collection: str,
    search: SearchSettings,
    client_id: str | None = None,
    request: gr.Request = None,
):
    """Retrieve the best passages for a question (no LLM).

    Returns the Sources panel HTML and a JSON list of hits
    ``{"text", "source", "page", "score"}`` in rank order.
    """
    hits, _ = retrieve(ctx, collection, question, search, client_id, request)
    return sources_html(question, hits), [h.to_json() for h in hits]


@keep_inputs_on_failure(outputs=4, inputs={"history": 0})
@ui_errors
@takes_settings(search_settings, "search")
def rag_ask(
    ctx: AppContext,
    question: str,
    history: list,
    collection: str,
    model: str,
    search: SearchSettings,
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
    hits, embedder = retrieve(ctx, collection, question, search, client_id, request)
    history = list(history or []) + [{"role": "user", "content": question}]
    if threshold is None:
        threshold = default_threshold(ctx.registry, embedder.info.name, search.reranker)
    raw = [h.to_json() for h in hits]
    if context_only or not hits:
        text = fixed_message("empty", question) if not hits else context_text(hits)
        history.append({"role": "assistant", "content": text})
        yield history, sources_html(question, hits), raw, "", ""
        return
    if not model:
        raise InputError("pick a chat model first.", key="errors.tabs.pick_chat_model")
    visible_entry(ctx.registry, current_user(request, client_id), model)
    with STOPS.running(stop_key(request, client_id)) as stop:
        history.append({"role": "assistant", "content": ""})
        yield history, gr.skip(), raw, gr.skip(), ""  # the question stays until it is answered
        answers = answer_stream(ctx.registry, model, question, hits, threshold=threshold, stop=stop)
        yield from _stream_answer(answers, history, question, hits, raw)


def _stream_answer(answers, history: list, question: str, hits: list, raw: list):
    """Ask's updates while the chat model writes: the reply, then the sources once known."""
    sources: Any = gr.skip()
    for answer in answers:
        used = answer.hits if answer.found else []
        history[-1]["content"] = link_citations(answer.text, used) if answer.found else answer.text
        if isinstance(sources, str):
            yield history, gr.skip(), gr.skip(), gr.skip(), ""
            continue
        # The sources are known from the first update.
        sources = sources_html(question, used, [h for h in hits if h not in used])
        if answer.stats:  # how many sources the chat model's window took
            sources = stats_html(answer.stats) + sources
        yield history, sources, raw, gr.skip(), ""
    yield history, sources, raw, "", ""  # the final state in full, for API callers


def rag_stop(ctx: AppContext, client_id=None, request: gr.Request = None) -> None:
    """Stop this browser session's answer (the Stop button)."""
    STOPS.stop(stop_key(request, client_id))


def rag_clear() -> tuple[list, str, list]:
    """An empty chat, no sources, no hits."""
    return [], "", []
