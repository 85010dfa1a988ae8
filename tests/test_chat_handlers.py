"""The Chat tab's handlers called directly: no Gradio app is built or launched.

Replies come from a scripted stream (``tabs.chat.reply.stream_chat`` patched), so
only the handlers' own logic runs: the shared parameter list, histories in both
compare panes, roles, stop and the model defaults.
"""

from __future__ import annotations

import inspect
import itertools
import typing

import gradio as gr
import pytest

from playground.chat import StreamInfo, load_role
from tabs.chat import handlers, reply, roles
from tabs.common import AppContext, bind, session_key

# The /chat endpoint's named parameters, in order (the API page shows them so).
CHAT_PARAMETERS = [
    "message", "history", "model", "temperature", "top_p", "top_k", "repetition_penalty",
    "max_new_tokens", "seed", "compare", "model_b", "role_b", "history_b", "role_state",
    "language", "client_id", "think", "request",
]  # fmt: skip


@pytest.fixture
def ctx(registry, tmp_path):
    return AppContext(registry=registry, data_dir=tmp_path, i18n=None)


@pytest.fixture
def scripted(monkeypatch):
    """Replace the model: every reply is "Hi <model>", and each call is recorded."""
    sent: list = []

    class Scripted:
        def __init__(self, registry, model, messages, settings, stop=None):
            sent.append((model, messages, settings))
            self.info = StreamInfo(model=model, prompt=f"prompt for {model}", new_tokens=2)

        def __iter__(self):
            yield "Hi"
            yield f"Hi {self.info.model}"

    monkeypatch.setattr(reply, "stream_chat", Scripted)
    return sent


def test_chat_and_regenerate_show_one_parameter_list(ctx):
    chat, regenerate = bind(handlers.chat, ctx), bind(handlers.regenerate, ctx)
    chat_params = inspect.signature(chat).parameters
    assert list(chat_params) == CHAT_PARAMETERS
    assert list(inspect.signature(regenerate).parameters) == CHAT_PARAMETERS[1:]
    defaults = {name: p.default for name, p in chat_params.items()}
    assert defaults["temperature"] == 0.7 and defaults["max_new_tokens"] == 256
    assert defaults["role_b"] == roles.DEFAULT_ROLE and defaults["think"] is False
    for endpoint in (chat, regenerate):  # Gradio fills in the request only when it sees its type
        assert typing.get_type_hints(endpoint)["request"] is gr.Request
    assert chat.__doc__.startswith("Send a message to the chat model")


def test_reply_options_build_the_generation_settings_once():
    options = reply.reply_options("tiny-chat", temperature=0, seed=-1, think=True)
    assert options.settings.temperature == 0 and options.settings.seed is None
    assert options.settings.enable_thinking is True
    assert options.role_state == load_role(roles.DEFAULT_ROLE).to_dict()
    assert reply.reply_options("m", seed="7").settings.seed == 7
    with pytest.raises(Exception, match="top_p"):
        reply.reply_options("m", top_p=1.5)


def test_chat_streams_into_both_panes_in_compare_mode(ctx, scripted):
    history = [{"role": "assistant", "content": "Hello!"}]
    outs = list(handlers.chat(ctx, "hello", history, "tiny-chat", compare=True,
                              model_b="tiny-chat", history_b=list(history), max_new_tokens=8))  # fmt: skip
    assert outs[0][2] == "" and outs[0][3] == ""  # the box and the notice are emptied at once
    final_a, final_b, box, notice, prompt_a, prompt_b = outs[-1]
    assert [m["role"] for m in final_a] == ["assistant", "user", "assistant"]
    assert final_a[-1]["content"] == "Hi tiny-chat" and final_b[-1]["content"] == "Hi tiny-chat"
    assert isinstance(box, dict)  # gr.skip(): the box is left as the first update made it
    assert notice.count("**tiny-chat**: 2 tokens") == 2
    assert prompt_a == prompt_b == "prompt for tiny-chat"
    assert len(scripted) == 2 and scripted[0][2].max_new_tokens == 8


