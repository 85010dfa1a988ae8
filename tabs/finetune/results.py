"""Handlers for a finished job: try it in Chat, merge, push, download, delete."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from playground.device import format_bytes
from playground.finetune import (
    adapter_entry,
    adapter_zip,
    delete_job,
    export_merged,
    jobs,
    merged_zip,
    push_adapter,
    register_finished,
)
from tabs.common import AppContext, owner_of, ui_errors
from tabs.finetune.handlers import your_job
from tabs.i18n import tr

CHAT_COMPONENTS = ("chat.model", "chat.model_b", "chat.compare")


def has_chat(ctx: AppContext) -> bool:
    """True when the Chat tab shared its model pickers (Try it can switch to them)."""
    return all(k in ctx.shared for k in CHAT_COMPONENTS)


def _finished_job(ctx: AppContext, job_id, client_id, request: gr.Request | None) -> Path:
    job_dir = your_job(ctx, job_id, client_id, request)
    if not (job_dir / "adapter" / "manifest.json").exists():
        raise gr.Error(tr("finetune.not_finished", request))
    return job_dir


@ui_errors
def try_it(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> tuple:
    """Open Chat in compare mode: the base model (A) against your adapter (B)."""
    owner = owner_of(request, client_id)
    entry = adapter_entry(jobs.job_dir_for(ctx.data_dir, owner, job_id))
    if entry is None:
        raise gr.Error(tr("finetune.not_finished", request))
    register_finished(ctx.registry, ctx.data_dir, owner)
    name = next(
        (e.name for e in ctx.registry.entries("chat") if e.source == entry.source), entry.name
    )
    if not has_chat(ctx):
        gr.Info(tr("finetune.in_chat", request, name=name))
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    refresh = ctx.shared.get("chat.refresh_models")
    if refresh is not None:
        a, b = refresh(owner)
        choices_a, choices_b = a.choices, b.choices
    else:
        choices_a = choices_b = [
            e.name for e in ctx.registry.entries("chat") if e.visible_to(owner)
        ]
    return (
        gr.Dropdown(choices=choices_a, value=entry.base),
        gr.Dropdown(choices=choices_b, value=name),
        gr.Checkbox(value=True),
        gr.Tabs(selected="chat") if ctx.tabs is not None else gr.skip(),
    )


@ui_errors
def merge(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> str:
    """Merge the adapter into its base model and save a full safetensors model in the job folder."""
    job_dir = _finished_job(ctx, job_id, client_id, request)
    started = time.time()
    out = export_merged(job_dir, job_dir / "merged")
    name = Path(out).name  # a name, never a server path
    return tr("finetune.merged", request, path=name, seconds=f"{time.time() - started:.0f}")


@ui_errors
def push(
    ctx: AppContext,
    job_id,
    repo,
    hf_token=None,
    client_id=None,
    request: gr.Request = None,
    oauth_token: gr.OAuthToken | None = None,
) -> str:
    """Upload the adapter to the Hugging Face Hub with YOUR token (used once, not kept)."""
    job_dir = _finished_job(ctx, job_id, client_id, request)
    # Only the caller's credentials: never the server's HF_TOKEN or saved login.
    token = (hf_token or "").strip() or (oauth_token.token if oauth_token else "")
    if not token:
        raise gr.Error(tr("finetune.push_needs_token", request))
    url = push_adapter(job_dir, (repo or "").strip(), token=token)
    return tr("finetune.pushed", request, url=url)


@ui_errors
def download_adapter(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> str:
    """The finished adapter as a zip file."""
    return str(adapter_zip(your_job(ctx, job_id, client_id, request)))


@ui_errors
def download_merged(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> str:
    """The adapter merged into its base, as a zip file (merges first if needed)."""
    return str(merged_zip(your_job(ctx, job_id, client_id, request)))


@ui_errors
def delete(ctx: AppContext, job_id, client_id, request: gr.Request = None) -> tuple:
    """Delete one of your jobs that is not running, freeing its disk."""
    owner = owner_of(request, client_id)
    freed = delete_job(jobs.job_dir_for(ctx.data_dir, owner, job_id))
    choices = [(j.label, j.id) for j in jobs.list_jobs(ctx.data_dir, owner)]
    return (
        gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
        tr("finetune.deleted", request, size=format_bytes(freed)),
    )
