"""Audio in and out with soundfile and numpy: read, mono, resample, trim, level, write.

No torchaudio: soundfile reads WAV/FLAC/OGG (and MP3 with libsndfile >= 1.1),
scipy's polyphase filter resamples. Audio is always float32 in [-1, 1].
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from playground.errors import InputError

FRAME_SECONDS = 0.02  # analysis frames for silence and noise estimates


@dataclass
class Audio:
    """Mono float32 samples and their sample rate."""

    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / float(self.sample_rate) if self.sample_rate else 0.0


def read_audio(source: str | Path | bytes) -> Audio:
    """Read an audio file as mono float32; ``InputError`` when it is not audio."""
    import soundfile as sf

    upload = isinstance(source, bytes)
    name = "the upload" if upload else str(source)
    if not isinstance(source, bytes) and not Path(source).exists():
        raise InputError(f"{name}: file not found.", key="errors.voice.file_not_found", name=name)
    try:
        data, rate = sf.read(
            io.BytesIO(source) if isinstance(source, bytes) else str(source),
            dtype="float32",
            always_2d=True,
        )
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(
            f"{name} is not an audio file this app can read ({_short(exc)}). "
            "Upload a WAV, FLAC, OGG or MP3 recording of one person speaking.",
            key="errors.voice.upload_not_audio" if upload else "errors.voice.not_audio",
            name=name,
            detail=_short(exc),
        ) from None
    if data.size == 0:
        raise InputError(
            f"{name} holds no audio samples. Record or upload a clip of speech.",
            key="errors.voice.upload_empty" if upload else "errors.voice.audio_empty",
            name=name,
        )
    return Audio(to_mono(data), int(rate))


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels; accepts (n,), (n, channels) and integer PCM."""
    data = np.asarray(data)
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = data.astype(np.float32, copy=False)
    if data.ndim == 2:
        # Gradio gives (samples, channels); a (channels, samples) array has few rows.
        data = data.mean(axis=1) if data.shape[1] <= 8 else data.mean(axis=0)
    return np.ascontiguousarray(data.reshape(-1), dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling (scipy), exact for integer rate ratios such as 22050 -> 24000."""
    if rate == target or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    out = resample_poly(samples.astype(np.float64), target // g, rate // g)
    return out.astype(np.float32)


def frame_rms(samples: np.ndarray, rate: int, frame_seconds: float = FRAME_SECONDS) -> np.ndarray:
    """Root-mean-square level of consecutive frames."""
    size = max(1, int(rate * frame_seconds))
    count = len(samples) // size
    if count == 0:
        return np.array([float(np.sqrt(np.mean(samples**2)))]) if len(samples) else np.zeros(0)
    frames = samples[: count * size].reshape(count, size).astype(np.float64)
    return np.sqrt(np.mean(frames**2, axis=1))


def to_db(value: float | np.ndarray) -> Any:
    return 20.0 * np.log10(np.maximum(value, 1e-10))


def voiced_frames(samples: np.ndarray, rate: int, *, floor_db: float = -45.0) -> np.ndarray:
    """Frames louder than ``floor_db`` dBFS and within 35 dB of the loudest frames."""
    levels = to_db(frame_rms(samples, rate))
    if levels.size == 0:
        return np.zeros(0, dtype=bool)
    loud = float(np.percentile(levels, 95))
    return (levels > floor_db) & (levels > loud - 35.0)


def trim_silence(samples: np.ndarray, rate: int, *, pad_seconds: float = 0.1) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``pad_seconds`` around the speech."""
    voiced = voiced_frames(samples, rate)
    if not voiced.any():
        return samples[:0]
    size = int(rate * FRAME_SECONDS)
    pad = int(rate * pad_seconds)
    first = int(np.argmax(voiced))
    last = len(voiced) - int(np.argmax(voiced[::-1]))
    return samples[max(0, first * size - pad) : min(len(samples), last * size + pad)]


def normalize_loudness(
    samples: np.ndarray, *, target_dbfs: float = -20.0, peak: float = 0.95
) -> np.ndarray:
    """Scale the speech to ``target_dbfs`` RMS, never letting peaks pass ``peak``."""
    if len(samples) == 0:
        return samples
    level = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    if level < 1e-6:
        return samples
    gain = 10 ** (target_dbfs / 20.0) / level
    top = float(np.max(np.abs(samples)))
    if top * gain > peak:
        gain = peak / top
    return (samples * gain).astype(np.float32)


def crossfade_join(pieces: list[np.ndarray], rate: int, *, fade_ms: float = 30.0) -> np.ndarray:
    """Join clips with short equal-power crossfades so seams do not click."""
    pieces = [p.astype(np.float32, copy=False) for p in pieces if len(p)]
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    out = pieces[0]
    for piece in pieces[1:]:
        n = min(int(rate * fade_ms / 1000.0), len(out) // 2, len(piece) // 2)
        if n <= 0:
            out = np.concatenate([out, piece])
            continue
        t = np.linspace(0.0, np.pi / 2, n, dtype=np.float32)
        mixed = out[-n:] * np.cos(t) + piece[:n] * np.sin(t)
        out = np.concatenate([out[:-n], mixed, piece[n:]])
    return out


# ---------------------------------------------------------------- writing

# RIFF INFO fields soundfile can write, and what we put in them.
INFO_FIELDS = ("title", "artist", "comment", "software", "copyright", "date")


def wav_bytes(samples: np.ndarray, rate: int, metadata: dict[str, Any] | None = None) -> bytes:
    """16-bit PCM WAV with ``metadata`` in its RIFF LIST/INFO chunk."""
    import soundfile as sf

    buffer = io.BytesIO()
    with sf.SoundFile(
        buffer, "w", samplerate=int(rate), channels=1, format="WAV", subtype="PCM_16"
    ) as f:
        for key, value in (metadata or {}).items():
            if key in INFO_FIELDS and value is not None:
                setattr(f, key, str(value))
        f.write(np.clip(samples, -1.0, 1.0).astype(np.float32))
    return buffer.getvalue()


def write_wav(
    path: str | Path, samples: np.ndarray, rate: int, metadata: dict | None = None
) -> Path:
    """Write a WAV (atomically) plus ``<name>.json`` holding the full metadata."""
    from playground.storage import atomic_write_bytes, atomic_write_json

    path = Path(path)
    atomic_write_bytes(path, wav_bytes(samples, rate, metadata))
    if metadata is not None:
        atomic_write_json(path.with_suffix(".json"), metadata)
    return path


def read_wav_info(path: str | Path) -> dict[str, str]:
    """The RIFF INFO fields of a WAV file (title, comment, software...)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        return {k: v for k, v in f.copy_metadata().items() if v}


def info_comment(metadata: dict[str, Any]) -> str:
    """Compact JSON for the INFO comment field (players show it as the comment)."""
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
