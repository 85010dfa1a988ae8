"""Fine-tune handlers: validate and start a run, then follow, cancel and resume its job.

Each takes the app context first (``tabs.common.bind`` fills it in) and calls
``playground.finetune``; training runs in the job's own process, so these only
read and write the job folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from playground.errors import InputError
from playground.finetune import engine, jobs, register_finished
from playground.finetune.dataset import csv_header, preview_rows
from tabs.common import AppContext, owner_of, ui_errors
from tabs.finetune.form import ADVANCED, FinetuneForm, takes_form
from tabs.finetune.views import (
    empty_view,
    job_choices,
    job_view,
    report_markdown,
)
from tabs.i18n import tr


@ui_errors
def check_job_limits(ctx: AppContext, owner: str, dataset, request: gr.Request = None) -> None:
    """--user-quota for the data copy; in --workshop, one active fine-tune per person."""
    size = Path(str(dataset)).stat().st_size if dataset and Path(str(dataset)).is_file() else 0
    ctx.check_quota(owner, adding=size)
    if not ctx.settings.workshop:
        return
    active = [j for j in jobs.list_jobs(ctx.data_dir, owner) if j.state in jobs.ACTIVE]
    if active:
        job, state = active[0].name, active[0].state
        raise InputError(
            f"Workshop limit: one fine-tune per person at a time, and '{job}' is "
            f"{state}. Wait for it to finish or cancel it, then start the next.",
            key="errors.tabs.workshop_one_job", job=job, state=state,
        )  # fmt: skip


def make_plan(ctx: AppContext, form: FinetuneForm) -> engine.Plan:
    """Check the form's dataset against its base model (config and tokenizer only)."""
    if not form.base:
        raise InputError("Pick a base model first.", key="errors.tabs.pick_base")
    if not form.dataset:
        raise InputError(
            "Upload a dataset file (JSON, JSONL or CSV) first.", key="errors.tabs.upload_dataset"
        )
    return engine.plan(
        ctx.registry,
        form.base,
        form.dataset,
        format=form.format,
        columns=form.columns,
        overrides=form.settings.overrides(),
    )


@ui_errors
@takes_form
def validate(ctx: AppContext, form: FinetuneForm) -> tuple:
    """Check a dataset against a base model: problems, preview, token statistics, defaults and estimate.

    Only base and dataset are needed; leave the rest out for the one-click defaults.

    Args:
        {settings}
    """
    result = make_plan(ctx, form)
    issues = [
        [i.record or "", i.line or "", i.field or "", i.kind, i.message]
        for i in result.dataset.issues
    ]
    filled = [getattr(result.settings, name) for name, _, _ in ADVANCED]
    return (
        report_markdown(result),
        preview_rows(result.dataset.records, limit=8),
        gr.Dataframe(value=issues[:200], visible=bool(issues)),
        *filled,
    )


def on_upload(path: str | None) -> tuple:
    """On upload: a CSV's header as the column choices; the Advanced numbers cleared."""
    cleared = [gr.Number(value=None) for _ in ADVANCED]
    if path and Path(path).suffix.lower() in (".csv", ".tsv"):
        header = csv_header(path)
        return (*[gr.Dropdown(choices=[""] + header, value=None) for _ in range(4)], *cleared)
    return (*[gr.Dropdown(choices=[], value=None) for _ in range(4)], *cleared)


def base_model(ctx: AppContext, base: str | None) -> list[str]:
    """The model Start needs downloaded: the base model."""
    return [base or ""]


@ui_errors
@takes_form
def start(
    ctx: AppContext,
    form: FinetuneForm,
    name=None,
    client_id=None,
    request: gr.Request = None,
) -> tuple:
    """Validate the dataset, check the run fits, and start a LoRA job; returns the job list and its status.

    Only base and dataset are needed; leave the rest out for the one-click defaults.

    Args:
        {settings}
        name: a name for the job and its adapter (default: made up from the base and dataset).
        client_id: the browser id that owns the job when there is no login.
    """
    owner = owner_of(request, client_id)
    check_job_limits(ctx, owner, form.dataset, request)
    result = make_plan(ctx, form)
    job_dir = engine.start_job(
        ctx.registry, ctx.data_dir, owner, result, name=(name or "").strip() or None
    )
    gr.Info(tr("finetune.started", request, name=jobs.read_config(job_dir)["name"]))
    return (
        job_choices(ctx, owner, job_dir.name),
        report_markdown(result),
        *job_view(job_dir, request),
    )


