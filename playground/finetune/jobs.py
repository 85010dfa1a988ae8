"""Fine-tune jobs: one folder each, run by a detached process, queued per device.

A job folder holds everything about a run (see ``playground.finetune.train``),
so the app can be refreshed, closed or restarted and re-attach to it by
reading files: nothing lives only in the app's memory. Jobs belong to an owner
(``DATA/users/<owner>/finetune/<job id>``); the functions that take an owner
never reach outside that owner's folder.

One trainer per folder (an exclusive lock the OS drops when it dies), a
cancel that works in every phase, and a queue per device: see
``playground.finetune.job_process`` and ``playground.finetune.job_queue``.

The folder's files are in ``playground.finetune.job_files``, the trainer
process in ``playground.finetune.job_process`` and the queue in
``playground.finetune.job_queue``; this module creates, lists and deletes jobs,
and every name of those modules is importable from here too
(``from playground.finetune import jobs; jobs.read_status(...)``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from playground.errors import InputError
from playground.finetune.job_files import (
    ACTIVE,
    CANCEL_FILE,
    CANCEL_GRACE_S,
    COMPLETE_MARK,
    DETACHED_ENV,
    FINAL,
    JOB_ID,
    KIND,
    LAUNCH_LOCK,
    LOCK_FILE,
    PROJECT_ROOT,
    QUEUE_DIR,
    JobLog,
    append_metric,
    checkpoints,
    disk_bytes,
    job_pid,
    last_checkpoint,
    log_tail,
    pid_alive,
    read_config,
    read_metrics,
    truncate_metrics,
    write_status,
)
from playground.finetune.job_process import (
    TrainerLock,
    cancel,
    is_alive,
    launch,
    read_status,
    trainer_running,
    wait_until_done,
)
from playground.finetune.job_queue import leave_queue, queue_position, take_ticket, wait_for_turn
from playground.storage import atomic_write_json, read_json, safe_name, user_dir

__all__ = [
    "ACTIVE",
    "CANCEL_FILE",
    "CANCEL_GRACE_S",
    "COMPLETE_MARK",
    "DETACHED_ENV",
    "FINAL",
    "JOB_ID",
    "KIND",
    "LAUNCH_LOCK",
    "LOCK_FILE",
    "PROJECT_ROOT",
    "QUEUE_DIR",
    "JobInfo",
    "JobLog",
    "TrainerLock",
    "append_metric",
    "cancel",
    "checkpoints",
    "delete_job",
    "disk_bytes",
    "is_alive",
    "job_dir_for",
    "job_pid",
    "jobs_root",
    "last_checkpoint",
    "launch",
    "leave_queue",
    "list_all_jobs",
    "list_jobs",
    "log_tail",
    "new_job_id",
    "pid_alive",
    "prepare_job",
    "queue_position",
    "read_config",
    "read_json",
    "read_metrics",
    "read_status",
    "take_ticket",
    "trainer_running",
    "truncate_metrics",
    "wait_for_turn",
    "wait_until_done",
    "write_status",
]


def new_job_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def jobs_root(data_dir: str | Path, owner: str) -> Path:
    return user_dir(data_dir, owner, KIND)


def prepare_job(
    out_dir: str | Path,
    *,
    models_config: str | Path,
    base: str,
    base_source: str,
    device: str,
    dataset,
    settings,
    name: str | None = None,
    owner: str | None = None,
    queue_dir: str | Path | None = None,
) -> Path:
    """Write a job folder (data copy, config.json, status "queued") ready to run.

    ``dataset`` is a checked ``ParsedDataset``; a file with problems is refused here.
    """
    from playground.finetune.dataset import mix_general, split_records, write_jsonl

    dataset.raise_for_issues()
    settings.checked()
    out = Path(out_dir).resolve()
    _check_free_folder(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    train, val = split_records(dataset.records, settings.val_ratio, settings.seed)
    train = mix_general(train, settings.mix_general, settings.seed)
    write_jsonl(train, out / "data" / "train.jsonl")
    if val:
        write_jsonl(val, out / "data" / "val.jsonl")
    job_id = out.name if JOB_ID.match(out.name) else new_job_id()
    config = {
        "id": job_id,
        "name": name or f"{base}-lora-{job_id[:13]}",
        "owner": owner,
        "base": base,
        "base_source": base_source,
        "models_config": str(Path(models_config).resolve()),
        "device": device,
        "dataset_name": dataset.source,
        "dataset_sha256": dataset.sha256,
        "dataset_format": dataset.format,
        "records": len(dataset.records),
        "train_file": "data/train.jsonl",
        "val_file": "data/val.jsonl" if val else None,
        "train_records": len(train),
        "val_records": len(val),
        "settings": settings.to_dict(),
        "created": time.time(),
        "queue_dir": str(Path(queue_dir).resolve()) if queue_dir else None,
    }
    atomic_write_json(out / "config.json", config)
    for stale in ("metrics.jsonl", CANCEL_FILE, "pid"):
        (out / stale).unlink(missing_ok=True)
    write_status(out, state="queued", message="waiting to start", step=0, max_steps=None, pid=None)
    return out


def _check_free_folder(out: Path) -> None:
    """A new job may be written to ``out``: no job runs there and none left results."""
    if (out / "status.json").exists() and read_status(out).get("state") in ACTIVE:
        raise InputError(
            f"{out}: a job is already running in this folder; pick another --out folder.",
            key="errors.finetune.folder_busy",
            path=str(out),
        )
    if (out / "checkpoints").exists() or (out / "adapter").exists():
        raise InputError(
            f"{out} already holds a fine-tune job with results; pick a new --out folder, "
            "or continue that job with --resume.",
            key="errors.finetune.folder_has_results",
            path=str(out),
        )


@dataclass
class JobInfo:
    """One row of a job list."""

    id: str
    name: str
    base: str
    state: str
    step: int
    max_steps: int | None
    created: float
    path: Path
    message: str = ""
    disk_bytes: int = 0

    @property
    def label(self) -> str:
        when = time.strftime("%m-%d %H:%M", time.localtime(self.created))
        return f"{self.name} · {self.state} · {when}"


def list_jobs(data_dir: str | Path, owner: str) -> list[JobInfo]:
    """This owner's jobs, newest first."""
    root = Path(data_dir) / "users" / safe_name(owner) / KIND
    return _list_folder(root)


