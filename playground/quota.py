"""Limits for shared servers: a disk quota per user, and a lifetime for anonymous data.

Everything a user keeps lives under ``DATA/users/<owner>/`` (uploads,
collections, jobs, images, voices, outputs), so one folder walk measures it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from playground.device import format_bytes
from playground.errors import InputError
from playground.storage import safe_name

log = logging.getLogger(__name__)


class QuotaError(InputError):
    """A user's folder is full (``--user-quota``)."""


def folder_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed while we walked: it no longer counts
                continue
    return total


def used_bytes(data_dir: str | Path, owner: str) -> int:
    """Disk used by ``owner`` (a ``User.key``)."""
    return folder_bytes(Path(data_dir) / "users" / safe_name(owner))


def check_quota(data_dir: str | Path, owner: str, limit_bytes: int, adding: int = 0) -> None:
    """Raise QuotaError when ``owner`` is at (or would pass) ``limit_bytes``."""
    if limit_bytes <= 0:
        return
    used = used_bytes(data_dir, owner)
    if used + adding <= limit_bytes:
        return
    raise QuotaError(
        f"Your storage on this server is full: {format_bytes(used)} used"
        + (f" + {format_bytes(adding)} new" if adding else "")
        + f" of {format_bytes(limit_bytes)} allowed (--user-quota). Free space by deleting "
        "collections (Documents), fine-tune jobs (Fine-tune), saved voices (Voice) or "
        "images you no longer need, then try again.",
        key="errors.quota.full_adding" if adding else "errors.quota.full",
        used=format_bytes(used),
        adding=format_bytes(adding),
        limit=format_bytes(limit_bytes),
    )


def _newest_mtime(path: Path) -> float:
    newest = path.stat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return newest


def remove_stale_anonymous(data_dir: str | Path, ttl_days: float, now: float | None = None) -> int:
    """Delete anonymous users' folders nothing touched for ``ttl_days``; how many went."""
    users = Path(data_dir) / "users"
    if ttl_days <= 0 or not users.is_dir():
        return 0
    cutoff = (now or time.time()) - ttl_days * 86400
    removed = 0
    for folder in users.glob("anon-*"):
        if folder.is_dir() and _newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed stale anonymous data %s", folder.name)
            removed += 1
    return removed
