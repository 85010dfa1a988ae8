"""Reference-clip checks: the clip a voice is cloned from decides most of the result.

``prepare_reference`` reads a clip, converts it to mono at the model's sample
rate, trims silence, levels the loudness and reports every problem with a
message that says what to do. A clip that is too long is cut at a pause near
the model's best length, and its transcript is cut at the matching sentence
so the two stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.errors import InputError
from playground.voice.audio import (
    FRAME_SECONDS,
    Audio,
    frame_rms,
    normalize_loudness,
    read_audio,
    resample,
    to_db,
    to_mono,
    trim_silence,
    voiced_frames,
)
from playground.voice.text import speech_units, split_sentences

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass
class ClipLimits:
    """What a model wants from a reference clip (from its ``models.yaml`` options)."""

    min_seconds: float = 3.0
    best_seconds: float = 10.0
    max_seconds: float = 20.0
    min_snr_db: float = 15.0  # below: likely music or noise (error)
    good_snr_db: float = 25.0  # below: a warning


@dataclass
class ClipIssue:
    code: str  # not_audio, silence, too_short, noise, clipping, mostly_silence, trimmed
    severity: str  # error | warning | info
    message: str


@dataclass
class ClipReport:
    """A checked reference: processed audio, transcript cut to match, measurements, issues."""

    audio: Audio
    transcript: str | None
    original_seconds: float
    speech_ratio: float
    snr_db: float
    clipped_ratio: float
    issues: list[ClipIssue] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not any(i.severity == ERROR for i in self.issues)

    @property
    def seconds(self) -> float:
        return self.audio.seconds

    def codes(self) -> list[str]:
        return [i.code for i in self.issues]

    def summary(self) -> str:
        """Several lines for the CLI and the tab."""
        verdict = "usable" if self.usable else "NOT usable"
        lines = [
            f"Reference clip: {verdict}",
            f"  length: {self.original_seconds:.1f} s -> {self.seconds:.1f} s after trimming, "
            f"{self.audio.sample_rate} Hz mono",
            f"  speech: {self.speech_ratio:.0%} of the clip, signal-to-noise ~{self.snr_db:.0f} dB, "
            f"clipped samples {self.clipped_ratio:.2%}",
        ]
        lines += [f"  [{i.severity}] {i.message}" for i in self.issues]
        return "\n".join(lines)

    def raise_if_unusable(self) -> None:
        errors = [i.message for i in self.issues if i.severity == ERROR]
        if errors:
            raise InputError(
                "The reference clip cannot be used: " + " ".join(errors),
                key="errors.voice.clip_unusable",
                problems=" ".join(errors),
            )


def prepare_reference(
    source: str | Path | bytes | Audio | tuple[int, np.ndarray],
    *,
    sample_rate: int,
    transcript: str | None = None,
    limits: ClipLimits | None = None,
) -> ClipReport:
    """Check and clean a reference clip for a model running at ``sample_rate``.

    ``source`` is a file path, file bytes, an ``Audio``, or Gradio's
    ``(rate, samples)`` tuple. Raises ``InputError`` only when it is not audio;
    every other problem is an issue in the report.
    """
    limits = limits or ClipLimits()
    audio = _as_audio(source)
    original_seconds = audio.seconds
    clipped = clipped_ratio(audio.samples)
    samples = resample(audio.samples, audio.sample_rate, sample_rate)
    transcript = (transcript or "").strip() or None
    issues: list[ClipIssue] = []

    if is_silent(samples, sample_rate):
        issues.append(
            ClipIssue(
                "silence",
                ERROR,
                "The clip is silence: no speech was found. Check the microphone (and that it "
                "is not muted), then record again.",
            )
        )
        return ClipReport(
            Audio(samples, sample_rate), transcript, original_seconds, 0.0, 0.0, clipped, issues
        )

    speech = trim_silence(samples, sample_rate)
    voiced = voiced_frames(speech, sample_rate)
    speech_ratio = float(voiced.mean()) if voiced.size else 0.0
    snr = estimate_snr_db(speech, sample_rate)

    if snr < limits.min_snr_db:
        issues.append(
            ClipIssue(
                "noise",
                ERROR,
                f"Likely background music or noise (signal-to-noise about {snr:.0f} dB; "
                f"{limits.min_snr_db:.0f} dB or more is needed). The model would copy the noise: "
                "record one voice in a quiet room, without music.",
            )
        )
    elif snr < limits.good_snr_db:
        issues.append(
            ClipIssue(
                "noisy",
                WARNING,
                f"Some background noise (signal-to-noise about {snr:.0f} dB). A quieter "
                "recording will sound cleaner.",
            )
        )
    if clipped > 0.001:
        issues.append(
            ClipIssue(
                "clipping",
                WARNING,
                f"The recording is clipped ({clipped:.1%} of samples at full scale): it was "
                "too loud and is distorted. Move back from the microphone or lower its gain.",
            )
        )

    seconds = len(speech) / sample_rate
    if seconds < limits.min_seconds:
        issues.append(
            ClipIssue(
                "too_short",
                ERROR,
                f"Too short: {seconds:.1f} s of speech after trimming silence. Record at least "
                f"{limits.min_seconds:.0f} s ({limits.best_seconds:.0f} s is best) of one person "
                "speaking.",
            )
        )
    elif speech_ratio < 0.4:
        issues.append(
            ClipIssue(
                "mostly_silence",
                WARNING,
                f"Mostly silence: speech fills only {speech_ratio:.0%} of the clip. Long pauses "
                "make the cloned voice hesitant; trim them or record again.",
            )
        )

    if seconds > limits.max_seconds:
        speech, transcript, note = trim_to_length(
            speech, sample_rate, transcript, best_seconds=limits.best_seconds
        )
        issues.append(ClipIssue("trimmed", INFO, note))

    cleaned = normalize_loudness(speech)
    return ClipReport(
        Audio(cleaned, sample_rate),
        transcript,
        original_seconds,
        speech_ratio,
        snr,
        clipped,
        issues,
    )


def _as_audio(source) -> Audio:
    if isinstance(source, Audio):
        return Audio(to_mono(source.samples), source.sample_rate)
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[0], int):
        rate, data = source
        return Audio(to_mono(np.asarray(data)), int(rate))
    return read_audio(source)


# ---------------------------------------------------------------- measurements


def is_silent(samples: np.ndarray, rate: int) -> bool:
    """Nothing above -50 dBFS, or sound in under 5% of the frames."""
    levels = to_db(frame_rms(samples, rate))
    if levels.size == 0 or float(levels.max()) < -50.0:
        return True
    return float((levels > -50.0).mean()) < 0.05


def estimate_snr_db(samples: np.ndarray, rate: int) -> float:
    """Speech level (95th-percentile frame) over noise floor (10th-percentile frame), in dB.

    Speech has pauses between words where the level drops to the room's noise;
    continuous music or noise has no such dips, so its estimate is low.
    """
    levels = to_db(frame_rms(samples, rate))
    if levels.size < 5:
        return 0.0
    speech, floor = np.percentile(levels, 95), np.percentile(levels, 10)
    return float(min(speech - max(floor, -100.0), 80.0))


def clipped_ratio(samples: np.ndarray) -> float:
    """Share of samples in runs of 3+ consecutive samples pinned at full scale."""
    if len(samples) < 3:
        return 0.0
    pinned = np.abs(samples) >= 0.999
    runs = pinned[:-2] & pinned[1:-1] & pinned[2:]
    return float(runs.sum()) / len(samples)


# ---------------------------------------------------------------- trimming


def pauses(
    samples: np.ndarray, rate: int, *, min_seconds: float = 0.15
) -> list[tuple[float, float]]:
    """``(start, end)`` seconds of the quiet stretches inside the speech."""
    voiced = voiced_frames(samples, rate)
    out, start = [], None
    for i, on in enumerate(voiced):
        if not on and start is None:
            start = i
        elif on and start is not None:
            if (i - start) * FRAME_SECONDS >= min_seconds and start > 0:
                out.append((start * FRAME_SECONDS, i * FRAME_SECONDS))
            start = None
    return out


def trim_to_length(
    samples: np.ndarray, rate: int, transcript: str | None, *, best_seconds: float
) -> tuple[np.ndarray, str | None, str]:
    """Cut a long clip at a pause near ``best_seconds``; cut the transcript to match.

    With a transcript, each sentence's end time is estimated from its share of
    the spoken syllables, snapped to the nearest pause, and the clip is cut
    after the last sentence that ends in time. Without one, the cut goes at the
    longest pause in the second half of the best length.
    """
    total = len(samples) / rate
    gaps = pauses(samples, rate)
    sentences = split_sentences(transcript) if transcript else []
    cut, kept = None, None
    if gaps and len(sentences) > 1:
        cut, kept = _cut_by_sentences(samples, rate, sentences, gaps, best_seconds)
    if cut is None:
        window = [g for g in gaps if best_seconds * 0.5 <= (g[0] + g[1]) / 2 <= best_seconds]
        if window:
            start, end = max(window, key=lambda g: g[1] - g[0])
            cut = (start + end) / 2
        else:
            cut = best_seconds
    clip = samples[: int(cut * rate)]
    if kept is not None:
        transcript = (
            " ".join(sentences[:kept]) if _spaced(transcript) else "".join(sentences[:kept])
        )
        note = (
            f"Too long ({total:.1f} s): cut to {cut:.1f} s at the pause after sentence {kept}; "
            "the transcript was cut to the same sentence."
        )
    else:
        note = f"Too long ({total:.1f} s): cut to {cut:.1f} s at a pause."
        if transcript:
            note += " Check that the transcript matches the shorter clip."
    return clip, transcript, note


def _cut_by_sentences(samples, rate, sentences, gaps, best_seconds):
    voiced = voiced_frames(samples, rate).astype(np.float64)
    spoken_time = np.cumsum(voiced)  # voiced frames up to each frame
    units = np.cumsum([max(speech_units(s), 0.5) for s in sentences])
    units = units / units[-1]
    best: tuple[float, int] | None = None
    for k in range(1, len(sentences)):
        # the frame where this share of the speech has been spoken
        frame = int(np.searchsorted(spoken_time, units[k - 1] * spoken_time[-1]))
        estimate = frame * FRAME_SECONDS
        start, end = min(gaps, key=lambda g: abs((g[0] + g[1]) / 2 - estimate))
        cut = (start + end) / 2
        if cut <= best_seconds * 1.25 and (best is None or cut > best[0]):
            best = (cut, k)
    return best if best is not None else (None, None)


def _spaced(text: str | None) -> bool:
    return bool(text) and " " in text.strip()
