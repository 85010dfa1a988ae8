"""The Voice tab through a real client: check, clone (consent, progress), saved voices, isolation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from tests.voice_clips import GOOD_TEXT, make_clips


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="module")
def client(launched_app):
    from gradio_client import Client

    return Client(launched_app.url, verbose=False)


def _file(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def test_voice_endpoints_are_named(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/voice_check", "/voice_clone", "/voice_save"} <= names


def test_check_endpoint_reports_and_fills_transcript(client, clips):
    report, cleaned, transcript = client.predict(
        "tiny-voice", _file(clips["good"]), "", "tiny-asr", "client-a", api_name="/voice_check"
    )
    assert "✅" in report and "usable" in report
    assert cleaned and sf.info(cleaned).samplerate == 24000
    assert isinstance(transcript, str)  # filled by (tiny, random) Whisper


@pytest.mark.parametrize(("clip", "reason"), [("short", "Too short"), ("noise", "music or noise")])
def test_check_endpoint_explains_bad_clips(client, clips, clip, reason):
    report, cleaned, _ = client.predict(
        "tiny-voice", _file(clips[clip]), "", "tiny-asr", "client-a", api_name="/voice_check"
    )
    assert "❌" in report and reason in report and cleaned is None


def test_check_endpoint_rejects_non_audio(client, clips):
    with pytest.raises(Exception, match="not an audio file"):
        client.predict(
            "tiny-voice", _file(clips["not_audio"]), "", "", "client-a", api_name="/voice_check"
        )


def _clone(client, clips, *, consent, saved="", text="Hello there. 你好。", seed=5, who="client-a"):
    return client.predict(
        "tiny-voice", saved, None, _file(clips["good"]), GOOD_TEXT, text, consent, seed,
        1.3, 2, 0.9, 40, who, api_name="/voice_clone",
    )  # fmt: skip


def test_clone_requires_consent(client, clips):
    with pytest.raises(Exception, match="Consent is required"):
        _clone(client, clips, consent=False)


def test_clone_returns_wav_with_metadata(client, clips, launched_app):
    status, audio = _clone(client, clips, consent=True)
    assert "seed **5**" in status and "2 sentence" in status
    data, rate = sf.read(audio)
    assert rate == 24000 and len(data) > 0
    saved = list(Path(launched_app.data_dir, "users").glob("*/voice-outputs/*-5.json"))
    assert saved and json.loads(saved[0].read_text())["consent"]["confirmed"] is True


def test_saved_voice_round_trip_and_isolation(client, clips, launched_app):
    from gradio_client import Client

    _, cleaned, _ = client.predict(
        "tiny-voice", _file(clips["good"]), GOOD_TEXT, "", "client-a", api_name="/voice_check"
    )
    dropdown = client.predict(
        "Narrator", _file(cleaned), GOOD_TEXT, True, "client-a", api_name="/voice_save"
    )
    assert dropdown["value"] == "Narrator" and ["Narrator", "Narrator"] in dropdown["choices"]
    status, audio = _clone(client, clips, consent=True, saved="Narrator", text="Hi.")
    assert "✅" in status and sf.info(audio).samplerate == 24000
    # another session cannot use (or see) this session's voice
    other = Client(launched_app.url, verbose=False)
    with pytest.raises(Exception, match="No saved voice named 'Narrator'"):
        _clone(other, clips, consent=True, saved="Narrator", text="Hi.", who="client-b")


def test_save_requires_consent(client, clips):
    _, cleaned, _ = client.predict(
        "tiny-voice", _file(clips["good"]), GOOD_TEXT, "", "client-a", api_name="/voice_check"
    )
    with pytest.raises(Exception, match="Consent is required"):
        client.predict(
            "Someone", _file(cleaned), GOOD_TEXT, False, "client-a", api_name="/voice_save"
        )


def test_last_assistant_text_reads_messages():
    from playground.chat.messages import last_assistant_text

    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
        {"role": "user", "content": "again"},
    ]
    assert last_assistant_text(messages) == "Hello!"
    assert last_assistant_text([]) == ""


def test_cancel_stops_a_running_generation(client, clips):
    import time

    text = " ".join(f"Sentence number {i}." for i in range(40))
    job = client.submit(
        "tiny-voice", "", None, _file(clips["good"]), GOOD_TEXT, text, True, 1,
        1.3, 2, 0.9, 40, "client-a", api_name="/voice_clone",
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not any("1/40" in str(o) for o in job.outputs()):
        time.sleep(0.2)
    assert any("1/40" in str(o) for o in job.outputs()), "generation did not start"
    client.predict(api_name="/voice_cancel")
    while not job.done() and time.time() < deadline:
        time.sleep(0.2)
    assert job.done()
    statuses = [str(o[0]) for o in job.outputs()]
    assert not any(s.startswith("✅") for s in statuses)  # never finished all 40 sentences
    assert not any("40/40" in s for s in statuses)
    assert statuses[-1].startswith("⏹ Cancelled after")  # the run's own last word
