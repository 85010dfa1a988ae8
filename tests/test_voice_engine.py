"""Voice cloning with the tiny VibeVoice: audio, lengths, seeds, cancel, consent, saved voices."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from playground.errors import CancelledError, InputError
from playground.voice import (
    AI_NOTE,
    Reference,
    SentenceDone,
    SynthesisResult,
    VoiceLibrary,
    VoiceSettings,
    check_reference,
    clone,
    clone_stream,
    read_wav_info,
)
from playground.voice.asr import transcribe
from playground.voice.engine import max_frames_for
from tests.voice_clips import GOOD_TEXT, make_clips

MODEL = "tiny-voice"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="module")
def reference(shared_registry, clips) -> Reference:
    report = check_reference(shared_registry, MODEL, clips["good"], GOOD_TEXT)
    return Reference.from_report(report, voice_name="espeak")


def run(registry, reference, text, **kw) -> SynthesisResult:
    settings = VoiceSettings(seed=kw.pop("seed", 7), **kw.pop("settings", {}))
    return clone(registry, MODEL, reference, text, settings, consent=kw.pop("consent", True), **kw)


def test_tiny_model_loads_through_the_registry(shared_registry):
    vm = shared_registry.get(MODEL)
    assert vm.family.name == "vibevoice"
    assert vm.sample_rate == 24000 and vm.frame_rate == 7.5
    assert shared_registry.state(MODEL) == "loaded"


def test_audio_at_model_rate_and_length_grows_with_text(shared_registry, reference):
    short = run(shared_registry, reference, "Hello there.")
    long = run(shared_registry, reference, "Hello there. This is a second sentence. 这是第三句。")
    assert short.sample_rate == long.sample_rate == 24000
    assert short.audio.dtype == np.float32 and short.audio.ndim == 1
    assert short.seconds > 0.3
    assert long.seconds > short.seconds * 2
    assert long.sentences == ["Hello there.", "This is a second sentence.", "这是第三句。"]


def test_frame_budget_follows_the_text():
    opts = {"max_frames_per_sentence": 1000}
    assert max_frames_for("Hi.", 7.5, opts) < max_frames_for(
        "A much longer sentence " * 4, 7.5, opts
    )
    assert max_frames_for("word " * 500, 7.5, {"max_frames_per_sentence": 90}) == 90


def test_same_seed_same_audio_other_seed_differs(shared_registry, reference):
    a = run(shared_registry, reference, "Hello there.", seed=123)
    b = run(shared_registry, reference, "Hello there.", seed=123)
    c = run(shared_registry, reference, "Hello there.", seed=124)
    assert a.seed == b.seed == 123
    assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


def test_no_seed_picks_one_and_reports_it(shared_registry, reference):
    settings = VoiceSettings()
    first = clone(shared_registry, MODEL, reference, "Hi.", settings, consent=True)
    again = run(shared_registry, reference, "Hi.", seed=first.seed)
    assert np.array_equal(first.audio, again.audio)


def test_progress_per_sentence_then_result(shared_registry, reference):
    items = list(
        clone_stream(
            shared_registry,
            MODEL,
            reference,
            "One. Two. Three.",
            VoiceSettings(seed=1),
            consent=True,
        )
    )
    steps = [i for i in items if isinstance(i, SentenceDone)]
    assert [(s.index, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]
    assert steps[0].seconds < steps[-1].seconds
    assert isinstance(items[-1], SynthesisResult)


def test_cancel_between_sentences(shared_registry, reference):
    stop = threading.Event()
    seen = []

    def on_progress(step):
        seen.append(step.index)
        stop.set()  # the user presses Cancel after the first sentence

    with pytest.raises(CancelledError, match="after 1 of 3"):
        clone(
            shared_registry, MODEL, reference, "One. Two. Three.", VoiceSettings(seed=1),
            consent=True, stop=stop, on_progress=on_progress,
        )  # fmt: skip
    assert seen == [1]
    assert shared_registry._in_use[MODEL] == 0  # the model is released


def test_cancel_inside_a_sentence_stops_generation(shared_registry, reference):
    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError, match="after 0 of 1"):
        run(shared_registry, reference, "Hello.", stop=stop)
    # mid-generation: the stopping criterion ends generate() early
    vm = shared_registry.get(MODEL)
    from playground.voice.families import GenerationControls

    stop_now = threading.Event()
    stop_now.set()
    audio = vm.family.generate(
        vm, reference.audio.samples, None, "Hello there.",
        controls=GenerationControls(diffusion_steps=2), max_frames=12, stop=stop_now,
    )  # fmt: skip
    full = vm.family.generate(
        vm, reference.audio.samples, None, "Hello there.",
        controls=GenerationControls(diffusion_steps=2), max_frames=12, stop=None,
    )  # fmt: skip
    assert len(audio) < len(full)


def test_consent_is_required(shared_registry, reference):
    with pytest.raises(InputError, match="Consent is required"):
        run(shared_registry, reference, "Hello.", consent=False)
    with pytest.raises(InputError, match="Consent is required"):
        VoiceLibrary(shared_registry.config.base_dir / "v").save("x", reference, consent=False)


def test_empty_text_is_an_input_error(shared_registry, reference):
    with pytest.raises(InputError, match="no text"):
        run(shared_registry, reference, "  ...  ")


def test_unusable_reference_cannot_be_used(shared_registry, clips):
    report = check_reference(shared_registry, MODEL, clips["silence"])
    with pytest.raises(InputError, match="silence"):
        Reference.from_report(report)


def test_output_wav_carries_model_ai_note_and_consent(shared_registry, reference, tmp_path):
    result = run(shared_registry, reference, "Hello there.", owner="user-alice")
    path = result.save(tmp_path / "out.wav")
    info = read_wav_info(path)
    assert "AI-generated" in info["title"] and MODEL in info["title"]
    assert AI_NOTE in info["comment"] and "Consent: speaker permission confirmed" in info["comment"]
    assert "AIGC Playground" in info["software"]
    import json

    record = json.loads(path.with_suffix(".json").read_text())
    assert record["model"] == MODEL and record["ai_generated"] is True
    assert record["consent"]["confirmed"] is True and record["consent"]["by"] == "user-alice"
    import soundfile as sf

    data, rate = sf.read(path)
    assert rate == 24000 and len(data) == len(result.audio)


def test_saved_voice_round_trip(reference, tmp_path):
    library = VoiceLibrary(tmp_path / "voices")
    saved = library.save("Alice 爱丽丝", reference, consent=True)
    assert library.names() == ["Alice 爱丽丝"]
    loaded = library.load("Alice 爱丽丝")
    assert loaded.transcript == reference.transcript
    assert loaded.voice_name == "Alice 爱丽丝"
    assert loaded.audio.sample_rate == reference.audio.sample_rate
    assert np.allclose(loaded.audio.samples, reference.audio.samples, atol=1e-4)
    assert saved.seconds == pytest.approx(reference.audio.seconds, abs=0.01)
    library.save("Alice 爱丽丝", reference, consent=True)  # replace in place
    assert library.names() == ["Alice 爱丽丝"]
    library.delete("Alice 爱丽丝")
    assert library.names() == []
    with pytest.raises(InputError, match="No saved voice"):
        library.load("Alice 爱丽丝")


def test_saved_voices_are_isolated_between_users(reference, tmp_path):
    from playground.storage import user_dir

    alice = VoiceLibrary(user_dir(tmp_path, "user-alice", "voices"))
    bob = VoiceLibrary(user_dir(tmp_path, "user-bob", "voices"))
    alice.save("mine", reference, consent=True)
    assert bob.names() == []
    with pytest.raises(InputError):
        bob.load("mine")


def test_transcribe_with_tiny_whisper(shared_registry, reference):
    text = transcribe(shared_registry, "tiny-asr", reference.audio)
    assert isinstance(text, str)
    with pytest.raises(InputError, match="not a speech-recognition"):
        transcribe(shared_registry, MODEL, reference.audio)


# ---------------------------------------------------------------- second family: CSM

CSM = "tiny-voice-csm"


def test_csm_family_clones_with_its_transcript(shared_registry, reference):
    settings = VoiceSettings(seed=1)
    short = clone(shared_registry, CSM, reference, "Hi.", settings, consent=True)
    vm = shared_registry.get(CSM)
    assert vm.family.name == "csm" and vm.family.needs_transcript
    assert short.sample_rate == 24000 and short.seconds > 0
    two = clone(shared_registry, CSM, reference, "Hi. Bye.", settings, consent=True)
    assert two.seconds > short.seconds * 1.5
    again = clone(shared_registry, CSM, reference, "Hi.", settings, consent=True)
    assert np.array_equal(short.audio, again.audio)


def test_csm_needs_the_reference_transcript(shared_registry, reference):
    bare = Reference(reference.audio, None)
    with pytest.raises(InputError, match="needs the reference transcript"):
        clone(shared_registry, CSM, bare, "Hi.", VoiceSettings(seed=1), consent=True)


def test_shared_voice_prompt_gives_the_models_own_result(shared_registry, reference):
    """The engine encodes the voice prompt once; that must equal the model's own per-call path."""
    import torch

    from playground.voice.families import GenerationControls

    vm = shared_registry.get(MODEL)
    samples = reference.audio.samples
    inputs = vm.family.inputs(vm, samples, "Hello there.")
    with torch.inference_mode():
        features = vm.model.model.get_audio_features(
            inputs["input_values"], inputs["padding_mask"], sample=False
        ).pooler_output
        torch.manual_seed(0)
        own = vm.model.generate(**inputs, max_new_tokens=4, num_diffusion_steps=2, sample=False)
    torch.manual_seed(0)
    shared = vm.family.generate(
        vm, samples, None, "Hello there.", controls=GenerationControls(diffusion_steps=2),
        max_frames=4, prompt=features,
    )  # fmt: skip
    assert len(shared) == 4 * 3200
    assert np.array_equal(vm.family.to_numpy(own[0]), shared)
