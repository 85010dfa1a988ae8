"""The voice line-up: Pocket TTS as a family, a model that speaks the text's language, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from playground.config import load_config
from playground.errors import InputError
from playground.registry import Registry
from playground.voice import Reference, VoiceSettings, check_reference, clone
from playground.voice.lineup import pick_voice_model, text_language
from tests.voice_clips import GOOD_TEXT, make_clips

ROOT = Path(__file__).resolve().parents[1]
CHINESE = "你好，今天天气很好。我们去公园散步吧。"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello there, how are you today?", "en"),
        (CHINESE, "zh"),
        ("I met 王小明 at the station.", "zh"),  # any Chinese needs a model that reads it
        ("Bonjour, je suis très content de vous voir dans la ville.", "fr"),
        ("Der Hund ist nicht in dem Haus und die Katze auch nicht.", "de"),
        ("Hola, ¿cómo está usted? Es muy bueno para el día.", "es"),
        ("Ciao, questo è il mio amico che non parla.", "it"),
        ("Olá, você está muito bem? Não sei para onde vamos.", "pt"),
        ("12345", "en"),
    ],
)
def test_text_language(text, language):
    assert text_language(text) == language


@pytest.fixture(scope="module")
def lineup():
    """The shipped models.yaml (nothing is loaded: picking reads the entries)."""
    return Registry(load_config(ROOT / "models.yaml"))


def test_shipped_defaults(lineup):
    assert lineup.names("chat")[0].startswith("qwen3-")
    assert lineup.entry(lineup.names("chat")[0]).source == "Qwen/Qwen3-0.6B"
    pocket = [
        n for n in lineup.names("voice-clone") if lineup.entry(n).options["family"] == "pocket-tts"
    ]
    assert pocket and "zh" not in lineup.entry(pocket[0]).languages


def test_chinese_on_a_cpu_only_lineup_picks_vibevoice(lineup):
    pick = pick_voice_model(lineup, CHINESE, device="cpu")
    assert pick.model == "vibevoice-1.5b" and pick.language == "zh"
    assert "Chinese" in pick.reason
    english = pick_voice_model(lineup, "Hello there.", device="cpu")
    assert english.model == "pocket-tts" and "CPU" in english.reason
    assert pick_voice_model(lineup, "Hello there.", device="cuda").model == "vibevoice-1.5b"


def test_a_model_that_cannot_speak_the_text_is_refused_naming_those_that_can(lineup):
    with pytest.raises(InputError, match=r"'pocket-tts' cannot speak Chinese.*vibevoice-1\.5b"):
        pick_voice_model(lineup, CHINESE, chosen="pocket-tts", device="cpu")


def test_chinese_refused_when_no_model_speaks_it(tiny_config, tmp_path):
    import yaml

    data = yaml.safe_load(Path(tiny_config.path).read_text())
    data["models"] = [m for m in data["models"] if m["name"] == "tiny-voice-pocket"]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    registry = Registry(load_config(path))
    with pytest.raises(InputError, match="No configured voice model speaks Chinese"):
        pick_voice_model(registry, CHINESE, device="cpu")


@pytest.fixture(scope="module")
def reference(shared_registry, clips):
    report = check_reference(shared_registry, "tiny-voice-pocket", clips["good"], GOOD_TEXT)
    return Reference.from_report(report)


def test_tiny_pocket_tts_clones_reproducibly(shared_registry, reference):
    entry = shared_registry.entry("tiny-voice-pocket")
    assert entry.options["family"] == "pocket-tts"
    settings = VoiceSettings(seed=4, temperature=0.7)
    first = clone(shared_registry, "tiny-voice-pocket", reference, "Hello there. Bonjour.",
                  settings, consent=True)  # fmt: skip
    again = clone(shared_registry, "tiny-voice-pocket", reference, "Hello there. Bonjour.",
                  settings, consent=True)  # fmt: skip
    assert first.sample_rate == 24000 and first.sentences == ["Hello there.", "Bonjour."]
    assert first.seconds > 0.5 and np.array_equal(first.audio, again.audio)
    other = clone(shared_registry, "tiny-voice-pocket", reference, "Hello there. Bonjour.",
                  VoiceSettings(seed=5, temperature=0.7), consent=True)  # fmt: skip
    assert not np.array_equal(first.audio, other.audio)  # the seed drives the flow noise


def test_engine_refuses_chinese_for_pocket_tts(shared_registry, reference):
    with pytest.raises(InputError, match=r"cannot speak Chinese.*tiny-voice\b"):
        clone(shared_registry, "tiny-voice-pocket", reference, CHINESE, consent=True)


def test_cli_clone_on_tiny_pocket_tts_and_auto_pick(tiny_models, clips, tmp_path, capsys):
    from playground.cli import main

    out = tmp_path / "said.wav"
    args = ["voice", "clone", "--config", str(tiny_models), "--model", "tiny-voice-pocket",
            "--reference", str(clips["good"]), "--seed", "3", "--out", str(out), "--consent",
            "Hello there. How are you?"]  # fmt: skip
    assert main(args) == 0
    data, rate = sf.read(out)
    assert rate == 24000 and len(data) > 0
    auto = ["voice", "clone", "--config", str(tiny_models), "--reference", str(clips["good"]),
            "--out", str(tmp_path / "zh.wav"), "--consent", "--seed", "1", "你好。"]  # fmt: skip
    assert main(auto) == 0
    assert "voice model: tiny-voice:" in capsys.readouterr().err  # the one that speaks Chinese


def test_voice_tab_auto_says_which_and_why(tiny_models, clips, tmp_path):
    import app

    demo = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    clone_voice = next(f for f in demo.fns.values() if f.api_name == "voice_clone").fn

    def run(model, text):
        return list(clone_voice(model, "", None, str(clips["good"]), GOOD_TEXT, text, True, 2,
                                1.3, 2, 0.7, 40, "client-a", None))  # fmt: skip

    status, audio = run("auto", "Hello there.")[-1]
    assert "tiny-voice-pocket" in status and "CPU" in status and audio
    status, _ = run("auto", "你好。")[-1]
    assert "tiny-voice:" in status and "Chinese" in status
    with pytest.raises(Exception, match=r"cannot speak Chinese.*tiny-voice\b"):
        run("tiny-voice-pocket", "你好。")
