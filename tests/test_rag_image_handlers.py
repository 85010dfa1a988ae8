"""The Documents and Image tabs' handlers, called directly with an app context of their own."""

from __future__ import annotations

import inspect

import pytest

from tabs.common import AppContext, bind, session_key


def _quiet(*_args, **_kwargs) -> None:
    """Stands in for gr.Progress outside an event."""


@pytest.fixture
def ctx(registry, tmp_path):
    from tabs.i18n import build_i18n

    context = AppContext(registry=registry, data_dir=tmp_path / "data", i18n=build_i18n())
    yield context
    registry.unload_all()


def test_search_and_ask_show_the_shared_retrieval_parameters(ctx):
    from tabs.rag import rag_ask, rag_search

    search = inspect.signature(bind(rag_search, ctx)).parameters
    assert list(search) == [
        "question",
        "collection",
        "k",
        "mode",
        "reranker",
        "client_id",
        "request",
    ]
    ask = inspect.signature(bind(rag_ask, ctx)).parameters
    assert list(ask) == [
        "question", "history", "collection", "model", "k", "mode", "reranker", "threshold",
        "context_only", "client_id", "request",
    ]  # fmt: skip
    for parameters in (search, ask):
        assert [parameters[n].default for n in ("k", "mode", "reranker")] == [5, "hybrid", ""]
    assert bind(rag_ask, ctx).__doc__.startswith("Answer a question from a collection")


def test_index_search_and_context_only_ask(ctx, tmp_path):
    from tabs.rag import rag_ask, rag_collections, rag_index, rag_search

    notes = tmp_path / "notes.txt"
    notes.write_text(  # ~90 characters a paragraph: with 100-character chunks, two chunks
        "The kettle boils a full litre of water in about two minutes when the lid is closed.\n\n"
        "The toaster browns two slices of bread in three minutes on its middle setting.\n"
    )
    status, listing, rows, _pick, files = rag_index(
        ctx, [str(notes)], "Kitchen", "tiny-embedding", 100, 0, progress=_quiet
    )
    assert "**Kitchen**" in status and rows[0][0] == "notes.txt" and files is None
    listing, rows, _pick = rag_collections(ctx)  # nothing picked: the first collection
    assert listing.value == "Kitchen" and rows[0][0] == "notes.txt"

    html, hits = rag_search(ctx, "kettle", "Kitchen", k=1)
    assert len(hits) == 1 and "<mark>kettle</mark>" in html.lower()
    *_, (history, sources, raw, question, status) = rag_ask(
        ctx, "How fast is the kettle?", [], "Kitchen", "", k=2, context_only=True
    )
    assert history[-1]["role"] == "assistant" and "notes.txt" in history[-1]["content"]
    assert len(raw) == 2 and 'id="rag-src-1"' in sources and question == "" and status == ""


def test_a_failed_ask_keeps_the_inputs_and_says_why(ctx):
    from tabs.rag import rag_ask

    typed = [{"role": "user", "content": "earlier"}]
    updates = list(rag_ask(ctx, "a question", typed, "", "tiny-chat"))
    history, *_skipped, status = updates[-1]
    assert history == typed and status.startswith("⚠️")


def test_stop_reaches_only_this_sessions_answer(ctx):
    from tabs.rag import rag_stop
    from tabs.rag.answer_handlers import STOPS, stop_key

    with STOPS.running(stop_key(None, None)) as stop:
        rag_stop(ctx)
        assert stop.is_set()


def test_image_cancel_stops_this_pages_generation(ctx):
    from tabs.image.generate import STOPS, cancel_message

    assert cancel_message(None) == "Nothing is running."
    with STOPS.running(session_key(None)) as cancel:
        assert "Cancelling" in cancel_message(None)
        assert cancel.is_set()


def test_image_cancel_while_waiting_ends_the_run_before_any_work(ctx):
    from tabs.image import generate
    from tabs.image.generate import STOPS, cancel_message

    STOPS.arm(session_key(None))  # the click's light step, before the device queue
    assert "Cancelling" in cancel_message(None)  # Cancel while the run waits for its turn
    updates = list(
        generate(ctx, "tiny-image", "a cat", "", 64, 64, 2, 4.0, "Euler a", 7, 1, progress=_quiet)
    )
    assert [update[1] for update in updates] == [
        "Cancelled while it waited for its turn; nothing was generated."
    ]
    assert not ctx.registry.is_loaded("tiny-image")


def test_image_generate_streams_then_fills_the_gallery(ctx):
    from tabs.image import generate

    updates = list(
        generate(ctx, "tiny-image", "a cat", "", 64, 64, 2, 4.0, "Euler a", 7, 1, progress=_quiet)
    )
    gallery, status, preview, notes, last_seed = updates[-1]
    assert len(gallery) == 1 and "7" in status and last_seed == 7
    assert preview["visible"] is False


def test_png_parameters_go_back_into_the_form(ctx, tmp_path):
    from PIL import Image

    from playground.image import ImageParams
    from playground.image.history import save_image
    from tabs.image import from_png
    from tabs.image.params import FIELD_COUNT

    params = ImageParams(
        prompt="a fox", negative_prompt="", steps=4, sampler="Nobody's sampler", guidance=5.0,
        seed=3, width=64, height=64, model="not-a-model",
    )  # fmt: skip
    path = save_image(tmp_path, Image.new("RGB", (64, 64)), params)
    *values, note = from_png(ctx, str(path))
    assert len(values) == FIELD_COUNT and values[1:3] == ["a fox", ""]
    assert values[7] == "default" and values[8] == 3
    assert "not-a-model" in note and "Nobody's sampler" in note
    assert len(from_png(ctx, None)) == FIELD_COUNT + 1
