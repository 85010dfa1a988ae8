"""Tiny random models of every task kind, so that tests and CI run offline.

``make_tiny(folder)`` builds each model into ``folder`` and writes
``folder/models.yaml`` pointing at them; ``python app.py --config
folder/models.yaml`` then runs with no network at all. Outputs of random
models are nonsense: tests assert on shapes, files, errors and wiring.

Each task kind has a builder module here with ``build(folder) -> list[dict]``
returning the models-file entries it made.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

BUILDERS = [
    "playground.testing.chat_lm",
    "playground.testing.embedding",
    "playground.testing.reranker",
    "playground.testing.text_to_image",
    "playground.testing.voice",
    "playground.testing.speech_recognition",
]

HEADER = """\
# Tiny random models made by `playground testing make-tiny`. They run offline
# and fast, and their outputs are nonsense: use them to try the app's wiring.
"""


def make_tiny(folder: str | Path, *, only: list[str] | None = None) -> Path:
    """Build every tiny model into ``folder``; return the path of its models.yaml."""
    import torch

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    for module_name in BUILDERS:
        short = module_name.rsplit(".", 1)[1]
        if only and short not in only:
            continue
        module = importlib.import_module(module_name)
        torch.manual_seed(0)
        try:
            entries.extend(module.build(folder))
        except NotImplementedError:
            log.info("no tiny builder for %s yet", short)
    config = {
        "version": 1,
        "defaults": {"device": "cpu", "dtype": "float32", "memory_budget": "4GB"},
        "models": entries,
    }
    path = folder / "models.yaml"
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(HEADER + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    tmp.replace(path)
    return path
