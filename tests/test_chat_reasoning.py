"""Thinking replies: the Think switch drives the template; reasoning is shown folded, never reused.

A random tiny model never writes ``<think>`` on its own, so the consumers are
fed a scripted thinking reply; the template, prompt building and Chatbot
folding run for real.
"""

from __future__ import annotations

import gradio as gr
import pytest

import app
from playground.chat import GenerationSettings, StreamInfo, prepare, render_prompt
from playground.chat.reasoning import (
    REASONING_TAGS,
    is_reasoning_message,
    split_reasoning,
    strip_reasoning,
)

REPLY = "<think>\nThe user greets me. SECRET-PLAN: answer politely.\n</think>\n\nPrompt: a red fox"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(
    ("text", "reasoning", "answer"),
    [
        (REPLY, "The user greets me. SECRET-PLAN: answer politely.", "Prompt: a red fox"),
        ("plain answer", "", "plain answer"),
        ("<think>still thinking", "still thinking", ""),  # streaming / out of tokens
        ("opened by the template</think>answer", "opened by the template", "answer"),
        ("<think>\n\n</think>\n\nquick", "", "quick"),  # thinking off: Qwen3's empty block
    ],
)
def test_split_reasoning(text, reasoning, answer):
    split = split_reasoning(text)
    assert (split.reasoning, split.answer) == (reasoning, answer)
    assert strip_reasoning(text) == answer


def test_think_switch_changes_the_template(shared_registry):
    off = render_prompt(shared_registry, "tiny-chat", HELLO, GenerationSettings(max_new_tokens=8))
    on = render_prompt(
        shared_registry,
        "tiny-chat",
        HELLO,
        GenerationSettings(max_new_tokens=8, enable_thinking=True),
    )
    assert off.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # answer at once
    assert on.text.endswith("<|im_start|>assistant\n")  # the model opens its own <think>
    assert on.prompt_tokens < off.prompt_tokens


@pytest.mark.parametrize("think", [False, True])
def test_reasoning_never_goes_back_to_the_model(shared_registry, think):
    tokenizer = shared_registry.get("tiny-chat").tokenizer
    history = [*HELLO, {"role": "assistant", "content": REPLY}, {"role": "user", "content": "ok"}]
    prepared = prepare(
        tokenizer, history, context_window=2048, max_new_tokens=8, enable_thinking=think
    )
    assert "SECRET-PLAN" not in prepared.text
    # ours, not only the template's: what endpoints and other templates get is clean too
    assert all("SECRET-PLAN" not in m["content"] for m in prepared.messages)
    assert "Prompt: a red fox" in prepared.text
    # the room left for the prompt is the window minus the reply's (reasoning + answer) budget
    with pytest.raises(Exception, match="context window of 40 tokens"):
        prepare(tokenizer, history, context_window=40, max_new_tokens=40, enable_thinking=think)


def _folded(chatbot: gr.Chatbot, text: str) -> list[dict]:
    value = chatbot.postprocess([*HELLO, {"role": "assistant", "content": text}])
    return [m.model_dump() for m in value.root]


@pytest.fixture(scope="module")
def demo(tiny_models, tmp_path_factory):
    args = app.parse_args(
        ["--config", str(tiny_models), "--data-dir", str(tmp_path_factory.mktemp("think"))]
    )
    return app.build_app(args)


def _fn(demo, api_name):
    return next(f for f in demo.fns.values() if f.api_name == api_name).fn


def test_chat_tab_folds_reasoning_and_sends_none_back(demo, monkeypatch):
    import tabs.chat

    chatbots = [b for b in demo.blocks.values() if isinstance(b, gr.Chatbot)]
    assert chatbots and all(b.reasoning_tags == REASONING_TAGS for b in chatbots[:2])
    shown = _folded(chatbots[0], REPLY)
    assert shown[-2]["metadata"]["title"] == "Reasoning"
    assert "SECRET-PLAN" in shown[-2]["content"][0]["text"]
    assert "SECRET-PLAN" not in shown[-1]["content"][0]["text"]

    sent: list = []

    class Scripted:
        def __init__(self, registry, model, messages, settings, stop=None):
            sent.append((messages, settings))
            self.info = StreamInfo(model=model, prompt="p")

        def __iter__(self):
            yield REPLY

    monkeypatch.setattr(tabs.chat.reply, "stream_chat", Scripted)
    chat = _fn(demo, "chat")
    # the history as the browser sends it back: the reasoning is its own folded message
    outs = list(chat("next", shown, "tiny-chat", max_new_tokens=8, think=True))
    messages, settings = sent[-1]
    assert settings.enable_thinking is True
    assert all("SECRET-PLAN" not in m["content"] for m in messages)
    assert outs[-1][0][-1]["content"] == REPLY  # the new reply streams whole, folded by the UI
    list(chat("again", shown, "tiny-chat", max_new_tokens=8))
    assert sent[-1][1].enable_thinking is False  # off by default


def test_speak_and_image_assistant_get_the_answer_only(demo):
    from playground.chat.messages import last_assistant_text
    from playground.image.assistant import parse_reply

    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    shown = _folded(chatbot, REPLY)
    assert is_reasoning_message(shown[-2])
    for history in (shown, [*HELLO, {"role": "assistant", "content": REPLY}]):
        assert last_assistant_text(history) == "Prompt: a red fox"
    suggestion = parse_reply(REPLY)
    assert suggestion.prompt == "a red fox" and "SECRET" not in suggestion.prompt


def test_documents_answer_is_not_the_reasoning(registry, monkeypatch):
    import playground.chat
    from playground.rag.answer import answer_stream
    from playground.rag.chunking import Chunk
    from playground.rag.index import Hit

    def scripted(*args, **kwargs):
        yield "<think>SECRET-PLAN"
        yield REPLY.replace("Prompt: a red fox", "Foxes are red [1].")

    monkeypatch.setattr(playground.chat, "stream_chat", scripted)
    chunk = Chunk("Foxes are red.", "fox.txt", "d1", None, "", 0, 14, 4)
    hit = Hit(rank=1, chunk=chunk, score=1.0, relevance=1.0)
    answers = list(answer_stream(registry, "tiny-chat", "Why?", [hit], threshold=0.0))
    assert answers[0].text == "" and "SECRET-PLAN" in answers[0].reasoning
    assert answers[-1].done and answers[-1].text == "Foxes are red [1]."
    assert all("SECRET" not in a.text for a in answers)
