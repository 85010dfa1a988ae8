"""The fine-tune queue: one job trains per device at a time, the others wait their turn.

Every job takes a ticket in ``DATA/.finetune-queue/<device>/`` when it is
created; the process whose ticket is oldest trains, the others wait and show
their position. A ticket whose process died is cleared.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from playground.errors import CancelledError
from playground.finetune.job_files import FINAL, JobLog, job_pid, pid_alive, write_status
from playground.storage import atomic_write_json, read_json

try:  # POSIX file locks keep the queue consistent; Windows runs without them
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


def _queue_folder(config: dict) -> Path:
    device = re.sub(r"[^A-Za-z0-9_-]", "_", config.get("device") or "cpu")
    folder = Path(config["queue_dir"]) / device
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def take_ticket(job_dir: Path, config: dict) -> Path:
    folder = _queue_folder(config)
    for old in folder.glob(f"*-{config['id']}.json"):
        return old
    ticket = folder / f"{time.time_ns():020d}-{config['id']}.json"
    atomic_write_json(ticket, {"job_dir": str(Path(job_dir).resolve()), "created": time.time()})
    return ticket


def leave_queue(ticket: Path | None) -> None:
    if ticket is not None:
        Path(ticket).unlink(missing_ok=True)


def _tickets(folder: Path) -> list[Path]:
    """Live tickets, oldest first; tickets of dead or finished jobs are removed."""
    live = []
    for ticket in sorted(folder.glob("*.json")):
        info = read_json(ticket, {}) or {}
        job_dir = Path(info.get("job_dir", ""))
        status = read_json(job_dir / "status.json", {}) or {}
        young = time.time() - info.get("created", 0) < 30
        alive = pid_alive(job_pid(job_dir), job_dir)
        if status.get("state") in FINAL or not job_dir.exists() or (not alive and not young):
            ticket.unlink(missing_ok=True)
            continue
        live.append(ticket)
    return live


def queue_position(job_dir: Path) -> int | None:
    """0 when it is this job's turn, N when N jobs are ahead; None when not queued."""
    config = read_json(Path(job_dir) / "config.json", {}) or {}
    if not config.get("queue_dir"):
        return None
    folder = _queue_folder(config)
    names = [t.name for t in sorted(folder.glob("*.json"))]
    mine = [i for i, name in enumerate(names) if name.endswith(f"-{config['id']}.json")]
    return mine[0] if mine else None


def wait_for_turn(
    job_dir: Path, config: dict, cancelled: Callable[[], bool], log: JobLog, poll: float = 1.0
) -> Path | None:
    """Block until no older job holds the device; returns this job's ticket."""
    if not config.get("queue_dir"):
        return None
    folder = _queue_folder(config)
    ticket = take_ticket(job_dir, config)
    last = None
    while True:
        with open(folder / ".lock", "w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            live = _tickets(folder)
            if ticket not in live:  # cleared as stale while we were starting: take it again
                ticket = take_ticket(job_dir, config)
                live = _tickets(folder)
            position = live.index(ticket) if ticket in live else 0
        if position == 0:
            return ticket
        if cancelled():
            leave_queue(ticket)
            raise CancelledError(
                "cancelled while waiting in the queue", key="errors.finetune.cancelled_in_queue"
            )
        if position != last:
            log.write(f"waiting for the device: {position} job(s) ahead")
            write_status(
                job_dir,
                state="queued",
                message=f"{position} job(s) ahead on {config.get('device')}",
                queue_position=position,
                pid=os.getpid(),
            )
            last = position
        time.sleep(poll)
