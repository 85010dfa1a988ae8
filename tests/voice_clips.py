"""Real speech for the voice tests, from WAV fixtures in ``tests/data/speech/``.

The three sentences of ``GOOD_TEXT`` were spoken by espeak-ng once and kept as
16 kHz WAVs (``tests/data/speech/README.md`` says how), so these tests need no
system package. The bad clips (too short, silence, noise, music, clipped) are
made from them with numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPEECH = Path(__file__).parent / "data" / "speech"
SENTENCES = [
    "The first sentence talks about the weather today.",
    "Number two is about a small red car.",
    "Sentence three mentions the river near the old town.",
]
GOOD_TEXT = " ".join(SENTENCES)


def clip_seconds(path: Path) -> float:
    """The length of an audio file as stored (before any trimming)."""
    import soundfile as sf

    return sf.info(str(path)).duration


def _sentence(index: int) -> tuple[np.ndarray, int]:
    import soundfile as sf

    samples, rate = sf.read(str(SPEECH / f"sentence{index + 1}.wav"), dtype="float32")
    return samples, rate


def _write(path: Path, samples: np.ndarray, rate: int) -> Path:
    import soundfile as sf

    sf.write(str(path), np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16")
    return path


def make_clips(folder: Path) -> dict[str, Path]:
    """good (~8 s), short (1 s), silence, noise, music, clipped, and a text file posing as audio."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [_sentence(i) for i in range(len(SENTENCES))]
    rate = parts[0][1]
    good = np.concatenate([samples for samples, _ in parts])
    seconds = np.arange(int(8 * rate)) / rate
    rng = np.random.default_rng(0)
    # Speech under loud music-like tones: a chord of three sines, mixed in at half level.
    chord = 0.5 * sum(np.sin(2 * np.pi * f * seconds) for f in (220, 277, 330)) / 3
    music = 0.5 * np.pad(good, (0, max(0, len(chord) - len(good))))[: len(chord)] + 0.5 * chord
    clips = {
        "good": _write(folder / "good.wav", good, rate),
        # Too short: the first words, then digital silence, 1 s in all.
        "short": _write(
            folder / "short.wav", np.pad(parts[1][0][: rate * 6 // 10], (0, rate * 4 // 10)), rate
        ),
        "silence": _write(folder / "silence.wav", np.zeros(8 * rate), rate),
        "noise": _write(folder / "noise.wav", rng.uniform(-0.3, 0.3, 8 * rate), rate),
        "music": _write(folder / "music.wav", music, rate),
        # Clipped: the good clip amplified 8x, cut at full scale.
        "clipped": _write(folder / "clipped.wav", good * 8, rate),
        "not_audio": folder / "notes.wav",
    }
    clips["not_audio"].write_text("this is a text file pretending to be audio\n")
    return clips


def make_long_clip(folder: Path, seconds: float = 60.0) -> tuple[Path, list[str], list[float]]:
    """At least ``seconds`` of sentences; returns the clip, its sentences and each one's end (s).

    The fixture sentences are joined end to end, so the true end of every
    sentence is known exactly.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pieces, ends, sentences, clock = [], [], [], 0.0
    while clock < seconds:
        index = len(sentences) % len(SENTENCES)
        samples, rate = _sentence(index)
        sentences.append(SENTENCES[index])
        pieces.append(samples)
        clock += len(samples) / rate
        ends.append(clock)
    out = _write(folder / "long.wav", np.concatenate(pieces), rate)
    return out, sentences, ends
