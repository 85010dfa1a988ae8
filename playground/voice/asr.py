"""Reference transcripts from a speech-recognition model (Whisper through the pipeline)."""

from __future__ import annotations

from playground.errors import InputError
from playground.voice.audio import Audio, resample


def transcribe(registry, model_name: str, audio: Audio, *, language: str | None = None) -> str:
    """What is said in ``audio``, as text (the user can still edit it)."""
    entry = registry.entry(model_name)
    if entry.task != "speech-recognition":
        raise InputError(
            f"'{model_name}' is a {entry.task} model, not a speech-recognition model.",
            key="errors.voice.not_asr_model",
            model=model_name,
            task=entry.task,
        )
    with registry.use(model_name) as pipe:
        rate = int(getattr(pipe.feature_extractor, "sampling_rate", 16000))
        samples = resample(audio.samples, audio.sample_rate, rate)
        kwargs = {"generate_kwargs": {"language": language}} if language else {}
        out = pipe({"raw": samples, "sampling_rate": rate}, **kwargs)
    return str(out.get("text", "") if isinstance(out, dict) else out).strip()
