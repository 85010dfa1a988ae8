"""What a fine-tune trains: the base model, its LoRA, the Trainer's arguments, the data.

Heavy libraries (torch, transformers, peft) are imported inside the functions:
this runs in the job's own process (see ``playground.finetune.train``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from playground.errors import InputError
from playground.faults import fault_point
from playground.finetune import jobs
from playground.finetune.render import IGNORE_INDEX, encode
from playground.finetune.settings import TrainSettings


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
                "QLoRA (4-bit base) needs a CUDA GPU; turn it off to train on this device.",
                key="errors.finetune.qlora_needs_cuda",
            )
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError:
            raise InputError(
                "QLoRA needs the 'bitsandbytes' package: pip install bitsandbytes",
                key="errors.finetune.qlora_needs_bitsandbytes",
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
