"""The Voice tab's "Speak" button under a Chat chatbot (the chat tab's shared components)."""

from __future__ import annotations

import json

import pytest
import soundfile as sf

from tests.conftest import free_port
from tests.voice_clips import GOOD_TEXT, make_clips


@pytest.fixture(scope="module")
def speak_app(tiny_config, tmp_path_factory):
    import gradio as gr

    from app import security_launch_kwargs
    from playground.registry import Registry
    from tabs import voice
    from tabs.common import AppContext
    from tabs.i18n import build_i18n
    from tabs.identity import Identity

    data_dir = tmp_path_factory.mktemp("speak-data")
    i18n = build_i18n()
    with gr.Blocks() as demo:
        client_id = gr.State(None)
        ctx = AppContext(registry=Registry(tiny_config), data_dir=data_dir, i18n=i18n,
                         client_id=client_id)  # fmt: skip
        chatbot = gr.Chatbot(
            value=[{"role": "user", "content": "hi"},
                   {"role": "assistant", "content": "Hello there. 你好。"}]
        )  # fmt: skip
        with gr.Row() as actions:
            pass
        ctx.shared.update({"chat.chatbot": chatbot, "chat.actions": actions})
        voice.build(ctx)
    demo.identity = Identity.create(data_dir)  # as app.build_app does
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                i18n=i18n, quiet=True, **security_launch_kwargs(demo))  # fmt: skip
    yield f"http://127.0.0.1:{port}/", actions, data_dir
    demo.close()


def test_speak_button_is_added_to_chat_actions(speak_app):
    _, actions, _ = speak_app

    def kinds(block):
        for child in block.children:
            yield from kinds(child) if type(child).__name__ == "Form" else [type(child).__name__]

    assert list(kinds(actions)) == ["Dropdown", "Button", "Audio"]


def test_speak_reads_last_reply_with_a_saved_voice(speak_app, tmp_path):
    from gradio_client import Client, handle_file

    url, _, data_dir = speak_app
    clips = make_clips(tmp_path / "clips")
    client = Client(url, verbose=False)
    _, cleaned, _ = client.predict(
        "tiny-voice", handle_file(str(clips["good"])), GOOD_TEXT, "", api_name="/voice_check"
    )
    client.predict("Me", handle_file(cleaned), GOOD_TEXT, True, api_name="/voice_save")
    history = [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello. 你好。"}]},
    ]
    audio = client.predict(history, "Me", "tiny-voice", api_name="/voice_speak")
    assert sf.info(audio).samplerate == 24000
    # The metadata carries the consent recorded when the voice was saved: who, and when.
    voice_json = next(data_dir.glob("users/anon-*/voices/*/voice.json"))
    saved = json.loads(voice_json.read_text())["consent"]
    owner = voice_json.parts[-4]
    assert saved["by"] == owner and saved["at"]
    record = json.loads(
        next(data_dir.glob(f"users/{owner}/voice-outputs/speak-*.json")).read_text()
    )
    assert record["consent"]["by"] == owner and record["consent"]["confirmed_at"] == saved["at"]
    with pytest.raises(Exception, match="No saved voice"):  # another visitor has no "Me"
        Client(url, verbose=False).predict(history, "Me", "tiny-voice", api_name="/voice_speak")
    # A voice saved without a record of who consented (an older folder) is refused.
    voice_json.write_text(json.dumps({**json.loads(voice_json.read_text()), "consent": None}))
    with pytest.raises(Exception, match="no record of who confirmed"):
        client.predict(history, "Me", "tiny-voice", api_name="/voice_speak")
