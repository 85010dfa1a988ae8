"""Tiny text_to_image model builder (not written yet)."""

from __future__ import annotations

from pathlib import Path


def build(folder: Path) -> list[dict]:
    raise NotImplementedError
