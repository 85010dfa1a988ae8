"""Voice cloning: say any text in the voice of a checked reference clip.

The text is split into sentences, each generated with the same voice prompt
(so long text neither drifts nor breaks down), then joined with short
crossfades. Progress is reported per sentence, a ``threading.Event`` cancels
(also in the middle of a sentence), a seed makes takes reproducible, and the
output WAV carries the model name, an "AI-generated" note and the consent
record in its metadata.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from playground.errors import InputError
from playground.voice.audio import Audio, crossfade_join, info_comment, resample, write_wav
from playground.voice.checks import ClipLimits, ClipReport, prepare_reference
from playground.voice.families import GenerationControls, check_cancel, family_of
from playground.voice.lineup import pick_voice_model
from playground.voice.text import estimate_seconds, split_sentences

CONSENT_STATEMENT = (
    "I have the permission of the person whose voice is in the reference clip to clone it, "
    "and I will not use the result to deceive or impersonate anyone."
)
AI_NOTE = "AI-generated speech (cloned voice). Not a recording of a real person."
SOFTWARE = "AIGC Playground"


@dataclass
class Reference:
    """A checked voice prompt: clean audio at the model's rate and what is said in it."""

    audio: Audio
    transcript: str | None = None
    voice_name: str | None = None

    @classmethod
    def from_report(cls, report: ClipReport, voice_name: str | None = None) -> Reference:
        report.raise_if_unusable()
        return cls(report.audio, report.transcript, voice_name)


@dataclass
class VoiceSettings:
    """How to synthesise: seed, joins, sentence size and the model's own controls."""

    seed: int | None = None
    crossfade_ms: float = 40.0
    max_sentence_chars: int = 200
    temperature: float | None = None
    top_k: int | None = None
    guidance_scale: float | None = None
    diffusion_steps: int | None = None

    def controls(self, defaults: dict[str, Any] | None = None) -> GenerationControls:
        """These controls, falling back to the model entry's ``options`` for unset ones."""
        defaults = defaults or {}
        values = {}
        for key in ("temperature", "top_k", "guidance_scale", "diffusion_steps"):
            value = getattr(self, key)
            values[key] = value if value is not None else defaults.get(key)
        return GenerationControls(**values)


@dataclass
class SentenceDone:
    """Progress: sentence ``index`` (1-based) of ``total`` is ready."""

    index: int
    total: int
    sentence: str
    seconds: float  # audio made so far


@dataclass
class SynthesisResult:
    audio: np.ndarray
    sample_rate: int
    sentences: list[str]
    seed: int
    model: str
    elapsed: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.audio) / float(self.sample_rate)

    @property
    def real_time_factor(self) -> float:
        """Seconds of compute per second of audio (lower is faster; < 1 is faster than real time)."""
        return self.elapsed / self.seconds if self.seconds else float("inf")

    def save(self, path: str | Path) -> Path:
        """Write the WAV (RIFF INFO metadata) and ``<name>.json`` with the full record."""
        return write_wav(path, self.audio, self.sample_rate, self.metadata)


def require_consent(consent: bool) -> None:
    if not consent:
        raise InputError(
            "Consent is required: tick the box confirming you have the speaker's permission "
            f'("{CONSENT_STATEMENT}") before generating. (CLI: add --consent.)',
            key="errors.consent",
        )


def reference_limits(registry, model_name: str) -> tuple[int, ClipLimits]:
    """The sample rate and clip limits of a voice model, from its entry (no loading)."""
    entry = registry.entry(model_name)
    if entry.task != "voice-clone":
        raise InputError(
            f"'{model_name}' is a {entry.task} model, not a voice-clone model.",
            key="errors.voice.not_voice_model",
            model=model_name,
            task=entry.task,
        )
    options = entry.options
    family = family_of(options.get("family", "vibevoice"), where=f"'{model_name}': ")
    limits = ClipLimits(
        min_seconds=float(options.get("min_reference_seconds", 3.0)),
        best_seconds=float(options.get("best_reference_seconds", family.best_reference_seconds)),
        max_seconds=float(options.get("max_reference_seconds", family.max_reference_seconds)),
    )
    return int(options.get("sample_rate", family.sample_rate)), limits


def check_reference(
    registry, model_name: str, source: Any, transcript: str | None = None
) -> ClipReport:
    """Check and clean a reference clip for ``model_name`` (see ``prepare_reference``)."""
    rate, limits = reference_limits(registry, model_name)
    return prepare_reference(source, sample_rate=rate, transcript=transcript, limits=limits)


def max_frames_for(sentence: str, frame_rate: float, options: dict[str, Any]) -> int:
    """Frame budget for one sentence: twice its expected length plus a second, capped.

    A budget that follows the text stops a model that fails to end a sentence
    from babbling for minutes.
    """
    frames = math.ceil((2.0 * estimate_seconds(sentence) + 1.0) * frame_rate)
    cap = int(options.get("max_frames_per_sentence", 60 * frame_rate))
    return max(1, min(frames, cap))


def _require_transcript(vm: Any, model_name: str, reference: Reference) -> None:
    if vm.family.needs_transcript and not reference.transcript:
        raise InputError(
            f"'{model_name}' needs the reference transcript: type exactly what is said in the clip.",
            key="errors.voice.needs_transcript",
            model=model_name,
        )


