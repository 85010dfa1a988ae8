"""A fine-tune job's trainer process: its lock, launch, status, cancel and wait.

One trainer per folder: the trainer holds an exclusive lock on ``trainer.lock``
for its whole life (the OS drops it when the process dies, however it dies), so
a second start or a double-clicked Resume is refused with "already running",
and "is it alive?" has a truthful answer that no stale pid file can fake.
Cancel works in every phase: a ``cancel`` file and SIGTERM (the trainer saves a
checkpoint if it is training, else stops at once), then SIGKILL after a grace
period; either way the job ends "cancelled".
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from playground.errors import InputError
from playground.finetune.job_files import (
    ACTIVE,
    CANCEL_FILE,
    CANCEL_GRACE_S,
    DETACHED_ENV,
    FINAL,
    LAUNCH_LOCK,
    LOCK_FILE,
    PROJECT_ROOT,
    JobLog,
    job_pid,
    pid_alive,
    read_config,
    write_status,
)
from playground.finetune.job_queue import queue_position, take_ticket
from playground.storage import read_json

try:  # POSIX file locks keep the queue consistent; Windows runs without them
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None


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
                    f"{self.path}); wait for it or cancel it first.",
                    key="errors.finetune.job_locked",
                    job=self.path.parent.name,
                    lock=str(self.path),
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


def launch(job_dir: Path, *, resume: bool = False, max_steps: int | None = None) -> int:
    """Start the job in its own process (own session: it outlives the app); returns the pid."""
    job_dir = Path(job_dir).resolve()
    config = read_config(job_dir)
    with _launch_lock(job_dir):
        if is_alive(job_dir):
            raise InputError(
                f"job {job_dir.name} is already running; wait for it or cancel it first.",
                key="errors.finetune.job_running",
                job=job_dir.name,
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
