"""Fine-tune jobs: one folder each, run by a detached process, queued per device.

A job folder holds everything about a run (see ``playground.finetune.train``),
so the app can be refreshed, closed or restarted and re-attach to it by
reading files: nothing lives only in the app's memory. Jobs belong to an owner
(``DATA/users/<owner>/finetune/<job id>``); the functions that take an owner
never reach outside that owner's folder.

One trainer per folder: the trainer holds an exclusive lock on ``trainer.lock``
for its whole life (the OS drops it when the process dies, however it dies), so
a second start or a double-clicked Resume is refused with "already running",
and "is it alive?" has a truthful answer that no stale pid file can fake.
Cancel works in every phase: a ``cancel`` file and SIGTERM (the trainer saves a
checkpoint if it is training, else stops at once), then SIGKILL after a grace
period; either way the job ends "cancelled".

Queue: every job takes a ticket in ``DATA/.finetune-queue/<device>/`` when it
is created; the process whose ticket is oldest trains, the others wait and
show their position. A ticket whose process died is cleared.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.errors import CancelledError, InputError
from playground.storage import atomic_write_json, read_json, safe_name, user_dir

try:  # POSIX file locks keep the queue consistent; Windows runs without them
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

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


# ---------------------------------------------------------------- files


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
        raise InputError(f"{job_dir}: not a fine-tune job folder (no config.json)")
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


# ---------------------------------------------------------------- one trainer per folder


class TrainerLock:
    """The exclusive lock a trainer holds on its job folder while it lives."""

    def __init__(self, job_dir: Path) -> None:
        self.path = Path(job_dir) / LOCK_FILE
        self._handle = None

    def acquire(self) -> TrainerLock:
        handle = open(self.path, "a+")  # noqa: SIM115 (held for the trainer's life)
        # A status probe (trainer_running) holds the lock for microseconds: retry briefly.
        deadline = time.monotonic() + 2.0
        while fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                handle.close()
                raise InputError(
                    f"job {self.path.parent.name} is already running (another trainer holds "
                    f"{self.path}); wait for it or cancel it first."
                ) from None
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None


def trainer_running(job_dir: Path) -> bool:
    """Whether a live process holds the job's trainer lock."""
    path = Path(job_dir) / LOCK_FILE
    if fcntl is None or not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


