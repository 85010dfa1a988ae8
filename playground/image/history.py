"""Each user's images: PNGs with their parameters, under ``DATA/users/<owner>/images``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.errors import InputError
from playground.image.params import ImageParams, png_bytes, read_parameters
from playground.storage import atomic_write_bytes


@dataclass
class HistoryItem:
    path: Path
    params: ImageParams | None

    @property
    def caption(self) -> str:
        if self.params is None:
            return self.path.name
        prompt = self.params.prompt.replace("\n", " ")
        prompt = prompt if len(prompt) <= 60 else prompt[:57] + "..."
        return f"{prompt} · seed {self.params.seed}"


def save_image(folder: str | Path, image: Any, params: ImageParams) -> Path:
    """Write ``image`` as a PNG carrying ``params``; the name sorts by time."""
    folder = Path(folder)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 10**9:09d}"
    path = folder / f"{stamp}-seed{params.seed}.png"
    atomic_write_bytes(path, png_bytes(image, params))
    return path


def list_history(folder: str | Path, limit: int = 60) -> list[HistoryItem]:
    """The newest ``limit`` images first; an image whose parameters cannot be read keeps none."""
    folder = Path(folder)
    if not folder.exists():
        return []
    items = []
    for path in sorted(folder.glob("*.png"), reverse=True)[:limit]:
        try:
            params = read_parameters(path)
        except InputError:
            params = None
        items.append(HistoryItem(path, params))
    return items
