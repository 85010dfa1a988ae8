"""The Models panel: every configured model, its state and memory, downloads, and Unload."""

from __future__ import annotations

import os
import time

import gradio as gr

from playground.device import format_bytes
from playground.downloads import DONE, DOWNLOADING, DOWNLOADS, FAILED
from tabs.common import AppContext, ui_errors
from tabs.i18n import tr

HEADERS = ["name", "task", "state", "device", "memory", "in use", "source", "error"]
COLUMNS = ["name", "task", "state", "device", "memory", "in_use", "source", "error"]
POLL_SECONDS = 0.5  # how often a download's progress is shown while it runs


def headers(request: gr.Request | None = None) -> list[str]:
    return [tr(f"models.col.{c}", request) for c in COLUMNS]


def state_text(status, request: gr.Request | None = None) -> str:
    """The state cell: ``downloading 43%, 1.2 GB of 2.9 GB, ...`` while files come in."""
    download = status.download
    if download is not None and download.state == DOWNLOADING:
        return tr("models.downloading", request, **download.values())
    return tr(f"models.state.{status.state}", request)


def status_rows(ctx: AppContext, request: gr.Request | None = None) -> list[list[str]]:
    rows = []
    for s in ctx.registry.status():
        failed_download = s.download is not None and s.download.state == FAILED
        error = s.error or (s.download.error if failed_download else "")
        rows.append(
            [
                s.name,
                s.task,
                state_text(s, request),
                s.device or "-",
                s.memory,
                str(s.in_use),
                s.source,
                error or "",
            ]
        )
    return rows


def summary(ctx: AppContext, request: gr.Request | None = None) -> str:
    used = ctx.registry.used_bytes()
    loaded = sum(1 for s in ctx.registry.status() if s.state == "loaded")
    budget = ctx.registry.budget_bytes()
    values = {"loaded": loaded, "used": format_bytes(used), "budget": format_bytes(budget)}
    return tr("models.summary", request, **values)


def is_admin(request: gr.Request | None) -> bool:
    """Without logins the person at the machine is the admin; with them, $PLAYGROUND_ADMINS."""
    user = getattr(request, "username", None) if request is not None else None
    if not user:
        return True
    admins = {a.strip() for a in os.environ.get("PLAYGROUND_ADMINS", "").split(",")}
    return user in admins


def build(ctx: AppContext) -> None:
    gr.Markdown(ctx.t("models.help"))
    info = gr.Markdown(summary(ctx))
    table = gr.Dataframe(
        value=status_rows(ctx),
        headers=HEADERS,
        label=ctx.t("models.table"),
        interactive=False,
        wrap=True,
    )
    with gr.Row():
        pick = gr.Dropdown(choices=ctx.registry.names(), label=ctx.t("models.pick"), scale=3)
        load_btn = gr.Button(ctx.t("models.load"), scale=1)
        download_btn = gr.Button(ctx.t("models.download"), scale=1)
        unload_btn = gr.Button(ctx.t("models.unload"), scale=1, variant="stop")
        unload_all_btn = gr.Button(ctx.t("models.unload_all"), scale=1)
        refresh_btn = gr.Button(ctx.t("models.refresh"), scale=1)
    note = gr.Markdown()
    _wire(ctx, table, info, pick, note, load_btn, download_btn, unload_btn, unload_all_btn)

    def refresh(request: gr.Request = None):
        """Every configured model with its state, device and memory, and the memory summary."""
        return _refresh(ctx, request)

    def tick(request: gr.Request = None):
        return _refresh(ctx, request)[:2]

    refresh_btn.click(refresh, None, [table, info, pick], api_name="models_status")
    timer = gr.Timer(3.0)
    timer.tick(
        tick,
        None,
        [table, info],
        api_visibility="private",
        queue=False,
    )


def _refresh(ctx: AppContext, request: gr.Request | None = None):
    # A plain value (not an update), so API clients get {"headers", "data"} as before.
    table = {"headers": headers(request), "data": status_rows(ctx, request)}
    return table, summary(ctx, request), gr.Dropdown(choices=ctx.registry.names())


def _wire(ctx, table, info, pick, note, load_btn, download_btn, unload_btn, unload_all_btn):
    outputs = [table, info, pick]

    @ui_errors
    def load(name, request: gr.Request = None):
        """Load a model now (downloading it first if needed) instead of on first use."""
        if not name:
            raise gr.Error(tr("models.pick_first", request))
        ctx.registry.get(name)
        return _refresh(ctx, request)

    @ui_errors
    def unload(name, request: gr.Request = None):
        """Unload a model and free its memory; a model in use by a generation is kept."""
        if not name:
            raise gr.Error(tr("models.pick_first", request))
        if not ctx.registry.unload(name):
            gr.Info(tr("models.not_loaded_info", request, name=name))
        return _refresh(ctx, request)

    def unload_all(request: gr.Request = None):
        """Unload every model that no generation is using."""
        ctx.registry.unload_all()
        return _refresh(ctx, request)

    @ui_errors
    def download(name, request: gr.Request = None):
        """Download a model's files ahead of use (admins), showing the progress as it goes."""
        if not name:
            raise gr.Error(tr("models.pick_first", request))
        if not is_admin(request):
            raise gr.Error(tr("models.admin_only", request))
        from playground.loaders.hub import cached_snapshot

        entry = ctx.registry.entry(name)
        if entry.task == "endpoint" or entry.local_path(ctx.registry.config.base_dir):
            yield (*_refresh(ctx, request), tr("models.nothing_to_download", request, name=name))
            return
        cached = cached_snapshot(entry)
        if cached is not None:
            size = sum(p.stat().st_size for p in cached.rglob("*") if p.is_file())
            done = {"name": name, "total": format_bytes(size)}
            yield (*_refresh(ctx, request), tr("models.downloaded", request, **done))
            return
        job = DOWNLOADS.start(entry)
        while job.state == DOWNLOADING:
            progress = tr("models.downloading", request, **job.values())
            yield (*_refresh(ctx, request), f"**{name}**: {progress}")
            time.sleep(POLL_SECONDS)
        if job.state != DONE:
            raise gr.Error(job.error or "download failed")
        yield (*_refresh(ctx, request), tr("models.downloaded", request, **job.values()))

    load_btn.click(load, pick, outputs, api_name="models_load", **ctx.heavy)
    # Downloads are network and disk work: a light event, so model work goes on meanwhile.
    download_btn.click(download, pick, [*outputs, note], api_name="models_download", **ctx.light)
    unload_btn.click(unload, pick, outputs, api_name="models_unload")
    unload_all_btn.click(unload_all, None, outputs, api_name="models_unload_all")
