"""``playground finetune validate|run|list``: check a dataset, train a LoRA job, list jobs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playground.commands import add_config_arg


def register(sub) -> None:
    parser = sub.add_parser("finetune", help="check datasets and train LoRA adapters")
    inner = parser.add_subparsers(dest="finetune_command", metavar="ACTION", required=True)

    validate = inner.add_parser(
        "validate", help="check a dataset and print its report (exit 2 if invalid)"
    )
    add_config_arg(validate)
    validate.add_argument(
        "--base", required=True, metavar="NAME", help="base chat model (for token counts)"
    )
    _data_args(validate)
    validate.add_argument("data", metavar="DATA", help="JSON, JSONL or CSV file")
    validate.set_defaults(handler=_validate)

    run = inner.add_parser("run", help="train a LoRA adapter into a job folder")
    add_config_arg(run)
    run.add_argument("--base", metavar="NAME", help="base chat model from the models file")
    run.add_argument("--data", metavar="FILE", help="dataset file (JSON, JSONL or CSV)")
    run.add_argument("--out", metavar="DIR", help="job folder to create")
    run.add_argument("--job", metavar="DIR", help="run a job folder prepared by the app")
    run.add_argument(
        "--resume",
        action="store_true",
        help="resume the job in --out/--job from its last checkpoint",
    )
    run.add_argument("--name", help="adapter name (default: BASE-lora-DATE)")
    run.add_argument("--epochs", type=float)
    run.add_argument("--max-steps", type=int)
    run.add_argument("--lr", type=float, help="learning rate")
    run.add_argument(
        "--warmup-ratio", type=float, help="share of the steps the learning rate warms up (0-1)"
    )
    run.add_argument("--rank", type=int, help="LoRA rank")
    run.add_argument("--seed", type=int)
    run.add_argument("--batch-size", type=int)
    run.add_argument("--grad-accum", type=int)
    run.add_argument("--max-length", type=int)
    run.add_argument("--val-ratio", type=float)
    run.add_argument(
        "--mix-general", type=float, help="share of bundled general data to mix in (0-0.5)"
    )
    _data_args(run)
    run.set_defaults(handler=_run)

    listing = inner.add_parser("list", help="list fine-tune jobs in a data folder")
    add_config_arg(listing)
    listing.add_argument(
        "--data-dir",
        default=os.environ.get("PLAYGROUND_DATA", "data"),
        metavar="DIR",
        help="the app's data folder (default: ./data)",
    )
    listing.add_argument("--owner", help="only this owner's jobs (folder name under DIR/users)")
    listing.set_defaults(handler=_list)


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", default="auto", choices=["auto", "alpaca", "sharegpt", "messages", "csv"]
    )
    parser.add_argument(
        "--columns",
        metavar="MAP",
        default="",
        help="CSV column mapping, e.g. instruction=question,output=answer",
    )


def _columns(text: str) -> dict[str, str]:
    from playground.errors import InputError

    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("instruction", "input", "output", "system"):
            raise InputError(
                f"--columns: '{part}' should look like instruction=COLUMN (fields: instruction, input, output, system)"
            )
        out[key] = value
    return out


def _validate(args: argparse.Namespace) -> int:
    from playground.commands import open_registry
    from playground.finetune import plan

    registry = open_registry(args.config)
    result = plan(
        registry, args.base, args.data, format=args.format, columns=_columns(args.columns)
    )
    print(result.report())
    return 0 if result.ok else 2


OVERRIDES = {
    "epochs": "epochs",
    "max_steps": "max_steps",
    "lr": "learning_rate",
    "warmup_ratio": "warmup_ratio",
    "rank": "rank",
    "seed": "seed",
    "batch_size": "batch_size",
    "grad_accum": "grad_accum",
    "max_length": "max_length",
    "val_ratio": "val_ratio",
    "mix_general": "mix_general",
}


def _run(args: argparse.Namespace) -> int:
    from playground.errors import CancelledError, InputError
    from playground.finetune.train import run_job

    job_dir = args.job or (args.out if args.resume else None)
    if job_dir is None:
        if not (args.base and args.data and args.out):
            raise InputError("finetune run needs --base NAME --data FILE --out DIR (or --job DIR)")
        job_dir = _prepare(args)
    try:
        manifest = run_job(
            Path(job_dir),
            resume=args.resume,
            max_steps=args.max_steps if args.resume or args.job else None,
        )
    except CancelledError as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return 1
    print(f"adapter: {Path(job_dir) / 'adapter'}")
    print(
        f"steps {manifest['global_step']}, first loss {manifest['first_loss']:.4f}, "
        f"final loss {manifest['train_loss']:.4f}, {manifest['tokens_per_second']:.0f} tokens/s"
    )
    return 0


def _prepare(args: argparse.Namespace) -> Path:
    from playground.commands import open_registry
    from playground.finetune import engine, jobs
    from playground.finetune.settings import ensure_fits

    registry = open_registry(args.config)
    overrides = {field: getattr(args, arg) for arg, field in OVERRIDES.items()}
    result = engine.plan(
        registry,
        args.base,
        args.data,
        format=args.format,
        columns=_columns(args.columns),
        overrides=overrides,
    )
    result.dataset.raise_for_issues()
    if result.estimate is not None:
        ensure_fits(result.estimate)
    _entry, source, device = engine.resolve_base(registry, args.base)
    return jobs.prepare_job(
        args.out,
        models_config=args.config,
        base=args.base,
        base_source=source,
        device=device,
        dataset=result.dataset,
        settings=result.settings,
        name=args.name,
    )


def _list(args: argparse.Namespace) -> int:
    from playground.finetune import jobs

    if args.owner:
        rows = [(args.owner, job) for job in jobs.list_jobs(args.data_dir, args.owner)]
    else:
        rows = jobs.list_all_jobs(args.data_dir)
    if not rows:
        print(f"no fine-tune jobs under {args.data_dir}")
        return 0
    table = [("JOB", "OWNER", "NAME", "BASE", "STATE", "STEP")]
    table += [
        (j.id, owner, j.name, j.base, j.state, f"{j.step}/{j.max_steps or '?'}")
        for owner, j in rows
    ]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0
