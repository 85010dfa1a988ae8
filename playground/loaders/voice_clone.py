"""Zero-shot voice-cloning models (transformers text-to-speech with a voice prompt).

The family (``options.family``, else the checkpoint's ``model_type``) picks the
model class; ``playground.voice.families`` owns how each family is prompted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.config import ModelEntry
from playground.device import resolve_dtype
from playground.errors import ModelLoadError
from playground.loaders import loader
from playground.loaders.hub import local_source


@dataclass
class VoiceCloneModel:
    """A loaded voice-clone model, ready for ``playground.voice``."""

    name: str
    entry: ModelEntry
    family: Any  # playground.voice.families.Family
    model: Any
    processor: Any
    device: str
    sample_rate: int
    frame_rate: float
    options: dict[str, Any] = field(default_factory=dict)


@loader("voice-clone")
def load(entry: ModelEntry, ctx) -> VoiceCloneModel:
    import transformers
    from transformers import AutoProcessor

    from playground.voice.families import family_of

    folder = local_source(entry, ctx.base_dir)
    family = family_of(
        entry.options.get("family") or _model_type(folder), where=f"'{entry.name}': "
    )
    model_cls = getattr(transformers, family.model_class, None)
    if model_cls is None:
        raise ModelLoadError(
            f"'{entry.name}': the installed transformers {transformers.__version__} has no "
            f"{family.model_class}. Upgrade it: pip install -U transformers",
            key="errors.loader.transformers_too_old",
            name=entry.name,
            version=transformers.__version__,
            model_class=family.model_class,
        )
    processor = AutoProcessor.from_pretrained(folder)
    model = model_cls.from_pretrained(folder, dtype=resolve_dtype(ctx.dtype, ctx.device))
    model.to(ctx.device)
    model.eval()
    extractor = getattr(processor, "feature_extractor", None)
    sample_rate = int(getattr(extractor, "sampling_rate", None) or family.sample_rate)
    return VoiceCloneModel(
        name=entry.name,
        entry=entry,
        family=family,
        model=model,
        processor=processor,
        device=ctx.device,
        sample_rate=sample_rate,
        frame_rate=float(entry.options.get("frame_rate", family.frame_rate)),
        options=dict(entry.options),
    )


def _model_type(folder: str) -> str | None:
    path = Path(folder) / "config.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("model_type")
