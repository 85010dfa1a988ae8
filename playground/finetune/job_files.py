"""A fine-tune job folder's files: config, status, metrics, log and checkpoints.

Also the names every part of a job shares (file names, states) and whether a
job's recorded process is alive. The process and queue logic that reads these
files is in ``playground.finetune.job_process`` and ``playground.finetune.job_queue``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from playground.errors import InputError
from playground.storage import atomic_write_json, read_json

KIND = "finetune"
CANCEL_FILE = "cancel"
LOCK_FILE = "trainer.lock"
LAUNCH_LOCK = ".launch.lock"
# Seconds a trainer gets to save a checkpoint and stop after SIGTERM before SIGKILL.
CANCEL_GRACE_S = float(os.environ.get("PLAYGROUND_CANCEL_GRACE", "30"))
COMPLETE_MARK = "checkpoint-complete"
DETACHED_ENV = "PLAYGROUND_JOB_DETACHED"
QUEUE_DIR = ".finetune-queue"
ACTIVE = ("queued", "running")
FINAL = ("completed", "failed", "cancelled")
JOB_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class JobLog:
    """Appends timestamped lines to ``log.txt`` (and echoes them in a terminal)."""

    def __init__(self, job_dir: Path, echo: bool = False) -> None:
        self.path = Path(job_dir) / "log.txt"
        self.echo = echo

    def write(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
        if self.echo:
            print(line, end="", flush=True)


def read_config(job_dir: Path) -> dict:
    config = read_json(Path(job_dir) / "config.json")
    if config is None:
        raise InputError(
            f"{job_dir}: not a fine-tune job folder (no config.json)",
            key="errors.finetune.not_a_job_folder",
            path=str(job_dir),
        )
    return config


def write_status(job_dir: Path, **fields: Any) -> dict:
    """Merge ``fields`` into status.json (atomic write)."""
    path = Path(job_dir) / "status.json"
    status = read_json(path, {}) or {}
    status.update(fields)
    status["updated"] = time.time()
    atomic_write_json(path, status)
    return status


def append_metric(job_dir: Path, row: dict) -> None:
    with open(Path(job_dir) / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def read_metrics(job_dir: Path) -> list[dict]:
    path = Path(job_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows: dict[tuple[int, bool], dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line being written right now
            continue
        # A step logged again after a resume replaces the earlier row: one point per step.
        rows[(int(row.get("step", 0)), "eval_loss" in row)] = row
    return sorted(rows.values(), key=lambda r: (r.get("step", 0), "eval_loss" in r))


def truncate_metrics(job_dir: Path, step: int) -> None:
    """Drop metric rows after ``step`` (a resume re-trains them from the checkpoint)."""
    from playground.storage import atomic_write_text

    path = Path(job_dir) / "metrics.jsonl"
    if path.exists():
        keep = [r for r in read_metrics(job_dir) if int(r.get("step", 0)) <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in keep))


def log_tail(job_dir: Path, lines: int = 30) -> str:
    path = Path(job_dir) / "log.txt"
    if not path.exists():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 16384))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def checkpoints(job_dir: Path) -> list[tuple[int, Path, bool]]:
    """(step, folder, complete) of every checkpoint folder, oldest first.

    Complete means the trainer finished writing it (it marks it after the
    save); a folder a crash cut short has no mark and is never resumed from.
    """
    root = Path(job_dir) / "checkpoints"
    found = []
    for path in root.glob("checkpoint-*") if root.exists() else []:
        suffix = path.name.rsplit("-", 1)[-1]
        if suffix.isdigit():
            found.append((int(suffix), path, (path / COMPLETE_MARK).exists()))
    return sorted(found)


def last_checkpoint(job_dir: Path) -> Path | None:
    """The newest complete checkpoint folder."""
    complete = [path for _step, path, done in checkpoints(job_dir) if done]
    return complete[-1] if complete else None


def disk_bytes(path: Path) -> int:
    """Bytes a job folder takes on disk (checkpoints, adapter, merged model, exports)."""
    total = 0
    for item in Path(path).rglob("*"):
        with contextlib.suppress(OSError):
            if item.is_file() and not item.is_symlink():
                total += item.stat().st_size
    return total


def pid_alive(pid: int | None, job_dir: Path | None = None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            if stat.read_text().split(")")[-1].split()[0] == "Z":
                return False
        except (OSError, IndexError):
            pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if job_dir is not None and cmdline.exists():
        try:
            return str(Path(job_dir).resolve()) in cmdline.read_bytes().decode(errors="replace")
        except OSError:
            return True
    return True


def job_pid(job_dir: Path) -> int | None:
    try:
        return int((Path(job_dir) / "pid").read_text().strip())
    except (OSError, ValueError):
        return None
