"""A training run's progress: status and metrics files, checkpoints, and cancel.

``JobCallback`` keeps ``status.json`` and ``metrics.jsonl`` current and asks
for a checkpoint at least every 10% of the steps and every 10 minutes;
``CancelFlag`` turns a ``cancel`` file or SIGTERM into a clean stop.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from playground.errors import CancelledError
from playground.faults import fault_point
from playground.finetune import jobs
from playground.finetune.train_setup import Collator

CHECKPOINT_SECONDS = 600  # also checkpoint at least this often on slow runs


class CancelFlag:
    """Set by a ``cancel`` file in the job folder or by SIGTERM/SIGINT.

    While training, a signal only sets the flag: the callback saves a
    checkpoint and stops at the end of the step. In any other phase (waiting,
    downloading, loading) there is nothing to save, so the signal raises
    ``CancelledError`` at once, wherever the process is.
    """

    def __init__(self, job_dir: Path) -> None:
        self.path = job_dir / jobs.CANCEL_FILE
        self.signalled = False
        self.training = False
        self._previous = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread (a test or the app): the file still works
            self._previous = {}

    def _handle(self, signum, frame) -> None:
        self.signalled = True
        if not self.training:
            raise CancelledError(
                "cancelled before training started", key="errors.finetune.cancelled_before_start"
            )

    def is_set(self) -> bool:
        return self.signalled or self.path.exists()

    def check(self) -> None:
        if self.is_set():
            raise CancelledError(
                "cancelled before training started", key="errors.finetune.cancelled_before_start"
            )

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def checkpoint_interval(max_steps: int, save_steps: int = 0) -> int:
    """Steps between checkpoints: ``save_steps`` if set, never more than 10% of the run."""
    tenth = max(1, max_steps // 10)
    return min(save_steps, tenth) if save_steps > 0 else tenth


def checkpoint_due(step: int, interval: int, since_last: float) -> bool:
    """Save at every ``interval`` steps, and whenever 10 minutes passed since the last save."""
    return step > 0 and (step % interval == 0 or since_last >= CHECKPOINT_SECONDS)


def job_trainer_class(trainer_cls):
    """The Trainer with a named fault point in the middle of writing a checkpoint."""

    class JobTrainer(trainer_cls):
        def _save_optimizer_and_scheduler(self, output_dir):
            fault_point("finetune.saving")  # weights written, optimizer and state not yet
            return super()._save_optimizer_and_scheduler(output_dir)

    return JobTrainer


def make_callback(
    job_dir: Path, log: jobs.JobLog, cancel: CancelFlag, collator: Collator, save_steps: int = 0
):
    """A ``TrainerCallback`` (transformers is imported only here, inside the job)."""
    from transformers import TrainerCallback

    cls = type("JobTrainerCallback", (JobCallback, TrainerCallback), {})
    return cls(job_dir, log, cancel, collator, save_steps)


class JobCallback:
    """Keeps status.json and metrics.jsonl current; turns a cancel request into a clean stop."""

    def __init__(
        self,
        job_dir: Path,
        log: jobs.JobLog,
        cancel: CancelFlag,
        collator: Collator,
        save_steps: int = 0,
    ) -> None:
        self.save_steps = save_steps
        self.job_dir = job_dir
        self.log = log
        self.cancel = cancel
        self.collator = collator
        self.cancelled = False
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.eval_loss: float | None = None
        self._start = time.time()
        self._start_step = 0
        self._last_status = 0.0
        self._last_eval_step = -1
        self._last_save = time.time()
        self._interval = 1

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.time()
        self._last_save = time.time()
        self._start_step = state.global_step
        self._interval = checkpoint_interval(state.max_steps, self.save_steps)
        self.log.write(f"training: {state.max_steps} steps, starting at step {state.global_step}")
        self._status(state, force=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.cancel.is_set() and not self.cancelled:
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
            self.log.write(f"cancel requested: saving a checkpoint at step {state.global_step}")
        elif checkpoint_due(state.global_step, self._interval, time.time() - self._last_save):
            control.should_save = True
        fault_point("finetune.step")
        self._status(state)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        row: dict[str, Any] = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0, 4),
            "time": time.time(),
        }
        if "loss" in logs:
            row["loss"] = float(logs["loss"])
            self.last_loss = row["loss"]
            if self.first_loss is None:
                self.first_loss = row["loss"]
        if "learning_rate" in logs:
            row["learning_rate"] = float(logs["learning_rate"])
        if "eval_loss" in logs and state.global_step != self._last_eval_step:
            self._last_eval_step = state.global_step
            row["eval_loss"] = float(logs["eval_loss"])
            self.eval_loss = row["eval_loss"]
        if len(row) > 3:
            jobs.append_metric(self.job_dir, row)
            if "loss" in row and (state.global_step % 10 == 0 or state.global_step == 1):
                self.log.write(f"step {state.global_step}/{state.max_steps} loss {row['loss']:.4f}")

    def on_save(self, args, state, control, **kwargs):
        # Called after the Trainer wrote the whole folder: only now is it safe to resume from.
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        (folder / jobs.COMPLETE_MARK).write_text(str(time.time()))
        self._last_save = time.time()
        self.log.write(f"checkpoint saved at step {state.global_step}")

    def _status(self, state, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_status < 1.0:
            return
        self._last_status = now
        done = state.global_step - self._start_step
        left = max(0, state.max_steps - state.global_step)
        eta = (now - self._start) / done * left if done > 0 else None
        jobs.write_status(
            self.job_dir,
            state="running",
            message="training",
            pid=os.getpid(),
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=state.epoch,
            eta_seconds=eta,
            loss=self.last_loss,
            eval_loss=self.eval_loss,
            tokens=self.collator.tokens,
        )
