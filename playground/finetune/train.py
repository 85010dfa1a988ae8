"""The training engine: PEFT LoRA with the transformers Trainer, inside a job folder.

``run_job(job_dir)`` is what the detached ``playground finetune run --job DIR``
process executes. It waits for its turn on the device, loads the base model,
trains, and keeps the folder current the whole time:

- ``status.json``: state, step / max steps, ETA, losses (read by the UI);
- ``metrics.jsonl``: one line per logged step (loss, learning rate, eval loss);
- ``log.txt``: what happened, in words;
- ``checkpoints/checkpoint-N``: resumable checkpoints, at least every 10% of
  the steps and every 10 minutes, and on Cancel; each marked complete after
  it is written, so a crash mid-save is never resumed from;
- ``adapter/``: the final adapter with ``manifest.json``;
- ``trainer.lock``: held while the trainer lives (see ``jobs``).

The model setup is in ``playground.finetune.train_setup`` and the progress
callback, checkpoint timing and cancel flag in
``playground.finetune.train_progress`` (their names are importable from here).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from playground.errors import CancelledError, InputError, PlaygroundError
from playground.faults import fault_point
from playground.finetune import jobs
from playground.finetune.settings import TrainSettings
from playground.finetune.train_progress import (
    CHECKPOINT_SECONDS,
    CancelFlag,
    JobCallback,
    checkpoint_due,
    checkpoint_interval,
    job_trainer_class,
    make_callback,
)
from playground.finetune.train_setup import (
    Collator,
    attach_lora,
    compute_dtype,
    encode_file,
    load_base,
    training_arguments,
)
from playground.storage import atomic_write_json

__all__ = [
    "CHECKPOINT_SECONDS",
    "CancelFlag",
    "Collator",
    "JobCallback",
    "attach_lora",
    "checkpoint_due",
    "checkpoint_interval",
    "compute_dtype",
    "encode_file",
    "job_trainer_class",
    "load_base",
    "make_callback",
    "peak_memory",
    "prepare_resume",
    "run_job",
    "save_adapter",
    "training_arguments",
]


def run_job(job_dir: str | Path, *, resume: bool = False, max_steps: int | None = None) -> dict:
    """Run (or resume) the job in ``job_dir``; return its manifest. Raises on failure."""
    job_dir = Path(job_dir).resolve()
    cancel = CancelFlag(job_dir)  # first: a cancel from now on ends the job as "cancelled"
    config = jobs.read_config(job_dir)
    try:
        lock = jobs.TrainerLock(job_dir).acquire()  # a second trainer stops here, touching nothing
    except BaseException:
        cancel.restore()
        raise
    log = jobs.JobLog(job_dir, echo=os.environ.get(jobs.DETACHED_ENV) != "1")
    if resume and (jobs.read_json(job_dir / "status.json", {}) or {}).get("state") in jobs.FINAL:
        # Resumed by hand after a cancel: the old request must not stop the new run.
        (job_dir / jobs.CANCEL_FILE).unlink(missing_ok=True)
    (job_dir / "pid").write_text(str(os.getpid()))
    ticket = None
    try:
        cancel.check()  # cancelled while this process was starting
        ticket = jobs.wait_for_turn(job_dir, config, cancel.is_set, log)
        jobs.write_status(
            job_dir, state="running", message="loading the base model", pid=os.getpid()
        )
        fault_point("finetune.before-load")
        manifest = _train(job_dir, config, log, cancel, resume=resume, max_steps=max_steps)
    except CancelledError as exc:
        jobs.write_status(job_dir, state="cancelled", message=str(exc), pid=None)
        log.write(f"cancelled: {exc}")
        raise
    except PlaygroundError as exc:
        jobs.write_status(job_dir, state="failed", message=str(exc), pid=None)
        log.write(f"failed: {exc}")
        raise
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        if "out of memory" in str(exc).lower():
            message += " -- lower the batch size or max length, or enable gradient checkpointing."
        jobs.write_status(job_dir, state="failed", message=message, pid=None)
        log.write(f"failed: {message}")
        raise
    finally:
        cancel.restore()
        if ticket is not None:
            jobs.leave_queue(ticket)
        lock.release()
    return manifest


def _train(
    job_dir: Path,
    config: dict,
    log: jobs.JobLog,
    cancel: CancelFlag,
    *,
    resume: bool,
    max_steps: int | None,
) -> dict:
    import torch
    from transformers import Trainer, set_seed

    settings = TrainSettings.from_dict(config["settings"])
    if max_steps:
        settings.max_steps = int(max_steps)
    device = config.get("device", "cpu")
    set_seed(settings.seed)
    tokenizer, model = load_base(config, settings, device, log)
    train_set = encode_file(tokenizer, job_dir / config["train_file"], settings.max_length)
    val_set = (
        encode_file(tokenizer, job_dir / config["val_file"], settings.max_length)
        if config.get("val_file")
        else []
    )
    if not train_set:
        raise InputError(
            "no training record has an assistant reply left after truncation; raise max length.",
            key="errors.finetune.nothing_left_to_train",
        )
    log.write(f"{len(train_set)} training records, {len(val_set)} validation records")
    set_seed(settings.seed)
    model = attach_lora(model, settings)
    checkpoint = prepare_resume(job_dir, log) if resume else None
    if not resume:
        jobs.truncate_metrics(job_dir, 0)
    collator = Collator(tokenizer.pad_token_id)
    args = training_arguments(job_dir / "checkpoints", settings, device, has_eval=bool(val_set))
    progress = make_callback(job_dir, log, cancel, collator, settings.save_steps or 0)
    trainer = job_trainer_class(Trainer)(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set or None,
        data_collator=collator,
        callbacks=[progress],
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our callback writes the log and metrics
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    cancel.check()
    cancel.training = True  # from here a cancel saves a checkpoint and ends cleanly
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    runtime = time.perf_counter() - started
    if progress.cancelled:
        raise CancelledError(
            f"stopped at step {trainer.state.global_step}; the last checkpoint is kept",
            key="errors.finetune.stopped_at_step",
            step=trainer.state.global_step,
        )
    final_eval = trainer.evaluate()["eval_loss"] if val_set else None
    stats = {
        "train_runtime_s": runtime,
        "train_tokens": collator.tokens,
        "tokens_per_second": collator.tokens / runtime if runtime > 0 else 0.0,
        "peak_memory_bytes": peak_memory(device),
        "global_step": trainer.state.global_step,
        "train_loss": progress.last_loss,
        "first_loss": progress.first_loss,
        "average_train_loss": result.training_loss,
        "eval_loss": final_eval,
    }
    manifest = save_adapter(job_dir, model, config, settings, stats)
    jobs.write_status(
        job_dir,
        state="completed",
        message="adapter saved",
        pid=None,
        step=trainer.state.global_step,
        max_steps=trainer.state.max_steps,
        eta_seconds=0,
        loss=progress.last_loss,
        eval_loss=final_eval,
    )
    log.write(f"done: adapter saved to {job_dir / 'adapter'}")
    return manifest


def prepare_resume(job_dir: Path, log: jobs.JobLog) -> Path | None:
    """The checkpoint to resume from (None: start over), with the folder made consistent.

    Checkpoints a crash cut short are removed, and metrics logged after the
    checkpoint are dropped: those steps are trained again and logged once.
    """
    checkpoint = jobs.last_checkpoint(job_dir)
    step = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    for number, path, complete in jobs.checkpoints(job_dir):
        if not complete and number >= step:
            shutil.rmtree(path, ignore_errors=True)
            log.write(f"removed {path.name}: a crash cut its save short")
    jobs.truncate_metrics(job_dir, step)
    if checkpoint is None:
        log.write("no complete checkpoint yet: training again from step 0")
    else:
        log.write(f"resuming from {checkpoint.name}")
    return checkpoint


def peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated())
    try:
        import resource
    except ImportError:  # pragma: no cover (Windows)
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def save_adapter(job_dir: Path, model, config: dict, settings: TrainSettings, stats: dict) -> dict:
    """Write ``adapter/`` (safetensors + config + manifest) atomically."""
    from playground.storage import replace_dir

    staging = job_dir / ".adapter.tmp"
    if staging.exists():
        import shutil

        shutil.rmtree(staging)
    model.save_pretrained(str(staging), safe_serialization=True)
    manifest = {
        "name": config.get("name"),
        "base": config["base"],
        "base_source": config["base_source"],
        "dataset": config.get("dataset_name"),
        "dataset_sha256": config.get("dataset_sha256"),
        "records": config.get("records"),
        "settings": settings.to_dict(),
        "device": config.get("device"),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **stats,
    }
    atomic_write_json(staging / "manifest.json", manifest)
    replace_dir(staging, job_dir / "adapter")
    return manifest