@contextlib.contextmanager
def _launch_lock(job_dir: Path):
    """Serialises launches of one folder, so two clicks cannot both pass the check."""
    with open(Path(job_dir) / LAUNCH_LOCK, "a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def is_alive(job_dir: Path) -> bool:
    """A trainer holds the lock, or one was just started and has not taken it yet."""
    return trainer_running(job_dir) or pid_alive(job_pid(job_dir), job_dir)


# ---------------------------------------------------------------- creating


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
    if (out / "status.json").exists() and read_status(out).get("state") in ACTIVE:
        raise InputError(
            f"{out}: a job is already running in this folder; pick another --out folder."
        )
    if (out / "checkpoints").exists() or (out / "adapter").exists():
        raise InputError(
            f"{out} already holds a fine-tune job with results; pick a new --out folder, "
            "or continue that job with --resume."
        )
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


# ---------------------------------------------------------------- running detached


def launch(job_dir: Path, *, resume: bool = False, max_steps: int | None = None) -> int:
    """Start the job in its own process (own session: it outlives the app); returns the pid."""
    job_dir = Path(job_dir).resolve()
    config = read_config(job_dir)
    with _launch_lock(job_dir):
        if is_alive(job_dir):
            raise InputError(
                f"job {job_dir.name} is already running; wait for it or cancel it first."
            )
        return _spawn(job_dir, config, resume=resume, max_steps=max_steps)


def _spawn(job_dir: Path, config: dict, *, resume: bool, max_steps: int | None) -> int:
    (job_dir / CANCEL_FILE).unlink(missing_ok=True)
    (job_dir / "pid").unlink(missing_ok=True)  # the last run's pid must not mark this one dead
    if config.get("queue_dir"):
        take_ticket(job_dir, config)
    write_status(job_dir, state="queued", message="starting the training process", pid=None)
    cmd = [sys.executable, "-m", "playground.cli", "finetune", "run", "--job", str(job_dir)]
    if resume:
        cmd.append("--resume")
    if max_steps:
        cmd += ["--max-steps", str(max_steps)]
    env = dict(os.environ)
    env[DETACHED_ENV] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The log is for people: no progress bars or library deprecation chatter in it.
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    env.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning")
    # Its own session (a detached process on Windows): closing the app does not stop it.
    detach: dict[str, Any] = {"start_new_session": True}
    if os.name == "nt":  # pragma: no cover
        detach = {
            "creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        }
    log = open(job_dir / "log.txt", "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        cmd,
        cwd=str(PROJECT_ROOT),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        **detach,
    )
    log.close()
    (job_dir / "pid").write_text(str(proc.pid))
    # Reap the child when it ends so that it does not linger as a zombie.
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{proc.pid}").start()
    return proc.pid


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


def read_status(job_dir: Path) -> dict:
    """status.json, corrected when its process is gone without saying so."""
    job_dir = Path(job_dir)
    status = read_json(job_dir / "status.json", {}) or {}
    if status.get("state") in ACTIVE:
        pid = job_pid(job_dir)
        started = status.get("updated", 0)
        if not is_alive(job_dir) and (pid or time.time() - started > 30):
            if (job_dir / CANCEL_FILE).exists():  # killed after a cancel: that is what it was
                status = write_status(job_dir, state="cancelled", pid=None, message="cancelled")
            else:
                status = write_status(
                    job_dir,
                    state="failed",
                    pid=None,
                    message="the training process ended unexpectedly; see the log below, "
                    "then Resume",
                )
    if status.get("state") == "queued":
        position = queue_position(job_dir)
        if position is not None:
            status["queue_position"] = position
    return status


def cancel(job_dir: Path, *, grace: float | None = None) -> dict:
    """Stop the job in any phase; it ends "cancelled".

    Training, it saves a checkpoint first (Resume continues from it); queued,
    downloading or loading, it stops at once. A trainer that has not ended
    ``grace`` seconds after SIGTERM is killed (a watcher thread does it).
    """
    job_dir = Path(job_dir)
    status = read_status(job_dir)
    if status.get("state") not in ACTIVE:
        return status
    (job_dir / CANCEL_FILE).write_text(str(time.time()))
    pid = job_pid(job_dir)
    if pid_alive(pid, job_dir):
        if os.name != "nt":  # on Windows a signal would kill it outright; the file is enough
            import signal

            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        grace = CANCEL_GRACE_S if grace is None else grace
        threading.Thread(
            target=_kill_after, args=(job_dir, pid, grace), daemon=True, name=f"cancel-{pid}"
        ).start()
        return write_status(job_dir, message="cancelling: saving a checkpoint")
    return write_status(job_dir, state="cancelled", message="cancelled before it started", pid=None)


def _kill_after(job_dir: Path, pid: int, grace: float) -> None:
    """SIGKILL a trainer that outlives its grace period; then say "cancelled"."""
    deadline = time.monotonic() + grace
    while pid_alive(pid, job_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid, job_dir) and os.name != "nt":
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        JobLog(job_dir).write(f"the trainer did not stop within {grace:.0f}s; killed it")
        deadline = time.monotonic() + 10
        while pid_alive(pid, job_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
    read_status(job_dir)  # a killed trainer's job reads "cancelled" (the cancel file is there)


def wait_until_done(job_dir: Path, timeout: float = 300, poll: float = 0.5) -> dict:
    """Block until the job reaches a final state (for the CLI and tests)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = read_status(job_dir)
        if status.get("state") in FINAL:
            return status
        time.sleep(poll)
    raise TimeoutError(f"{job_dir.name} did not finish within {timeout:.0f}s")


# ---------------------------------------------------------------- queue


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
            raise CancelledError("cancelled while waiting in the queue")
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


# ---------------------------------------------------------------- listing


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
        raise InputError(f"'{job_id}' is not a job id; pick a job from the list.")
    path = Path(data_dir) / "users" / safe_name(owner) / KIND / job_id
    if not (path / "config.json").exists():
        raise InputError(f"job {job_id} was not found among your jobs.")
    return path


def delete_job(job_dir: Path) -> int:
    """Remove a finished job's folder (checkpoints, adapter, exports); returns bytes freed."""
    job_dir = Path(job_dir)
    if read_status(job_dir).get("state") in ACTIVE or is_alive(job_dir):
        raise InputError("the job is still running; cancel it first.")
    size = disk_bytes(job_dir)
    # Renamed first: gone from the list at once, and a crash mid-removal leaves no half job.
    trash = job_dir.with_name(f".trash-{job_dir.name}-{secrets.token_hex(3)}")
    os.replace(job_dir, trash)
    shutil.rmtree(trash)
    return size
