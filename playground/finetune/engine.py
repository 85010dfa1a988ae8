"""The fine-tune API used by the tab and the CLI: validate, plan, start, register, export."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.config import ModelEntry
from playground.errors import InputError
from playground.finetune import jobs
from playground.finetune.base import (
    base_files,
    base_models,
    load_tokenizer,
    model_shape,
    resolve_base,
)
from playground.finetune.dataset import ColumnMap, ParsedDataset, TokenStats, load_dataset
from playground.finetune.settings import (
    Estimate,
    TrainSettings,
    auto_settings,
    available_memory,
    estimate,
)
from playground.storage import safe_name

__all__ = [  # base_models, load_tokenizer, model_shape and resolve_base live in .base
    "Plan",
    "adapter_entry",
    "adapter_zip",
    "base_models",
    "delete_job",
    "export_merged",
    "load_tokenizer",
    "merged_zip",
    "model_shape",
    "plan",
    "push_adapter",
    "register_finished",
    "resolve_base",
    "start_job",
    "token_stats",
]


def token_stats(dataset: ParsedDataset, tokenizer, max_length: int) -> TokenStats:
    """Tokens per record (rendered with the base model's chat template), and how many get cut."""
    from playground.finetune.render import count_tokens

    lengths = [count_tokens(tokenizer, r.messages) for r in dataset.records]
    if not lengths:
        return TokenStats(max_length=max_length)
    ordered = sorted(lengths)
    return TokenStats(
        records=len(lengths),
        min=ordered[0],
        mean=statistics.fmean(lengths),
        max=ordered[-1],
        p95=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        truncated=sum(1 for n in lengths if n > max_length),
        max_length=max_length,
        lengths=lengths,
    )


@dataclass
class Plan:
    """A validated dataset with its statistics, the settings to use and the estimate."""

    dataset: ParsedDataset
    stats: TokenStats
    settings: TrainSettings
    estimate: Estimate | None
    base: str
    device: str
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.dataset.ok

    def report(self) -> str:
        """A plain-text report (the CLI prints it; the tab shows it as Markdown)."""
        d, s = self.dataset, self.stats
        lines = [
            f"{d.source}: {d.total} records, format {d.format}, {len(d.records)} valid, {len(d.issues)} problem(s)"
        ]
        for issue in d.issues[:50]:
            lines.append(f"  - {issue}")
        if len(d.issues) > 50:
            lines.append(f"  ... and {len(d.issues) - 50} more")
        if s.records:
            lines.append(
                f"tokens per record ({self.base} chat template): min {s.min}, mean {s.mean:.0f}, max {s.max}; "
                f"{s.truncated} record(s) longer than max length {s.max_length} will be cut"
            )
        if self.estimate is not None:
            lines.append(f"estimate on {self.device}: {self.estimate.describe()}")
            if not self.estimate.fits:
                lines.append(f"will not fit: {self.estimate.reason}")
        lines += self.notes
        return "\n".join(lines)


def plan(
    where,
    base: str,
    data_path: str | Path,
    *,
    format: str = "auto",
    columns: ColumnMap | dict | None = None,
    overrides: dict[str, Any] | None = None,
) -> Plan:
    """Read and check the dataset, count tokens, choose settings and estimate the run.

    Only the base model's config and tokenizer are read (and fetched, for a Hub
    model not downloaded yet): ``start_job`` fetches the weights.
    """
    files = base_files(where, base)
    device = files.device
    dataset = load_dataset(data_path, format=format, columns=columns)
    tokenizer = load_tokenizer(files.folder)
    shape = model_shape(files.folder, files.weight_bytes)
    context = min(shape["context"], getattr(tokenizer, "model_max_length", 10**9) or 10**9)
    settings = auto_settings(
        max(1, len(dataset.records)),
        device=device,
        p95_tokens=None,
        context_window=context,
        params=shape["params"],
        qlora_available=_qlora_available(device),
    )
    stats = token_stats(dataset, tokenizer, settings.max_length)
    if stats.records:
        settings = auto_settings(
            len(dataset.records),
            device=device,
            p95_tokens=stats.p95,
            context_window=context,
            params=shape["params"],
            qlora_available=_qlora_available(device),
        )
    if overrides:
        values = settings.to_dict()
        values.update({k: v for k, v in overrides.items() if v is not None and v != ""})
        settings = TrainSettings.from_dict(values)
    if settings.qlora and not _qlora_available(device):
        raise InputError(
            f"QLoRA (4-bit base) needs a CUDA GPU and the 'bitsandbytes' package; {base} runs on "
            f"{device}. Turn QLoRA off, or pip install bitsandbytes.",
            key="errors.finetune.qlora_unavailable", base=base, device=device,
        )  # fmt: skip
    stats = token_stats(dataset, tokenizer, settings.max_length) if stats.records else stats
    est = _estimate(settings, len(dataset.records), stats, shape, device) if stats.records else None
    return Plan(dataset, stats, settings, est, base, device)


def _estimate(
    settings: TrainSettings, n_records: int, stats: TokenStats, shape: dict[str, int], device: str
) -> Estimate:
    """Memory and time of the run on ``device``, from the model's shape and the records."""
    return estimate(
        settings,
        n_records=n_records,
        mean_tokens=stats.mean,
        params=shape["params"],
        hidden=shape["hidden"],
        layers=shape["layers"],
        vocab=shape["vocab"],
        device=device,
        available_bytes=available_memory(device),
        dtype_bytes=4 if not device.startswith("cuda") or settings.precision == "fp32" else 2,
    )


def _qlora_available(device: str) -> bool:
    import importlib.util

    return device.startswith("cuda") and importlib.util.find_spec("bitsandbytes") is not None


def start_job(
    registry,
    data_dir: str | Path,
    owner: str,
    the_plan: Plan,
    *,
    name: str | None = None,
) -> Path:
    """Create a job folder for ``owner`` from a checked plan and launch it detached."""
    from playground.finetune.settings import ensure_fits

    the_plan.dataset.raise_for_issues()
    if the_plan.estimate is not None:
        ensure_fits(the_plan.estimate)
    _entry, source, device = resolve_base(registry, the_plan.base)
    if name:
        _check_adapter_name(registry, name)
    job_dir = jobs.jobs_root(data_dir, owner) / jobs.new_job_id()
    config = registry.config
    jobs.prepare_job(
        job_dir,
        models_config=config.path or "models.yaml",
        base=the_plan.base,
        base_source=source,
        device=device,
        dataset=the_plan.dataset,
        settings=the_plan.settings,
        name=name,
        owner=owner,
        queue_dir=Path(data_dir) / jobs.QUEUE_DIR,
    )
    jobs.launch(job_dir)
    return job_dir


def _check_adapter_name(registry, name: str) -> None:
    from playground.config import NAME_PATTERN

    if not NAME_PATTERN.match(name):
        raise InputError(
            f"'{name}' cannot be an adapter name; use letters, digits and . _ - : +",
            key="errors.finetune.bad_adapter_name", name=name,
        )  # fmt: skip
    if name in registry.names():
        raise InputError(
            f"a model named '{name}' already exists; pick another adapter name.",
            key="errors.finetune.adapter_name_taken", name=name,
        )  # fmt: skip


# ---------------------------------------------------------------- results


def adapter_entry(job_dir: Path, owner: str | None = None) -> ModelEntry | None:
    """The registry entry for a finished job's adapter (None if it has none).

    ``owner`` is the owner's folder name (``storage.safe_name``): only they see it in Chat.
    """
    manifest_path = Path(job_dir) / "adapter" / "manifest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    loss = manifest.get("train_loss")
    return ModelEntry(
        name=manifest.get("name") or f"{manifest['base']}-lora-{Path(job_dir).name}",
        task="chat",
        source=str((Path(job_dir) / "adapter").resolve()),
        base=manifest["base"],
        owner=owner,
        label=manifest.get("name"),
        description=f"Fine-tuned on {manifest.get('dataset')}; final loss {loss:.3f}"
        if loss is not None
        else None,
    )


def register_finished(registry, data_dir: str | Path, owner: str | None = None) -> list[str]:
    """Register every finished adapter (of ``owner``, or of everyone) whose base is configured."""
    found = (
        [(safe_name(owner), j) for j in jobs.list_jobs(data_dir, owner)]
        if owner
        else jobs.list_all_jobs(data_dir)
    )
    added = []
    known = set(registry.names())
    for folder, job in found:
        if job.state != "completed":
            continue
        entry = adapter_entry(job.path, folder)
        if entry is None or entry.base not in known:
            continue
        if entry.name in known:
            if registry.entry(entry.name).source == entry.source:
                continue
            entry = entry.model_copy(update={"name": f"{entry.name}-{job.id[-6:]}"})
            if entry.name in known:
                continue
        registry.register(entry)
        known.add(entry.name)
        added.append(entry.name)
    return added


def export_merged(job_dir: Path, out_dir: str | Path) -> Path:
    """Merge the adapter into its base and save a full model (safetensors) + tokenizer."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest = json.loads((Path(job_dir) / "adapter" / "manifest.json").read_text())
    source = manifest["base_source"]
    model = AutoModelForCausalLM.from_pretrained(source)
    model = PeftModel.from_pretrained(model, str(Path(job_dir) / "adapter")).merge_and_unload()
    out = Path(out_dir)
    staging = out.with_name(f".{out.name}.tmp")
    model.save_pretrained(str(staging), safe_serialization=True)
    AutoTokenizer.from_pretrained(source).save_pretrained(str(staging))
    from playground.storage import replace_dir

    replace_dir(staging, out)
    return out


def push_adapter(
    job_dir: Path, repo_id: str, *, private: bool = True, token: str | None = None
) -> str:
    """Upload the adapter folder to the Hugging Face Hub.

    ``token`` is the pushing user's own (the web app always passes one: a
    visitor must never push with the server's credentials). Without it -- the
    CLI, run by the machine's owner -- the saved login or HF_TOKEN is used.
    """
    from huggingface_hub import HfApi, get_token

    if token is None and not get_token():
        raise InputError(
            "no Hugging Face token found; run `hf auth login` or set HF_TOKEN, then try again.",
            key="errors.finetune.no_hf_token",
        )
    if "/" not in repo_id:
        raise InputError(
            f"'{repo_id}' is not a repo id; write it as user/name.",
            key="errors.finetune.bad_repo_id",
            repo_id=repo_id,
        )
    api = HfApi(token=token) if token is not None else HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(Path(job_dir) / "adapter"), repo_id=repo_id)
    return f"https://huggingface.co/{repo_id}"


# ---------------------------------------------------------------- downloads and clean-up


def _finished(job_dir: Path) -> Path:
    """``job_dir`` as a Path, once its adapter is finished (``InputError`` before)."""
    job_dir = Path(job_dir)
    if not (job_dir / "adapter" / "manifest.json").exists():
        raise InputError(
            f"job {job_dir.name} has no finished adapter yet; wait for it to complete.",
            key="errors.finetune.adapter_not_finished",
            job=job_dir.name,
        )
    return job_dir


def adapter_zip(job_dir: Path) -> Path:
    """A zip of the finished job's adapter folder (for a download button); returns its path."""
    job_dir = _finished(job_dir)
    return _zip_folder(
        job_dir / "adapter", job_dir / "exports" / f"{_export_name(job_dir)}-adapter"
    )


def merged_zip(job_dir: Path) -> Path:
    """A zip of the merged full model (merging first if that was not done yet)."""
    job_dir = _finished(job_dir)
    merged = job_dir / "merged"
    if not (merged / "config.json").exists():
        export_merged(job_dir, merged)
    return _zip_folder(merged, job_dir / "exports" / f"{_export_name(job_dir)}-merged")


def delete_job(job_dir: Path) -> int:
    """Delete a job that is not running (frees its disk); returns the bytes freed."""
    return jobs.delete_job(job_dir)


def _export_name(job_dir: Path) -> str:
    name = (jobs.read_json(Path(job_dir) / "config.json", {}) or {}).get("name") or job_dir.name
    return safe_name(name)


def _zip_folder(folder: Path, base: Path) -> Path:
    """Zip ``folder`` to ``base``.zip, rebuilt only when the folder is newer (atomic rename)."""
    import os
    import shutil

    target = base.with_suffix(".zip")
    newest = max((p.stat().st_mtime for p in folder.rglob("*") if p.is_file()), default=0)
    if target.exists() and target.stat().st_mtime >= newest:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = shutil.make_archive(str(base.with_name(f".{base.name}.partial")), "zip", folder)
    os.replace(partial, target)
    return target
