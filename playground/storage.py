"""Per-user folders under the data dir, and writes that never leave half a file.

Everything a user makes (chat roles, collections, jobs, images, voices) lives
under ``DATA/users/<owner>/<kind>/``. ``owner`` is the logged-in user name or
an anonymous browser id; it is sanitised so it can never escape the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(owner: str) -> str:
    """A folder name for ``owner``: readable where possible, always unique and safe."""
    cleaned = _SAFE.sub("-", owner).strip(".-")[:48] or "user"
    if cleaned == owner:
        return cleaned
    digest = hashlib.sha256(owner.encode("utf-8")).hexdigest()[:10]
    return f"{cleaned}-{digest}"


def user_dir(data_dir: str | Path, owner: str, kind: str) -> Path:
    """``DATA/users/<owner>/<kind>``, created on demand."""
    path = Path(data_dir) / "users" / safe_name(owner) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def read_json(path: str | Path, default: Any = None) -> Any:
    """Read a JSON file; ``default`` when it does not exist."""
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


def replace_dir(staging: Path, target: Path) -> None:
    """Swap a fully written ``staging`` folder into place of ``target``.

    The old folder is renamed aside first and removed only after the new one
    is in place, so a crash at any point leaves one complete version.
    """
    from playground.faults import fault_point

    target = Path(target)
    old = target.with_name(f".{target.name}.old")
    fault_point("swap.staged")
    if old.exists():
        shutil.rmtree(old)
    fault_point("swap.old-cleared")
    if target.exists():
        os.replace(target, old)
    fault_point("swap.aside")  # only .<name>.old is on disk now
    os.replace(staging, target)
    fault_point("swap.promoted")
    shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
