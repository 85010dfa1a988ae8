"""Named collections that belong to one owner (a session or a logged-in user).

Each owner's collections live in ``DATA/users/<owner>/collections/<folder>/``;
one owner's store cannot list or open another's. The display name is kept in
the collection's manifest, so renaming never moves files.

Crash recovery: every change swaps a complete new folder in
(``playground.storage.replace_dir``), leaving dot-folders behind when a
process dies mid-way. Opening a store repairs them (``recover_folder``): a
``.<name>.old`` without its ``<name>`` is the committed state and is put back;
``.old`` and ``.trash-*`` next to a complete folder, and staging folders older
than this process (their writer is dead), are removed.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from playground.errors import InputError
from playground.rag.chunking import ChunkSettings
from playground.rag.embedder import Embedder
from playground.rag.index import _LOCKS, Collection
from playground.storage import read_json, user_dir

_OPEN: dict[str, Collection] = {}
_OPEN_LOCK = threading.Lock()
MAX_NAME = 80
# A staging folder last changed before this process started was left by a dead writer;
# newer ones may belong to a write in progress here or in another live process.
_STARTED = time.time()
STAGING = re.compile(r"^\.(?P<name>.+)\.staging-[0-9a-f]+$")
OLD = re.compile(r"^\.(?P<name>.+)\.old$")
log = logging.getLogger(__name__)


@dataclass
class CollectionSummary:
    name: str
    folder: str
    documents: int
    chunks: int
    embedding: str
    updated: float


class CollectionStore:
    """The collections of one owner."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        recover_folder(self.root)

    @classmethod
    def for_owner(cls, data_dir: str | Path, owner: str) -> CollectionStore:
        return cls(user_dir(data_dir, owner, "collections"))

    def _folders(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _manifests(self) -> list[tuple[Path, dict]]:
        """Each collection's folder and manifest (cheap: the indexes are not loaded)."""
        out = []
        for folder in self._folders():
            if Collection.exists(folder):
                out.append((folder, read_json(folder / "manifest.json")))
        return out

    def list(self) -> list[CollectionSummary]:
        out = [
            CollectionSummary(
                name=m["name"],
                folder=folder.name,
                documents=len(m["documents"]),
                chunks=sum(d["chunks"] for d in m["documents"]),
                embedding=m["embedding"].get("name", ""),
                updated=m.get("updated", 0.0),
            )
            for folder, m in self._manifests()
        ]
        return sorted(out, key=lambda s: s.name.lower())

    def names(self) -> list[str]:
        return [s.name for s in self.list()]

    def _find(self, name: str) -> Path | None:
        return next((folder for folder, m in self._manifests() if m["name"] == name), None)

    def open(self, name: str) -> Collection:
        folder = self._find(name)
        if folder is None:
            raise InputError(
                f"there is no collection named '{name}'. Create it by uploading files.",
                key="errors.rag.no_collection_upload",
                name=name,
            )
        return self._load(folder)

    def open_or_create(
        self, name: str, embedder: Embedder, chunking: ChunkSettings | None = None
    ) -> Collection:
        name = _check_name(name)
        folder = self._find(name)
        if folder is not None:
            return self._load(folder)
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:32] or "collection"
        folder = self.root / f"{slug}-{secrets.token_hex(3)}"
        return Collection.create(folder, embedder.info, name=name, chunking=chunking)

    def rename(self, old: str, new: str) -> None:
        new = _check_name(new)
        if new != old and self._find(new) is not None:
            raise InputError(
                f"a collection named '{new}' already exists.",
                key="errors.rag.collection_exists",
                name=new,
            )
        self.open(old).rename(new)

    def delete(self, name: str) -> None:
        folder = self._find(name)
        if folder is None:
            raise InputError(
                f"there is no collection named '{name}'.", key="errors.rag.no_collection", name=name
            )
        key = str(folder.resolve())
        trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(3)}")
        folder.rename(trash)  # gone from listings at once, even if removal is slow
        shutil.rmtree(trash, ignore_errors=True)
        with _OPEN_LOCK:
            _OPEN.pop(key, None)

    def _load(self, folder: Path) -> Collection:
        return load_cached(folder)


def load_cached(folder: str | Path) -> Collection:
    """Open a collection, reusing the loaded one while it matches what is on disk.

    A collection changed in this process (add, remove, rename) is still the
    cached object, so the next search does not reload it from disk.
    """
    folder = Path(folder)
    key = str(folder.resolve())
    Collection.exists(folder)  # finishes an interrupted swap, if any
    on_disk = (read_json(folder / "manifest.json") or {}).get("updated")
    with _OPEN_LOCK:
        cached = _OPEN.get(key)
        if cached and cached.manifest.get("updated") == on_disk:
            return cached
    collection = Collection.open(folder)
    with _OPEN_LOCK:
        _OPEN[key] = collection
        while len(_OPEN) > 16:
            _OPEN.pop(next(iter(_OPEN)))
    return collection


def recover_folder(root: str | Path, *, stale_before: float | None = None) -> list[str]:
    """Repair what interrupted swaps left in a collections folder; returns what was done.

    ``stale_before``: staging folders last changed before this time are removed
    (default: this process's start, so a write in progress is never touched).
    """
    root = Path(root)
    cutoff = _STARTED if stale_before is None else stale_before
    done = []
    for path in sorted(root.iterdir()) if root.exists() else []:
        if not path.is_dir() or not path.name.startswith("."):
            continue
        old, staging = OLD.match(path.name), STAGING.match(path.name)
        if old:
            target = root / old["name"]
            with _LOCKS[str(target.resolve())]:  # never in the middle of a swap of ours
                if not path.exists():
                    continue
                if target.exists():
                    shutil.rmtree(path, ignore_errors=True)
                    done.append(f"removed {path.name}")
                else:  # crashed between the two renames: the old one is the committed state
                    os.replace(path, target)
                    done.append(f"restored {target.name} from {path.name}")
        elif (staging and path.stat().st_mtime < cutoff) or path.name.startswith(".trash-"):
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"removed {path.name}")
    for line in done:
        log.warning("collections in %s: %s after an interrupted write", root, line)
    return done


def recover_all(data_dir: str | Path) -> list[str]:
    """``recover_folder`` for every owner's collections (for the app's start-up)."""
    done = []
    for folder in sorted(Path(data_dir).glob("users/*/collections")):
        done += recover_folder(folder)
    return done


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InputError("give the collection a name.", key="errors.rag.name_empty")
    if len(name) > MAX_NAME:
        raise InputError(
            f"a collection name can be at most {MAX_NAME} characters.",
            key="errors.rag.name_too_long",
            limit=MAX_NAME,
        )
    return name
