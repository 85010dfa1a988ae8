"""A failed action keeps the user's work and shows why in the tab's status area."""

from __future__ import annotations

import gradio as gr
import pytest

import app

BROWSER = gr.Request(headers={"accept-language": "en"}, session_hash="s1")
API = gr.Request(headers={"x-gradio-user": "api"}, session_hash="s2")


@pytest.fixture(scope="module")
def rag_ask(tiny_models, tmp_path_factory):
    args = app.parse_args(
        ["--config", str(tiny_models), "--data-dir", str(tmp_path_factory.mktemp("data"))]
    )
    demo = app.build_app(args)
    return next(f.fn for f in demo.fns.values() if f.api_name == "rag_ask")


def test_ask_failure_in_the_browser_keeps_question_answer_and_sources(rag_ask):
    history = [
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer [1]"},
    ]
    steps = list(rag_ask("What is the refund policy?", history, "", "tiny-chat", request=BROWSER))
    assert len(steps) == 1
    kept_history, sources, raw, question, status = steps[0]
    assert kept_history == history  # the earlier answer is still there
    # the Sources panel, the hits and the typed question are left untouched
    assert all(isinstance(v, type(gr.skip())) for v in (sources, raw, question))
    assert "pick a collection" in status.lower() and status.startswith("⚠️")


def test_ask_failure_through_the_api_is_still_an_error(rag_ask):
    with pytest.raises(gr.Error, match="(?i)pick a collection"):
        list(rag_ask("What is the refund policy?", [], "", "tiny-chat", request=API))
