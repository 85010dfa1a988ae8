"""Hyper-parameters with one-click defaults, and a memory/time estimate before starting.

``auto_settings`` picks every value from the dataset size, the token lengths
and the device, so a beginner presses one button; the Advanced panel shows the
same fields with the one-line explanations in ``HELP``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from playground.device import format_bytes
from playground.errors import InputError, OutOfMemoryError


@dataclass
class TrainSettings:
    """Everything that shapes a LoRA run. ``None`` means "choose automatically"."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: str = "all-linear"
    learning_rate: float = 2e-4
    epochs: float = 3.0
    max_steps: int = 0  # > 0 overrides epochs
    batch_size: int = 4
    grad_accum: int = 4
    max_length: int = 1024
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    val_ratio: float = 0.0
    mix_general: float = 0.0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    qlora: bool = False
    seed: int = 42
    save_steps: int = 0  # 0: every 10% of the steps; also every 10 minutes and on Cancel
    logging_steps: int = 1
    gradient_checkpointing: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            names = ", ".join(sorted(unknown))
            raise InputError(
                f"unknown training setting(s): {names}",
                key="errors.finetune.unknown_settings",
                names=names,
            )
        return cls(**{k: v for k, v in data.items() if v is not None}).checked()

    def checked(self) -> TrainSettings:
        """Raise an ``InputError`` naming the first setting that cannot work."""
        rules = [
            (self.rank >= 1, "rank", "must be 1 or more (8-64 is typical)"),
            (self.alpha > 0, "alpha", "must be above 0 (usually 2 x rank)"),
            (0 <= self.dropout < 1, "dropout", "must be between 0 and 1"),
            (
                0 < self.learning_rate < 1,
                "learning_rate",
                "must be between 0 and 1 (1e-4 to 3e-4 is typical)",
            ),
            (self.epochs > 0 or self.max_steps > 0, "epochs", "must be above 0 (or set max_steps)"),
            (self.batch_size >= 1, "batch_size", "must be 1 or more"),
            (self.grad_accum >= 1, "grad_accum", "must be 1 or more"),
            (self.max_length >= 16, "max_length", "must be at least 16 tokens"),
            (0 <= self.val_ratio <= 0.5, "val_ratio", "must be between 0 and 0.5"),
            (0 <= self.mix_general <= 0.5, "mix_general", "must be between 0 and 0.5"),
            (
                self.precision in ("auto", "fp32", "bf16", "fp16"),
                "precision",
                "must be auto, fp32, bf16 or fp16",
            ),
        ]
        for ok, name, why in rules:
            if not ok:
                value = repr(getattr(self, name))
                raise InputError(
                    f"setting '{name}' = {value}: {why}",
                    key=f"errors.finetune.setting_{name}",
                    name=name,
                    value=value,
                )
        return self


HELP = {
    "rank": "Size of the LoRA update matrices: higher learns more but is slower and can overfit.",
    "alpha": "Scale of the LoRA update; 2 x rank is a safe choice.",
    "dropout": "Randomly drops LoRA inputs while training, to reduce overfitting on small data.",
    "target_modules": "Which layers get adapters; 'all-linear' adapts every linear layer.",
    "learning_rate": "Step size of each update; too high diverges, too low learns nothing.",
    "epochs": "How many times the whole dataset is seen.",
    "max_steps": "Stop after this many optimizer steps (0: use epochs).",
    "batch_size": "Records processed together on the device; lower it if memory runs out.",
    "grad_accum": "Batches added up before each update: effective batch = batch size x this.",
    "max_length": "Longest record in tokens; longer records are cut at the end.",
    "val_ratio": "Share of records held out to measure the validation loss.",
    "mix_general": "Share of bundled general instructions mixed in, to limit forgetting.",
    "precision": "Number format on a GPU: bf16/fp16 halve memory; CPUs use fp32.",
    "seed": "Same seed + same data + same settings = the same run.",
}


