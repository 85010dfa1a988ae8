"""Zero-shot voice-cloning models (transformers text-to-speech with a voice prompt).

The voice engine (``playground.voice``) owns the family-specific details.
"""

from __future__ import annotations

from playground.config import ModelEntry
from playground.errors import ModelLoadError


def load(entry: ModelEntry, ctx):
    raise ModelLoadError(
        f"'{entry.name}': voice-clone models are not supported yet in this version."
    )