def test_streaming_updates_carry_values_not_skips(ctx, scripted):
    # Gradio 6 rebuilds a component for every gr.skip(), on every token of every user:
    # only the message box (which the user may be typing in) is skipped while streaming.
    def skips(update) -> int:
        return sum(isinstance(value, dict) for value in update)

    history_b = [{"role": "assistant", "content": "earlier B"}]
    outs = list(handlers.chat(ctx, "hello", [], "tiny-chat", history_b=history_b))
    assert [skips(update) for update in outs[1:]] == [1] * (len(outs) - 1)
    assert all(update[1] == history_b for update in outs)  # B is sent as it was, not dropped
    assert [update[4] for update in outs[1:]] == ["prompt for tiny-chat"] * (len(outs) - 1)
    again = list(handlers.regenerate(ctx, outs[-1][0], "tiny-chat", compare=True,
                                     model_b="tiny-chat", history_b=outs[-1][0]))  # fmt: skip
    assert [skips(update) for update in again] == [0] * len(again)


def test_regenerate_answers_the_last_message_again(ctx, scripted):
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "old"}]
    outs = list(handlers.regenerate(ctx, history, "tiny-chat", seed=3))
    assert outs[-1][0] == [{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "Hi tiny-chat"}]  # fmt: skip
    assert scripted[-1][2].seed == 3 and scripted[-1][1][-1]["content"].find("hi") >= 0
    with pytest.raises(gr.Error, match="nothing to regenerate"):
        list(handlers.regenerate(ctx, [{"role": "assistant", "content": "Hello!"}], "tiny-chat"))


def test_chat_refuses_an_empty_message_or_no_model(ctx, scripted):
    with pytest.raises(gr.Error, match="type a message first"):
        list(handlers.chat(ctx, "  ", [], "tiny-chat"))
    with pytest.raises(gr.Error, match="pick a model first"):
        list(handlers.chat(ctx, "hello", [], ""))
    assert scripted == []


def test_stop_reply_reaches_the_running_reply():
    with reply.STOPS.running(session_key(None)) as stop:
        handlers.stop_reply(None)
        assert stop.is_set()


def test_a_reply_sends_its_last_update_before_its_stop_flag_ends(ctx, scripted):
    """What Clear relies on: once the flag's block has ended, the reply has nothing more to send."""
    key = session_key(None)
    steps = handlers.chat(ctx, "hello", [], "tiny-chat")
    updates = list(itertools.takewhile(lambda update: not update[3], steps))  # until the notice
    assert updates and reply.STOPS.stop_and_wait(key, timeout=0) is False  # still running
    assert list(steps) == []  # the notice was the last update
    assert reply.STOPS.stop_and_wait(key, timeout=0) is True


def test_edit_last_and_clear(ctx):
    history = [
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
    ]
    kept, kept_b, text = handlers.edit_last(history, list(history))
    assert text == "first" and kept == kept_b == history[:1]
    with pytest.raises(gr.Error):
        handlers.edit_last([], [])
    role = load_role(roles.DEFAULT_ROLE)
    cleared = handlers.clear(ctx, role.to_dict())
    assert cleared == (roles.greeting(role), roles.greeting(role), "", "", "")


def test_model_defaults_fill_the_sliders_but_the_seed(ctx):
    values = handlers.model_defaults(ctx, "tiny-chat")
    assert len(values) == 5 and all(isinstance(v, (int, float)) for v in values)
    assert handlers.model_defaults(ctx, None)[0] == 0.7  # no model: the plain defaults


def test_role_handlers_save_list_and_delete(ctx):
    role = load_role(roles.DEFAULT_ROLE)
    values = roles.builder_values(role)
    prompt, state = roles.assemble(*values)
    assert prompt == role.system_prompt() and state["name"] == role.name
    edited = dict(zip(roles.EDITABLE_FIELDS, values, strict=True))
    edited.update(name="Pirate helper", role="You talk like a pirate.")
    prompt, state = roles.assemble(*edited.values())  # what an edit in the builder does
    assert "You talk like a pirate." in prompt
    picked, role_b = roles.save_role(ctx, state)
    assert picked["value"] == roles.USER_PREFIX + "pirate-helper"
    assert ("★ Pirate helper", picked["value"]) in role_b["choices"]
    shown = roles.pick_role(ctx, picked["value"], "en", None, None)
    assert "pirate" in shown[roles.EDITABLE_FIELDS.index("role")]
    with pytest.raises(gr.Error, match="presets stay"):
        roles.delete_role(ctx, roles.DEFAULT_ROLE, "en", None, None)
    after = roles.delete_role(ctx, picked["value"], "en", None, None)
    assert after[0]["value"] == roles.DEFAULT_ROLE
    assert all(value != picked["value"] for _, value in after[1]["choices"])
    with pytest.raises(gr.Error, match="to import"):
        roles.import_role(ctx, None, "en", None, None)
