"""Fine-tune benchmark: a playground job vs a plain PEFT + transformers Trainer script.

    python benchmarks/finetune.py [--config models.yaml --base NAME] [--steps 20] [--rounds 2]

Both sides train the same base model on the same data with the same
hyper-parameters (LoRA rank/alpha/dropout on all linear layers, learning
rate, batch size, max length, steps, precision), each in its own process,
alternating. Reported per side: training throughput (real, non-padding
tokens per second of ``trainer.train``) and peak memory (CUDA max allocated
on a GPU, peak RSS on the CPU). Targets: throughput ratio >= 0.9 and memory
ratio <= 1.1.

Without ``--config`` it builds a small random Qwen2 (the tiny test tokenizer,
4 layers of width 256) so it runs offline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_model(folder: Path) -> Path:
    """A small random Qwen2 with the tiny chat tokenizer; returns its models.yaml."""
    import torch
    import yaml

    from playground.testing.chat_lm import build_qwen2

    torch.manual_seed(0)
    out = build_qwen2(
        folder / "bench-chat", context=1024, hidden_size=256, intermediate_size=704,
        num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4,
    )  # fmt: skip
    models = {
        "defaults": {"device": "auto", "dtype": "auto"},
        "models": [{"name": "bench-chat", "task": "chat", "source": str(out)}],
    }
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(models))
    return path


def build_data(folder: Path, n: int = 64) -> Path:
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "please",
        "answer",
        "step",
        "by",
        "step",
        "hello",
        "assistant",
    ]
    rows = []
    for i in range(n):
        question = " ".join(words[(i + k) % len(words)] for k in range(6 + i % 9))
        answer = " ".join(words[(i * 3 + k) % len(words)] for k in range(20 + (i * 7) % 40))
        rows.append({"instruction": f"Question {i}: {question}?", "output": answer})
    path = folder / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the two sides


def run_playground(config: Path, base: str, data: Path, out: Path, hp: dict) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "playground.cli",
        "finetune",
        "run",
        "--config",
        str(config),
        "--base",
        base,
        "--data",
        str(data),
        "--out",
        str(out),
        "--max-steps",
        str(hp["steps"]),
        "--lr",
        str(hp["lr"]),
        "--rank",
        str(hp["rank"]),
        "--batch-size",
        str(hp["batch"]),
        "--grad-accum",
        "1",
        "--max-length",
        str(hp["max_length"]),
        "--val-ratio",
        "0",
        "--seed",
        "0",
    ]
    subprocess.run(
        cmd, cwd=ROOT, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    manifest = json.loads((out / "adapter" / "manifest.json").read_text())
    return {
        "tokens_per_second": manifest["tokens_per_second"],
        "peak_memory_bytes": manifest["peak_memory_bytes"],
        "final_loss": manifest["train_loss"],
    }


def run_plain(source: str, data: Path, out: Path, hp: dict) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--plain-worker",
        json.dumps({"source": source, "data": str(data), "out": str(out), **hp}),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plain_worker(spec: dict) -> None:
    """The reference: what a person writes by hand with peft + transformers.Trainer."""
    import resource

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(0)
    gpu = torch.cuda.is_available()
    bf16 = gpu and torch.cuda.is_bf16_supported()
    tok = AutoTokenizer.from_pretrained(spec["source"])
    dtype = torch.bfloat16 if bf16 else torch.float16 if gpu else torch.float32
    model = AutoModelForCausalLM.from_pretrained(spec["source"], dtype=dtype)
    model.config.use_cache = False
    model = get_peft_model(
        model,
        LoraConfig(
            r=spec["rank"],
            lora_alpha=spec["alpha"],
            lora_dropout=0.05,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    rows = [
        json.loads(line) for line in Path(spec["data"]).read_text().splitlines() if line.strip()
    ]
    dataset = []
    for row in rows:
        messages = [
            {"role": "user", "content": row["instruction"]},
            {"role": "assistant", "content": row["output"]},
        ]
        ids = tok(tok.apply_chat_template(messages, tokenize=False), add_special_tokens=False)[
            "input_ids"
        ]
        ids = ids[: spec["max_length"]]
        dataset.append({"input_ids": ids, "labels": list(ids)})
    counted = {"tokens": 0}

    def collate(batch):
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), tok.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = (
                torch.tensor(b["input_ids"]),
                torch.tensor(b["labels"]),
                1,
            )
        counted["tokens"] += int(mask.sum())
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    args = TrainingArguments(
        output_dir=spec["out"],
        per_device_train_batch_size=spec["batch"],
        gradient_accumulation_steps=1,
        learning_rate=spec["lr"],
        max_steps=spec["steps"],
        lr_scheduler_type="linear",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        bf16=bf16,
        fp16=gpu and not bf16,
        use_cpu=not gpu,
        seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate)
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = trainer.train()
    runtime = time.perf_counter() - start
    peak = (
        torch.cuda.max_memory_allocated()
        if gpu
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    print(
        json.dumps(
            {
                "tokens_per_second": counted["tokens"] / runtime,
                "peak_memory_bytes": int(peak),
                "final_loss": result.training_loss,
            }
        )
    )


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", help="models file with the base model (default: build a small random one)"
    )
    parser.add_argument("--base", help="base chat model name in --config")
    parser.add_argument("--data", help="dataset (default: a generated 64-record set)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--plain-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_worker:
        plain_worker(json.loads(args.plain_worker))
        return 0
    from playground.config import load_config
    from playground.finetune.engine import resolve_base

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = Path(args.config) if args.config else build_model(tmp)
        base = args.base or "bench-chat"
        data = Path(args.data) if args.data else build_data(tmp)
        _entry, source, device = resolve_base(load_config(config), base)
        hp = {
            "steps": args.steps,
            "lr": 2e-4,
            "rank": args.rank,
            "alpha": 16,
            "batch": args.batch,
            "max_length": args.max_length,
        }
        print(
            f"base {base} on {device}; {args.steps} steps, batch {args.batch}, rank {args.rank}, "
            f"max length {args.max_length}, {args.rounds} alternating rounds"
        )
        ours, plain = [], []
        for i in range(args.rounds):
            ours.append(run_playground(config, base, data, tmp / f"job{i}", hp))
            plain.append(run_plain(source, data, tmp / f"plain{i}", hp))
            print(
                f"round {i + 1}: playground {ours[-1]['tokens_per_second']:.0f} tok/s, "
                f"{ours[-1]['peak_memory_bytes'] / 1e6:.0f} MB | plain {plain[-1]['tokens_per_second']:.0f} tok/s, "
                f"{plain[-1]['peak_memory_bytes'] / 1e6:.0f} MB"
            )
    tps = statistics.median(r["tokens_per_second"] for r in ours) / statistics.median(
        r["tokens_per_second"] for r in plain
    )
    mem = statistics.median(r["peak_memory_bytes"] for r in ours) / statistics.median(
        r["peak_memory_bytes"] for r in plain
    )
    print(f"throughput ratio (playground / plain): {tps:.2f}  (target >= 0.9)")
    print(f"peak memory ratio (playground / plain): {mem:.2f}  (target <= 1.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