def list_all_jobs(data_dir: str | Path) -> list[tuple[str, JobInfo]]:
    """(owner folder, job) for every owner: for the administrator's CLI only."""
    out = []
    for owner_dir in sorted((Path(data_dir) / "users").glob("*")):
        out += [(owner_dir.name, job) for job in _list_folder(owner_dir / KIND)]
    return out


def _list_folder(root: Path) -> list[JobInfo]:
    jobs = []
    for path in root.glob("*/config.json") if root.exists() else []:
        if path.parent.name.startswith("."):  # a deletion a crash interrupted
            continue
        config = read_json(path, {}) or {}
        status = read_status(path.parent)
        jobs.append(
            JobInfo(
                id=config.get("id", path.parent.name),
                name=config.get("name", path.parent.name),
                base=config.get("base", "?"),
                state=status.get("state", "unknown"),
                step=int(status.get("step") or 0),
                max_steps=status.get("max_steps"),
                created=float(config.get("created", 0)),
                path=path.parent,
                message=status.get("message", ""),
                disk_bytes=disk_bytes(path.parent),
            )
        )
    return sorted(jobs, key=lambda j: j.created, reverse=True)


def job_dir_for(data_dir: str | Path, owner: str, job_id: str) -> Path:
    """The folder of one of ``owner``'s jobs; another owner's id is simply not found."""
    if not job_id or not JOB_ID.match(job_id):
        raise InputError(
            f"'{job_id}' is not a job id; pick a job from the list.",
            key="errors.finetune.bad_job_id",
            job=str(job_id),
        )
    path = Path(data_dir) / "users" / safe_name(owner) / KIND / job_id
    if not (path / "config.json").exists():
        raise InputError(
            f"job {job_id} was not found among your jobs.",
            key="errors.finetune.job_not_found",
            job=job_id,
        )
    return path


def delete_job(job_dir: Path) -> int:
    """Remove a finished job's folder (checkpoints, adapter, exports); returns bytes freed."""
    job_dir = Path(job_dir)
    if read_status(job_dir).get("state") in ACTIVE or is_alive(job_dir):
        raise InputError(
            "the job is still running; cancel it first.", key="errors.finetune.job_still_running"
        )
    size = disk_bytes(job_dir)
    # Renamed first: gone from the list at once, and a crash mid-removal leaves no half job.
    trash = job_dir.with_name(f".trash-{job_dir.name}-{secrets.token_hex(3)}")
    os.replace(job_dir, trash)
    shutil.rmtree(trash)
    return size
