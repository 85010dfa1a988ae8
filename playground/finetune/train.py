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
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from playground.errors import CancelledError, InputError, PlaygroundError
from playground.faults import fault_point
from playground.finetune import jobs
from playground.finetune.render import IGNORE_INDEX, encode
from playground.finetune.settings import TrainSettings
from playground.storage import atomic_write_json

CHECKPOINT_SECONDS = 600  # also checkpoint at least this often on slow runs


def run_job(job_dir: str | Path, *, resume: bool = False, max_steps: int | None = None) -> dict:
    """Run (or resume) the job in ``job_dir``; return its manifest. Raises on failure."""
    job_dir = Path(job_dir).resolve()
    cancel = _CancelFlag(job_dir)  # first: a cancel from now on ends the job as "cancelled"
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


class _CancelFlag:
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
            raise CancelledError("cancelled before training started")

    def is_set(self) -> bool:
        return self.signalled or self.path.exists()

    def check(self) -> None:
        if self.is_set():
            raise CancelledError("cancelled before training started")

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------- training


def _train(
    job_dir: Path,
    config: dict,
    log: jobs.JobLog,
    cancel: _CancelFlag,
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
            "no training record has an assistant reply left after truncation; raise max length."
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
            f"stopped at step {trainer.state.global_step}; the last checkpoint is kept"
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


def load_base(config: dict, settings: TrainSettings, device: str, log: jobs.JobLog):
    """The base model and tokenizer, from the same weights the Chat tab loads."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if os.environ.get(jobs.DETACHED_ENV) == "1":
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    source = config["base_source"]
    log.write(f"loading {config['base']} from {source} on {device}")
    tokenizer = AutoTokenizer.from_pretrained(source)
    fault_point("finetune.loading")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {"dtype": compute_dtype(settings, device)}
    if settings.qlora:
        if not device.startswith("cuda"):
            raise InputError(
                "QLoRA (4-bit base) needs a CUDA GPU; turn it off to train on this device."
            )
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise InputError(
                "QLoRA needs the 'bitsandbytes' package: pip install bitsandbytes"
            ) from None
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype(settings, device),
        )
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if settings.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=settings.gradient_checkpointing
        )
    elif settings.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    model.config.use_cache = False
    del torch
    return tokenizer, model


def compute_dtype(settings: TrainSettings, device: str):
    import torch

    if not device.startswith("cuda") or settings.precision == "fp32":
        return torch.float32
    if settings.precision == "fp16":
        return torch.float16
    if settings.precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def attach_lora(model, settings: TrainSettings):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules
        if settings.target_modules == "all-linear"
        else [m.strip() for m in settings.target_modules.split(",") if m.strip()],
        task_type="CAUSAL_LM",
        bias="none",
    )
    return get_peft_model(model, lora)


def training_arguments(output_dir: Path, settings: TrainSettings, device: str, *, has_eval: bool):
    from transformers import TrainingArguments

    gpu = device.startswith("cuda")
    dtype = (
        settings.precision
        if settings.precision != "auto"
        else ("bf16" if gpu and _bf16_ok() else "fp16" if gpu else "fp32")
    )
    kwargs: dict[str, Any] = {}
    if has_eval:
        kwargs.update(
            eval_strategy="steps",
            eval_steps=max(1, settings.save_steps or 10),
            per_device_eval_batch_size=settings.batch_size,
        )
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps if settings.max_steps > 0 else -1,
        # A float below 1 is a share of the total steps (transformers 5), known only once
        # the Trainer has counted them: exact for epoch-based runs too.
        warmup_steps=float(settings.warmup_ratio) if settings.warmup_ratio < 1 else 0,
        lr_scheduler_type="linear",
        weight_decay=settings.weight_decay,
        logging_steps=settings.logging_steps,
        # Checkpoints are asked for by JobCallback (every 10% of steps and every
        # 10 minutes): a fixed step count would leave short runs with none.
        save_strategy="no",
        save_total_limit=2,
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=gpu and dtype == "bf16" and not settings.qlora,
        fp16=gpu and dtype == "fp16" and not settings.qlora,
        use_cpu=not gpu,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        save_only_model=False,
        **kwargs,
    )


def _bf16_ok() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


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


def encode_file(tokenizer, path: Path, max_length: int) -> list[dict[str, list[int]]]:
    """Token ids and masked labels for each record of a messages JSONL file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        enc = encode(tokenizer, json.loads(line)["messages"], max_length)
        if enc.trained_tokens:
            out.append({"input_ids": enc.input_ids, "labels": enc.labels})
    return out


class Collator:
    """Right-pads a batch (labels with -100) and counts the real tokens trained on."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id
        self.tokens = 0

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            n = len(item["input_ids"])
            ids[row, :n] = torch.tensor(item["input_ids"])
            labels[row, :n] = torch.tensor(item["labels"])
            mask[row, :n] = 1
        self.tokens += int(mask.sum())
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


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


# ---------------------------------------------------------------- progress


def make_callback(
    job_dir: Path, log: jobs.JobLog, cancel: _CancelFlag, collator: Collator, save_steps: int = 0
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
        cancel: _CancelFlag,
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