def auto_settings(
    n_records: int,
    *,
    device: str = "cpu",
    p95_tokens: int | None = None,
    context_window: int = 2048,
    params: int | None = None,
    qlora_available: bool = False,
) -> TrainSettings:
    """One-click defaults from the dataset size, record lengths and device."""
    gpu = device.startswith("cuda")
    big = (params or 0) > 3e9
    rank = 8 if n_records < 1000 else 16
    if n_records < 100:
        epochs = 5.0
    elif n_records < 1000:
        epochs = 3.0
    elif n_records < 10000:
        epochs = 2.0
    else:
        epochs = 1.0
    want = p95_tokens or 512
    max_length = min(
        context_window, 2048 if gpu else 1024, max(64, 64 * math.ceil(want * 1.1 / 64))
    )
    if gpu:
        batch = 8 if max_length <= 512 else 4 if max_length <= 1024 else 2
        effective = 16
    else:
        batch = 2 if max_length <= 512 else 1
        effective = 8
    effective = min(effective, max(1, n_records // 4) or 1)
    batch = min(batch, effective)
    return TrainSettings(
        rank=rank,
        alpha=2 * rank,
        dropout=0.05,
        learning_rate=1e-4 if big else 2e-4,
        epochs=epochs,
        batch_size=batch,
        grad_accum=max(1, effective // batch),
        max_length=max_length,
        val_ratio=0.1 if n_records >= 50 else 0.0,
        precision="auto",
        qlora=bool(qlora_available and big),
    )


@dataclass
class Estimate:
    """What a run will roughly need, and whether it fits."""

    memory_bytes: int
    available_bytes: int
    seconds: float
    steps: int
    tokens: int
    fits: bool
    reason: str = ""
    device: str = ""

    def describe(self) -> str:
        minutes = self.seconds / 60
        when = (
            f"{self.seconds:.0f} s"
            if minutes < 1
            else f"{minutes:.0f} min"
            if minutes < 120
            else f"{minutes / 60:.1f} h"
        )
        return (
            f"~{format_bytes(self.memory_bytes)} of {format_bytes(self.available_bytes)} available, "
            f"{self.steps} steps, ~{when} (rough)"
        )


# Sustained training FLOP/s assumed per device kind; a rough guide, not a promise.
THROUGHPUT = {"cuda": 4e13, "mps": 3e12, "cpu": 3e10}


def estimate(
    settings: TrainSettings,
    *,
    n_records: int,
    mean_tokens: float,
    params: int,
    hidden: int,
    layers: int,
    vocab: int,
    device: str,
    available_bytes: int,
    dtype_bytes: int = 4,
) -> Estimate:
    """Memory (weights + LoRA state + activations + logits) and time (6·N·tokens FLOPs)."""
    weight_bytes = params * (0.55 if settings.qlora else dtype_bytes)
    lora_params = layers * 7 * 2 * hidden * settings.rank  # all-linear, roughly square layers
    lora_bytes = lora_params * 16  # fp32 weights, grads, Adam moments
    tokens_in_batch = settings.batch_size * settings.max_length
    act_factor = 4 if settings.gradient_checkpointing else 18
    activations = tokens_in_batch * hidden * layers * act_factor * dtype_bytes
    logits = tokens_in_batch * vocab * 4 * 3  # fp32 logits, their grad and the softmax
    overhead = 300e6 if device.startswith("cuda") else 200e6
    memory = int(weight_bytes + lora_bytes + activations + logits + overhead)
    per_step = settings.batch_size * settings.grad_accum
    steps_per_epoch = max(1, math.ceil(n_records / per_step))
    steps = settings.max_steps or max(1, math.ceil(steps_per_epoch * settings.epochs))
    tokens = int(steps * per_step * min(mean_tokens, settings.max_length))
    kind = device.split(":")[0]
    # Compute time, plus a fixed cost per step (optimizer, logging) that dominates small models.
    per_step_overhead = 0.05 if kind == "cuda" else 0.3
    seconds = (
        6 * params * tokens / THROUGHPUT.get(kind, THROUGHPUT["cpu"])
        + steps * per_step_overhead
        + 10
    )
    fits = memory <= available_bytes * 0.95
    reason = ""
    if not fits:
        reason = (
            f"this run needs about {format_bytes(memory)} on {device} but only "
            f"{format_bytes(available_bytes)} is free. Lower the batch size or max length, "
            "enable gradient checkpointing, pick a smaller base model"
            + (", or use QLoRA (4-bit base)" if device.startswith("cuda") else "")
            + "."
        )
    return Estimate(memory, available_bytes, seconds, steps, tokens, fits, reason, device)


def ensure_fits(est: Estimate) -> None:
    if not est.fits:
        qlora = est.device.startswith("cuda")  # the reason then also suggests QLoRA
        raise OutOfMemoryError(
            est.reason,
            key="errors.finetune.does_not_fit_qlora" if qlora else "errors.finetune.does_not_fit",
            needed=format_bytes(est.memory_bytes),
            device=est.device,
            free=format_bytes(est.available_bytes),
        )


def available_memory(device: str) -> int:
    """Free memory on the device: free GPU memory, or MemAvailable of the machine."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        free, _total = torch.cuda.mem_get_info(index)
        return int(free)
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    from playground.device import total_memory_bytes

    return int(total_memory_bytes("cpu") * 0.5)
