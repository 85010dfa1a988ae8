"""The agent record: one role, its documents, adapter and voice, as one versioned file.

``agent.json`` holds the record; the parts an agent owns outright (its adapter
files, its voice clip with the consent record, its picture) sit next to it in
the agent's folder, so the agent keeps working when the fine-tune job or the
saved voice it came from is deleted, and an export is that folder zipped. The
collection is referred to by name: it stays the owner's live collection in the
Documents tab.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from playground.chat import GenerationSettings, Role
from playground.errors import InputError

FORMAT = 1  # the layout of agent.json; a newer one is refused with a clear message
MAX_NAME = 60
PICTURE_TYPES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
MAX_PICTURE_BYTES = 5_000_000


@dataclass
class AgentSettings:
    """How the agent answers: sampling, retrieval and speech."""

    generation: dict[str, Any] = field(default_factory=dict)  # GenerationSettings fields
    grounding: bool = True  # retrieve from the collection on every turn
    k: int = 4  # passages retrieved per turn
    min_relevance: float | None = None  # None: the embedding model's threshold
    speak: bool = True  # speak replies when the agent has a voice
    voice_model: str | None = None  # None: the first voice-clone model

    def generation_settings(self, registry: Any, model: str, **overrides: Any):
        """The model's defaults, then the agent's saved values, then ``overrides``."""
        values = {**self.generation, **{k: v for k, v in overrides.items() if v is not None}}
        return GenerationSettings.for_model(registry, model, **values)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = "settings") -> AgentSettings:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"{where}: unknown field(s) {', '.join(unknown)}",
                key="errors.agents.unknown_fields",
                where=where,
                names=", ".join(unknown),
            )
        settings = cls(**data)
        gen_known = {f.name for f in fields(GenerationSettings)}
        bad = sorted(set(settings.generation) - gen_known)
        if bad:
            names, allowed = ", ".join(bad), ", ".join(sorted(gen_known))
            raise InputError(
                f"{where}: unknown generation setting(s) {names}; allowed: {allowed}",
                key="errors.agents.unknown_generation_settings",
                where=where,
                names=names,
                allowed=allowed,
            )
        GenerationSettings(**settings.generation).validated()
        if not isinstance(settings.k, int) or not 1 <= settings.k <= 20:
            raise InputError(
                f"{where}: k must be a whole number from 1 to 20, got {settings.k!r}",
                key="errors.agents.bad_k",
                where=where,
                value=repr(settings.k),
            )
        return settings


@dataclass
class Agent:
    """One saved agent of one owner. ``folder`` is where its files live."""

    name: str
    role: Role
    model: str  # the chat model it talks through (an adapter's base when it has one)
    folder: Path
    collection: str | None = None
    adapter: dict[str, Any] | None = None  # {"base", "label", "from"}; files in adapter/
    voice: dict[str, Any] | None = None  # {"name", "transcript", "consent"}; files in voice/
    picture: str | None = None  # file name inside the folder
    settings: AgentSettings = field(default_factory=AgentSettings)
    revision: int = 1
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @property
    def adapter_dir(self) -> Path | None:
        return self.folder / "adapter" if self.adapter else None

    @property
    def voice_dir(self) -> Path | None:
        return self.folder / "voice" if self.voice else None

    @property
    def picture_path(self) -> Path | None:
        return self.folder / self.picture if self.picture else None

    def parts(self) -> list[str]:
        """Which of the four parts it has, for listings."""
        out = ["role"]
        out += ["collection"] if self.collection else []
        out += ["adapter"] if self.adapter else []
        out += ["voice"] if self.voice else []
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "revision": self.revision,
            "created": self.created,
            "updated": self.updated,
            "role": self.role.to_dict(),
            "model": self.model,
            "collection": self.collection,
            "adapter": self.adapter,
            "voice": self.voice,
            "picture": self.picture,
            "settings": asdict(self.settings),
        }

    @classmethod
    def from_dict(cls, data: Any, folder: Path, where: str = "agent.json") -> Agent:
        """Read a record, with an ``InputError`` naming the bad field."""
        if not isinstance(data, dict):
            raise InputError(
                f"{where}: expected an agent record, got {type(data).__name__}",
                key="errors.agents.not_a_record",
                where=where,
                kind=type(data).__name__,
            )
        if int(data.get("format", 0)) > FORMAT:
            raise InputError(
                f"{where}: written by a newer version of the playground (format "
                f"{data.get('format')}); upgrade to use this agent.",
                key="errors.agents.newer_record",
                where=where,
                version=str(data.get("format")),
            )
        for key in ("name", "model"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise InputError(
                    f"{where}: field '{key}' is missing or not text",
                    key="errors.agents.field_not_text",
                    where=where,
                    field=key,
                )
        for key in ("adapter", "voice"):
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise InputError(
                    f"{where}: field '{key}' must be a mapping or null",
                    key="errors.agents.field_not_mapping",
                    where=where,
                    field=key,
                )
        if data.get("adapter") and not isinstance(data["adapter"].get("base"), str):
            raise InputError(
                f"{where}: the adapter has no 'base' model name",
                key="errors.agents.adapter_without_base",
                where=where,
            )
        return cls(
            name=check_name(data["name"]),
            role=Role.from_dict(data.get("role"), where=f"{where}: role"),
            model=data["model"],
            folder=Path(folder),
            collection=data.get("collection") or None,
            adapter=data.get("adapter"),
            voice=data.get("voice"),
            picture=_picture_name(data.get("picture"), where),
            settings=AgentSettings.from_dict(data.get("settings"), f"{where}: settings"),
            revision=int(data.get("revision", 1)),
            created=float(data.get("created", 0.0)),
            updated=float(data.get("updated", 0.0)),
        )


def check_name(name: Any) -> str:
    """A usable agent name (trimmed), or an ``InputError`` that says what to change."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("give the agent a name.", key="errors.agents.name_empty")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise InputError(
            f"an agent name can be at most {MAX_NAME} characters.",
            key="errors.agents.name_too_long",
            limit=MAX_NAME,
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InputError(
            "an agent name cannot contain control characters.",
            key="errors.agents.name_control_characters",
        )
    return name


def picture_suffix(data: bytes) -> str:
    """The file suffix of an image the agent may show; ``InputError`` for anything else."""
    import io

    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_PICTURE_BYTES:
        limit = MAX_PICTURE_BYTES // 1_000_000
        raise InputError(
            f"the picture is over {limit} MB; use a smaller one.",
            key="errors.agents.picture_too_big",
            limit=limit,
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InputError(
            f"the picture is not a readable image ({exc}).",
            key="errors.agents.picture_unreadable",
            detail=str(exc),
        ) from None
    if kind not in PICTURE_TYPES:
        raise InputError(
            f"the picture must be PNG, JPEG or WebP, not {kind}.",
            key="errors.agents.picture_type",
            kind=str(kind),
        )
    return PICTURE_TYPES[kind]


def _picture_name(value: Any, where: str) -> str | None:
    if not value:
        return None
    if value not in {f"picture{s}" for s in PICTURE_TYPES.values()}:
        raise InputError(
            f"{where}: 'picture' must be picture.png, .jpg or .webp",
            key="errors.agents.picture_name",
            where=where,
        )
    return value
