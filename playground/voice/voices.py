"""Saved voices: a checked reference (audio + transcript) kept under a name, per user.

Each voice is a folder ``<voices>/<slug>/`` with ``reference.wav`` and
``voice.json``, written to a staging folder and swapped in whole, so a crash
never leaves half a voice.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from playground.errors import InputError
from playground.storage import atomic_write_json, read_json, replace_dir
from playground.voice.audio import Audio, read_audio, write_wav
from playground.voice.engine import CONSENT_STATEMENT, Reference, require_consent

_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class SavedVoice:
    name: str
    transcript: str | None
    seconds: float
    sample_rate: int
    created: str
    folder: Path
    consent: dict | None = None  # who confirmed the speaker's permission, and when

    @property
    def audio_path(self) -> Path:
        return self.folder / "reference.wav"


class VoiceLibrary:
    """The saved voices in one folder (one user's ``voices`` dir)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def names(self) -> list[str]:
        return [v.name for v in self.list()]

    def list(self) -> list[SavedVoice]:
        voices = []
        for meta in sorted(self.folder.glob("*/voice.json")):
            voice = self._read(meta.parent)
            if voice is not None:
                voices.append(voice)
        return sorted(voices, key=lambda v: v.name.lower())

    def save(
        self, name: str, reference: Reference, *, consent: bool, by: str | None = None
    ) -> SavedVoice:
        """Save (or replace) a voice; needs the speaker's consent like generation does.

        ``by`` is who confirmed it (the app passes the resolved user); the record
        is what later speech made with this voice carries in its metadata.
        """
        require_consent(consent)
        name = (name or "").strip()
        if not name:
            raise InputError(
                "Give the voice a name before saving it.", key="errors.voice.name_missing"
            )
        if len(name) > 60:
            raise InputError(
                "Voice names are at most 60 characters.", key="errors.voice.name_too_long"
            )
        target = self.folder / _slug(name)
        staging = Path(tempfile.mkdtemp(dir=self.folder, prefix=".staging-"))
        try:
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            write_wav(
                staging / "reference.wav",
                reference.audio.samples,
                reference.audio.sample_rate,
                None,
            )
            atomic_write_json(
                staging / "voice.json",
                {
                    "name": name,
                    "transcript": reference.transcript,
                    "seconds": round(reference.audio.seconds, 3),
                    "sample_rate": reference.audio.sample_rate,
                    "created": now,
                    "consent": {
                        "confirmed": True,
                        "statement": CONSENT_STATEMENT,
                        "at": now,
                        "by": by,
                    },
                },
            )
            replace_dir(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        voice = self._read(target)
        assert voice is not None
        return voice

    def load(self, name: str) -> Reference:
        voice = self.get(name)
        audio = read_audio(voice.audio_path)
        return Reference(Audio(audio.samples, audio.sample_rate), voice.transcript, voice.name)

    def get(self, name: str) -> SavedVoice:
        voice = self._read(self.folder / _slug(name))
        if voice is None or voice.name != name:
            names = self.names()
            known = ", ".join(names) or "none yet"
            raise InputError(
                f"No saved voice named '{name}'. Your voices: {known}.",
                key=("errors.voice.unknown_voice" if names else "errors.voice.no_voices_yet"),
                name=name,
                known=known,
            )
        return voice

    def consent_of(self, name: str) -> dict:
        """The consent record saved with ``name``; InputError if it has none."""
        record = self.get(name).consent
        if not record or not record.get("confirmed") or not record.get("by"):
            raise InputError(
                f"The saved voice '{name}' has no record of who confirmed the speaker's "
                "permission. Save it again in the Voice tab, ticking the consent box.",
                key="errors.voice.no_consent_record",
                name=name,
            )
        return record

    def delete(self, name: str) -> None:
        voice = self.get(name)
        shutil.rmtree(voice.folder)

    @staticmethod
    def _read(folder: Path) -> SavedVoice | None:
        meta = read_json(folder / "voice.json")
        if not meta or not (folder / "reference.wav").exists():
            return None
        return SavedVoice(
            name=meta["name"],
            transcript=meta.get("transcript"),
            seconds=float(meta.get("seconds", 0.0)),
            sample_rate=int(meta.get("sample_rate", 0)),
            created=meta.get("created", ""),
            folder=folder,
            consent=meta.get("consent"),
        )


def _slug(name: str) -> str:
    """A folder name for ``name``; a hash keeps different names (Chinese ones too) apart."""
    cleaned = _SLUG.sub("-", name).strip("-")[:40] or "voice"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"