def register_adapters(ctx: AppContext, owner: str, request: gr.Request | None) -> None:
    """Put ``owner``'s newly finished adapters in Chat, and say so."""
    added = register_finished(ctx.registry, ctx.data_dir, owner)
    if added:
        gr.Info(tr("finetune.in_chat", request, name=", ".join(added)))


def your_job(ctx: AppContext, job_id: str, client_id, request: gr.Request | None) -> Path:
    """The folder of the caller's job ``job_id`` (refused for anyone else's)."""
    return jobs.job_dir_for(ctx.data_dir, owner_of(request, client_id), job_id)


@ui_errors
def status(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> tuple:
    """A job's state, progress with ETA, loss curve and log tail (only the caller's own jobs)."""
    if not job_id:
        return empty_view(request)
    job_dir = your_job(ctx, job_id, client_id, request)
    register_adapters(ctx, owner_of(request, client_id), request)
    return job_view(job_dir, request)


@ui_errors
def list_mine(ctx: AppContext, client_id, request: gr.Request = None) -> list[list]:
    """The caller's fine-tune jobs: id, name, base model, state, step."""
    owner = owner_of(request, client_id)
    return [
        [j.id, j.name, j.base, j.state, j.step, j.max_steps or 0]
        for j in jobs.list_jobs(ctx.data_dir, owner)
    ]


def refresh_choices(ctx: AppContext, client_id, job, request: gr.Request = None) -> gr.Dropdown:
    return job_choices(ctx, owner_of(request, client_id), job or None)


@ui_errors
def cancel(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> tuple:
    """Cancel one of your jobs: it saves a checkpoint and stops (Resume continues from it)."""
    job_dir = your_job(ctx, job_id, client_id, request)
    jobs.cancel(job_dir)
    return job_view(job_dir, request)


@ui_errors
def resume(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> tuple:
    """Resume a cancelled or failed job from its last checkpoint (or from the start)."""
    job_dir = your_job(ctx, job_id, client_id, request)
    state = jobs.read_status(job_dir).get("state")
    if state in jobs.ACTIVE:
        raise gr.Error(tr("finetune.already_running", request))
    check_job_limits(ctx, owner_of(request, client_id), None, request)
    jobs.launch(job_dir, resume=True)  # refused "already running" on a double click
    return job_view(job_dir, request)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@dataclass
class JobWatch:
    """The timer's handler, with what it last sent each browser session (it sends changes only).

    Re-attaches after a refresh or restart: picks the newest job when none is selected.
    """

    ctx: AppContext
    outputs: int  # the job dropdown and the job view
    seen: dict[str, str] = field(default_factory=dict)  # session: its jobs and states
    shown: dict[str, str] = field(default_factory=dict)  # session: the job folder it saw

    def tick(self, job_id, client_id, request: gr.Request = None) -> tuple:
        owner = owner_of(request, client_id)
        found = jobs.list_jobs(self.ctx.data_dir, owner)
        key = getattr(request, "session_hash", None) or owner
        signature = "|".join(f"{j.id}:{j.state}" for j in found)
        choices_update = None
        if self.seen.get(key) != signature or (found and not job_id):
            self.seen[key] = signature
            if not job_id and found:
                job_id = found[0].id
            choices_update = gr.Dropdown(choices=[(j.label, j.id) for j in found], value=job_id)
        skip_all = tuple(gr.skip() for _ in range(self.outputs))
        if not job_id or not any(j.id == job_id for j in found):
            return (choices_update or gr.skip(), *skip_all[1:])
        job_dir = jobs.job_dir_for(self.ctx.data_dir, owner, job_id)
        if any(j.state == "completed" for j in found):
            register_adapters(self.ctx, owner, request)
        # Send the plot and log only when the job folder changed since the last tick.
        stamp = f"{job_id}:{_mtime(job_dir / 'status.json')}:{_mtime(job_dir / 'log.txt')}"
        if self.shown.get(key) == stamp and choices_update is None:
            return skip_all
        self.shown[key] = stamp
        return (choices_update or gr.skip(), *job_view(job_dir, request))