def clone_stream(
    registry,
    model_name: str,
    reference: Reference,
    text: str,
    settings: VoiceSettings | None = None,
    *,
    consent: bool,
    stop: threading.Event | None = None,
    owner: str | None = None,
    consent_record: dict | None = None,
) -> Iterator[SentenceDone | SynthesisResult]:
    """Yield ``SentenceDone`` after each sentence, then the ``SynthesisResult``.

    Raises ``InputError`` without consent or text, or for a text in a language
    the model cannot speak (naming the models that can); ``CancelledError``
    when ``stop`` is set.
    """
    require_consent(consent)
    settings = settings or VoiceSettings()
    sentences = split_sentences(text, max_chars=settings.max_sentence_chars)
    if not sentences:
        raise InputError(
            "There is no text to speak: type a sentence (letters or digits).",
            key="errors.voice.no_text",
        )
    pick_voice_model(registry, text, chosen=model_name)  # refuses a language it cannot speak
    seed = settings.seed if settings.seed is not None else random.randrange(2**31)
    start = time.perf_counter()
    pieces: list[np.ndarray] = []
    made = 0.0
    with registry.use(model_name) as vm:
        prompt = _prompt_audio(reference, vm.sample_rate)
        _require_transcript(vm, model_name, reference)
        controls = settings.controls(vm.options)
        _seed_everything(seed)
        shared = vm.family.encode_prompt(vm, prompt)  # once, not once per sentence
        for i, sentence in enumerate(sentences):
            check_cancel(stop, i, len(sentences))
            _seed_everything(seed + i)
            audio = vm.family.generate(
                vm,
                prompt,
                reference.transcript,
                sentence,
                controls=controls,
                max_frames=max_frames_for(sentence, vm.frame_rate, vm.options),
                stop=stop,
                prompt=shared,
            )
            check_cancel(stop, i, len(sentences))
            pieces.append(audio)
            made += len(audio) / vm.sample_rate
            yield SentenceDone(i + 1, len(sentences), sentence, made)
        joined = crossfade_join(pieces, vm.sample_rate, fade_ms=settings.crossfade_ms)
        rate = vm.sample_rate
    elapsed = time.perf_counter() - start
    metadata = output_metadata(
        model_name, registry.entry(model_name).source, reference, text, seed, consent, owner,
        consent_record=consent_record,
    )  # fmt: skip
    yield SynthesisResult(joined, rate, sentences, seed, model_name, elapsed, metadata)


def clone(registry, model_name: str, reference: Reference, text: str,
          settings: VoiceSettings | None = None, *, consent: bool,
          stop: threading.Event | None = None, owner: str | None = None,
          on_progress: Callable[[SentenceDone], None] | None = None,
          consent_record: dict | None = None) -> SynthesisResult:  # fmt: skip
    """``clone_stream`` run to the end; ``on_progress`` sees each finished sentence."""
    for item in clone_stream(
        registry, model_name, reference, text, settings, consent=consent, stop=stop, owner=owner,
        consent_record=consent_record,
    ):  # fmt: skip
        if isinstance(item, SynthesisResult):
            return item
        if on_progress is not None:
            on_progress(item)
    raise AssertionError("clone_stream ended without a result")  # pragma: no cover


def _prompt_audio(reference: Reference, rate: int) -> np.ndarray:
    audio = reference.audio
    return resample(audio.samples, audio.sample_rate, rate)


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def output_metadata(
    model: str,
    source: str | None,
    reference: Reference,
    text: str,
    seed: int,
    consent: bool,
    owner: str | None = None,
    consent_record: dict | None = None,
) -> dict[str, Any]:
    """What goes into the output WAV (RIFF INFO) and its JSON sidecar.

    ``consent_record`` (a saved voice's: who confirmed, when) is written as is;
    without it the consent is the one given for this very request by ``owner``.
    """
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {
        "ai_generated": True,
        "note": AI_NOTE,
        "model": model,
        "model_source": source,
        "voice": reference.voice_name,
        "seed": seed,
        "text": text,
        "created": now,
        "consent": {
            "confirmed": bool(consent),
            "statement": CONSENT_STATEMENT,
            "confirmed_at": now,
            "by": owner,
        },
    }
    if consent_record is not None:
        record["consent"] = {
            "confirmed": bool(consent_record.get("confirmed")),
            "statement": consent_record.get("statement", CONSENT_STATEMENT),
            "confirmed_at": consent_record.get("at"),
            "by": consent_record.get("by"),
            "recorded_with_voice": reference.voice_name,
        }
    summary = {k: record[k] for k in ("ai_generated", "model", "voice", "seed", "created")}
    summary["consent"] = "speaker permission confirmed by the user" if consent else "none"
    return {
        **record,
        # RIFF INFO fields (see playground.voice.audio.INFO_FIELDS)
        "title": f"AI-generated speech ({model})",
        "artist": f"Cloned voice: {reference.voice_name or 'reference clip'} (AI-generated)",
        "comment": f"{AI_NOTE} Consent: {summary['consent']}. {info_comment(summary)}",
        "software": SOFTWARE,
        "date": now[:10],
    }
