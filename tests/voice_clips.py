"""Real speech for the voice tests: made with espeak-ng, measured and mixed with sox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SENTENCES = [
    "The first sentence talks about the weather today.",
    "Number two is about a small red car.",
    "Sentence three mentions the river near the old town.",
    "Here comes the fourth one, with a comma.",
    "Five is short.",
    "The sixth sentence describes a long and winding road through the hills.",
    "Seven talks about breakfast.",
    "Eight is the last of the first group.",
    "Nine begins another group of words.",
    "Ten is here.",
    "Eleven says goodbye to everyone in the room.",
    "Twelve ends the story.",
]
GOOD_TEXT = " ".join(SENTENCES[:3])


def need_tools() -> None:
    for tool in ("espeak-ng", "sox", "soxi"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install espeak-ng sox)")


def espeak(text: str, path: Path, *, voice: str = "en") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    return path


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


def soxi_seconds(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def make_clips(folder: Path) -> dict[str, Path]:
    """good (~8 s), short (1 s), long (~60 s, with sentence boundaries), silence, noise, not audio."""
    need_tools()
    folder.mkdir(parents=True, exist_ok=True)
    clips = {"good": espeak(GOOD_TEXT, folder / "good.wav")}
    espeak("Hello there.", folder / "hi.wav")
    sox(str(folder / "hi.wav"), str(folder / "short.wav"), "pad", "0", "1", "trim", "0", "1")
    sox("-n", "-r", "22050", "-c", "1", "-b", "16", str(folder / "silence.wav"), "trim", "0", "8")
    sox(
        "-n", "-r", "22050", "-c", "1", "-b", "16", str(folder / "noise.wav"),
        "synth", "8", "whitenoise", "vol", "0.3",
    )  # fmt: skip
    # Speech under loud music-like tones: a chord of three sines, mixed in.
    sox(
        "-n", "-r", "22050", "-c", "1", "-b", "16", str(folder / "chord.wav"),
        "synth", "8", "sine", "220", "sine", "277", "sine", "330", "vol", "0.5",
    )  # fmt: skip
    sox("-m", str(clips["good"]), str(folder / "chord.wav"), str(folder / "music.wav"))
    # Clipped: the good clip amplified 8x (sox clips at full scale; -G off so it really clips).
    sox(str(clips["good"]), str(folder / "clipped.wav"), "vol", "8")
    (folder / "notes.wav").write_text("this is a text file pretending to be audio\n")
    clips.update(
        short=folder / "short.wav",
        silence=folder / "silence.wav",
        noise=folder / "noise.wav",
        music=folder / "music.wav",
        clipped=folder / "clipped.wav",
        not_audio=folder / "notes.wav",
    )
    return clips


def make_long_clip(folder: Path, seconds: float = 60.0) -> tuple[Path, list[str], list[float]]:
    """At least ``seconds`` of sentences; returns the clip, its sentences and each one's end (s).

    Each sentence is spoken separately and joined with sox, so the true end of
    every sentence is known (measured with soxi).
    """
    need_tools()
    folder.mkdir(parents=True, exist_ok=True)
    parts, ends, sentences, clock = [], [], [], 0.0
    while clock < seconds:
        sentence = SENTENCES[len(sentences) % len(SENTENCES)]
        sentences.append(sentence)
        part = espeak(sentence, folder / f"part{len(parts):02d}.wav")
        clock += soxi_seconds(part)
        ends.append(clock)
        parts.append(str(part))
    out = folder / "long.wav"
    sox(*parts, str(out))
    return out, sentences, ends
