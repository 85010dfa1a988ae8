"""What the Fine-tune tab shows: a job's status, loss curve and buttons, a plan's report."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from playground.device import format_bytes
from playground.finetune import jobs
from tabs.common import AppContext
from tabs.i18n import tr

PREVIEW_HEADERS = ["#", "prompt", "reply", "turns"]
ISSUE_HEADERS = ["record", "line", "field", "problem", "what to do"]


def _bar(step: int, total: int | None, width: int = 24) -> str:
    if not total:
        return ""
    filled = int(width * min(step, total) / total)
    return "▰" * filled + "▱" * (width - filled)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def status_markdown(job_dir: Path, status: dict, request: gr.Request | None) -> str:
    config = jobs.read_config(job_dir)
    state = status.get("state", "?")
    step, total = int(status.get("step") or 0), status.get("max_steps")
    state_text = tr("finetune.state." + state, request)
    lines = [f"**{config['name']}** · {config['base']} · `{config['id']}` · **{state_text}**"]
    if state == "queued" and status.get("queue_position"):
        lines.append(tr("finetune.queued_behind", request, n=status["queue_position"]))
    if total:
        pct = 100 * step / total
        lines.append(f"`{_bar(step, total)}` {step}/{total} ({pct:.0f}%)")
    parts = []
    if state == "running":
        parts.append(f"{tr('finetune.eta', request)} {_duration(status.get('eta_seconds'))}")
    if status.get("loss") is not None:
        parts.append(f"loss {status['loss']:.4f}")
    if status.get("eval_loss") is not None:
        parts.append(f"eval loss {status['eval_loss']:.4f}")
    if parts:
        lines.append(" · ".join(parts))
    if status.get("message"):
        lines.append(f"_{status['message']}_")
    if state == "completed":
        lines.append(tr("finetune.completed_hint", request))
    lines.append(tr("finetune.disk", request, size=format_bytes(jobs.disk_bytes(job_dir))))
    return "\n\n".join(lines)


def metrics_frame(job_dir: Path | None):
    import pandas as pd

    rows = []
    for m in jobs.read_metrics(job_dir) if job_dir is not None else []:
        if "loss" in m:
            rows.append({"step": m["step"], "loss": m["loss"], "series": "train"})
        if "eval_loss" in m:
            rows.append({"step": m["step"], "loss": m["eval_loss"], "series": "validation"})
    return pd.DataFrame(rows or [], columns=["step", "loss", "series"])


def job_view(job_dir: Path, request: gr.Request | None) -> tuple:
    """Status, loss curve, log tail, and which of Cancel / Resume / Try it can be pressed."""
    status = jobs.read_status(job_dir)
    state = status.get("state")
    resumable = state in ("cancelled", "failed")  # no checkpoint yet: it starts over
    return (
        status_markdown(job_dir, status, request),
        metrics_frame(job_dir),
        jobs.log_tail(job_dir),
        gr.Button(interactive=state in jobs.ACTIVE),
        gr.Button(interactive=resumable),
        gr.Button(interactive=state == "completed"),
    )


def empty_view(request: gr.Request | None) -> tuple:
    """The job view with no job selected."""
    return (
        tr("finetune.no_job", request),
        metrics_frame(None),
        "",
        *(gr.Button(interactive=False) for _ in range(3)),
    )


def job_choices(ctx: AppContext, owner: str, selected: str | None) -> gr.Dropdown:
    """The job dropdown with ``owner``'s jobs, ``selected`` (default: the newest) chosen."""
    found = jobs.list_jobs(ctx.data_dir, owner)
    choices = [(j.label, j.id) for j in found]
    if selected is None and found:
        selected = found[0].id
    return gr.Dropdown(choices=choices, value=selected)


def report_markdown(result) -> str:
    """A plan as Markdown: records, problems, token statistics, settings and the estimate."""
    d, s, st = result.dataset, result.stats, result.settings
    lines = [f"**{d.source}** · {d.format} · {len(d.records)} / {d.total} records valid"]
    if d.issues:
        lines.append(
            f"❌ **{len(d.issues)} problem(s)** — see the table below; fix them and upload again."
        )
    elif d.records:
        lines.append("✅ Every record is valid.")
    if s.records:
        lines.append(
            f"Tokens per record (with the {result.base} chat template): min **{s.min}**, mean **{s.mean:.0f}**, "
            f"max **{s.max}**; **{s.truncated}** longer than max length {s.max_length} will be cut."
        )
        lines.append(
            f"Settings: rank {st.rank}, alpha {st.alpha}, lr {st.learning_rate:g}, "
            f"{st.max_steps or st.epochs} {'steps' if st.max_steps else 'epochs'}, batch {st.batch_size} × "
            f"{st.grad_accum}, max length {st.max_length}, validation {st.val_ratio:.0%}, general mix {st.mix_general:.0%}."
        )
    if result.estimate is not None:
        est = result.estimate
        icon = "✅" if est.fits else "⛔"
        lines.append(f"{icon} Estimate on **{result.device}**: {est.describe()}")
        if not est.fits:
            lines.append(f"**Will not fit:** {est.reason}")
    return "\n\n".join(lines)
