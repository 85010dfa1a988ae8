"""Reference-clip checks on real speech (WAV fixtures), trimming, and sentence splitting."""

from __future__ import annotations

import numpy as np
import pytest

from playground.errors import InputError
from playground.voice.audio import crossfade_join, read_audio, resample
from playground.voice.checks import ClipLimits, prepare_reference
from playground.voice.text import split_sentences
from tests.voice_clips import GOOD_TEXT, clip_seconds, make_clips, make_long_clip

RATE = 24000


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("clips"))


def test_good_clip_passes_and_is_cleaned(clips):
    report = prepare_reference(clips["good"], sample_rate=RATE, transcript=GOOD_TEXT)
    assert report.usable, report.summary()
    assert report.issues == []
    assert report.audio.sample_rate == RATE
    assert report.audio.samples.dtype == np.float32 and report.audio.samples.ndim == 1
    # leading/trailing silence trimmed: shorter than the file as stored
    assert 4.0 < report.seconds < clip_seconds(clips["good"])
    # loudness normalised to about -20 dBFS RMS, peaks kept under full scale
    rms_db = 20 * np.log10(np.sqrt(np.mean(report.audio.samples**2)))
    assert -23 < rms_db < -17 or np.max(np.abs(report.audio.samples)) >= 0.94
    assert np.max(np.abs(report.audio.samples)) <= 0.951
    assert report.transcript == GOOD_TEXT


def test_one_second_clip_is_too_short(clips):
    assert clip_seconds(clips["short"]) == pytest.approx(1.0, abs=0.01)
    report = prepare_reference(clips["short"], sample_rate=RATE)
    assert not report.usable
    assert report.codes() == ["too_short"]
    assert "Too short" in report.issues[0].message and "at least 3 s" in report.issues[0].message
    with pytest.raises(InputError, match="Too short"):
        report.raise_if_unusable()


def test_silence_is_reported_as_silence(clips):
    report = prepare_reference(clips["silence"], sample_rate=RATE)
    assert report.codes() == ["silence"]
    assert "no speech" in report.issues[0].message and "microphone" in report.issues[0].message


def test_white_noise_is_reported_as_noise(clips):
    report = prepare_reference(clips["noise"], sample_rate=RATE)
    assert "noise" in report.codes() and not report.usable
    assert "music or noise" in report.issues[0].message
    assert report.snr_db < 5


def test_speech_over_music_is_reported(clips):
    report = prepare_reference(clips["music"], sample_rate=RATE)
    assert "noise" in report.codes() and not report.usable


def test_clipping_is_a_warning(clips):
    report = prepare_reference(clips["clipped"], sample_rate=RATE)
    assert "clipping" in report.codes() and report.usable
    assert "too loud" in next(i.message for i in report.issues if i.code == "clipping")


def test_non_audio_file_says_so(clips):
    with pytest.raises(InputError, match="not an audio file"):
        prepare_reference(clips["not_audio"], sample_rate=RATE)
    with pytest.raises(InputError, match="not an audio file"):
        prepare_reference(b"%PDF-1.4 not sound", sample_rate=RATE)


def test_sixty_second_clip_is_cut_at_a_sentence_with_its_transcript(tmp_path):
    path, sentences, ends = make_long_clip(tmp_path)
    assert clip_seconds(path) >= 60.0
    limits = ClipLimits(best_seconds=10.0, max_seconds=20.0)
    report = prepare_reference(
        path, sample_rate=RATE, transcript=" ".join(sentences), limits=limits
    )
    assert report.usable and "trimmed" in report.codes()
    trimmed = next(i for i in report.issues if i.code == "trimmed")
    assert "Too long (6" in trimmed.message or "Too long (5" in trimmed.message
    assert 6.0 < report.seconds <= 12.5
    kept = sentences[: report.transcript.count(".")]
    assert report.transcript == " ".join(kept)
    # the cut sits in the pause right after the last kept sentence (known exactly)
    boundary = ends[len(kept) - 1]
    assert abs(report.seconds - boundary) < 0.5, (report.seconds, ends[: len(kept) + 1])
    assert all(
        abs(report.seconds - e) > abs(report.seconds - boundary) for e in ends if e != boundary
    )


def test_long_clip_without_transcript_is_cut_at_a_pause(tmp_path):
    path, _, ends = make_long_clip(tmp_path, seconds=25)
    report = prepare_reference(
        path, sample_rate=RATE, limits=ClipLimits(best_seconds=8, max_seconds=15)
    )
    assert "trimmed" in report.codes() and report.transcript is None
    assert 4.0 <= report.seconds <= 8.2


def test_gradio_tuple_and_stereo_int16_input():
    rate = 16000
    t = np.arange(rate * 4) / rate
    tone = (np.sin(2 * np.pi * 220 * t) * (t % 1 < 0.6)) * 0.5
    stereo = (np.stack([tone, tone], axis=1) * 32767).astype(np.int16)
    report = prepare_reference((rate, stereo), sample_rate=RATE)
    assert report.audio.sample_rate == RATE
    assert report.audio.samples.ndim == 1


def test_resample_keeps_duration_and_pitch():
    rate = 22050
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = resample(tone, rate, RATE)
    assert len(out) == RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * RATE / len(out) - 440) < 2


def test_crossfade_join_length_and_no_click():
    a = np.ones(2400, dtype=np.float32) * 0.5
    b = np.ones(2400, dtype=np.float32) * 0.5
    joined = crossfade_join([a, b], RATE, fade_ms=40)
    assert len(joined) == 4800 - 960
    assert np.max(np.abs(np.diff(joined))) < 0.01  # smooth seam


def test_read_audio_gives_mono_float(clips):
    audio = read_audio(clips["good"])
    assert audio.sample_rate == 16000 and audio.samples.ndim == 1  # as stored in the fixture


# ---------------------------------------------------------------- sentences

GOLDEN = [
    (
        "Hello world. How are you? I am fine!",
        ["Hello world.", "How are you?", "I am fine!"],
    ),
    (
        "Mr. Smith paid $3.50 for it. Then he left.",
        ["Mr. Smith paid $3.50 for it.", "Then he left."],
    ),
    (
        "你好。今天天气很好！你去哪里？我不知道；好的",
        ["你好。", "今天天气很好！", "你去哪里？", "我不知道；", "好的"],
    ),
    ("他说：“你好。”然后走了。", ["他说：“你好。”", "然后走了。"]),
    ("我喜欢Python。It is great! 真的吗？", ["我喜欢Python。", "It is great!", "真的吗？"]),
    ("Line one\nLine two. Line three", ["Line one", "Line two.", "Line three"]),
    ("Wait... what?! OK.", ["Wait...", "what?!", "OK."]),
    ("等一下……好吧。", ["等一下……", "好吧。"]),
    ("。。！！", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_sentence_splitting_golden(text, expected):
    assert split_sentences(text) == expected


def test_long_sentences_are_split_at_commas_then_spaces():
    english = ", ".join(["a clause with some words"] * 12) + "."
    parts = split_sentences(english, max_chars=60)
    assert all(len(p) <= 60 for p in parts) and len(parts) > 4
    assert " ".join(parts).replace(" ", "") == english.replace(" ", "")
    chinese = "，".join(["这是一个很长的句子的一部分"] * 10) + "。"
    parts = split_sentences(chinese, max_chars=30)
    assert all(len(p) <= 30 for p in parts) and "".join(parts) == chinese
