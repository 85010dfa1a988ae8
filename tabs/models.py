"""The Models panel: every model the caller may see, its state and memory, downloads, Unload."""

from __future__ import annotations

import re
from dataclasses import dataclass

import gradio as gr

from playground.device import format_bytes
from playground.downloads import DOWNLOADING, FAILED
from playground.users import User, visible_entry, visible_names
from tabs.common import AppContext, bind, fetch_models, ui_errors
from tabs.i18n import tr
from tabs.identity import current_user, require_admin

ANYONE = User(id="", name="anyone")  # not admin, owns nothing: what every visitor may see

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HEADERS = ["name", "task", "state", "device", "memory", "in use", "source", "error"]
COLUMNS = ["name", "task", "state", "device", "memory", "in_use", "source", "error"]


def headers(request: gr.Request | None = None) -> list[str]:
    return [tr(f"models.col.{c}", request) for c in COLUMNS]


def state_text(status, request: gr.Request | None = None) -> str:
    """The state cell: ``downloading 43%, 1.2 GB of 2.9 GB, ...`` while files come in."""
    download = status.download
    if download is not None and download.state == DOWNLOADING:
        return tr("models.downloading", request, **download.values())
    return tr(f"models.state.{status.state}", request)


def status_rows(
    ctx: AppContext, user: User | None = None, request: gr.Request | None = None
) -> list[list[str]]:
    """What ``user`` may see: every row for an admin; else shared models and their own.

    Only admins see where weights live (server paths) and full errors; others
    see a Hub repo id, or "local" for a folder on the server.
    """
    user = user or ANYONE
    rows = []
    for s in ctx.registry.status():
        entry = ctx.registry.entry(s.name)
        if not (user.is_admin or entry.visible_to(user.key)):
            continue
        failed_download = s.download is not None and s.download.state == FAILED
        error = s.error or (s.download.error if failed_download else "") or ""
        if not user.is_admin:
            error = "failed" if error else ""
        source = s.source if user.is_admin else _public_source(ctx, entry)
        state = state_text(s, request)
        rows.append(
            [s.name, s.task, state, s.device or "-", s.memory, str(s.in_use), source, error]
        )
    return rows


def _public_source(ctx: AppContext, entry) -> str:
    """A Hub repo id as is; never a server folder or an endpoint's address."""
    if entry.task == "endpoint":
        return "endpoint"
    if entry.is_local_source(ctx.registry.config.base_dir) or not HUB_ID.match(entry.source):
        return "local"
    return entry.source


def summary(ctx: AppContext, request: gr.Request | None = None) -> str:
    """How many models are loaded, and each device's use (and loads in flight) of its budget."""
    loaded = sum(1 for s in ctx.registry.status() if s.state == "loaded")
    head = tr("models.summary", request, loaded=loaded)
    devices = ctx.registry.memory()
    if not devices:  # no device chosen yet (finding the GPU would import torch at start-up)
        budget = ctx.registry.config.defaults.memory_budget
        key = "models.summary_auto" if budget == "auto" else "models.summary_fixed"
        return head + " · " + tr(key, request, budget=budget)
    parts = [
        tr("models.summary_device", request, device=d.device, used=format_bytes(d.used_bytes),
           budget=format_bytes(d.budget_bytes))
        + (tr("models.summary_loading", request, reserved=format_bytes(d.reserved_bytes))
           if d.reserved_bytes else "")
        for d in devices
    ]  # fmt: skip
    return head + " · " + " · ".join(parts)


@dataclass
class ModelsPanel:
    info: gr.Markdown
    table: gr.Dataframe
    pick: gr.Dropdown
    load: gr.Button
    download: gr.Button
    unload: gr.Button
    unload_all: gr.Button
    refresh: gr.Button
    note: gr.Markdown


def models_panel(ctx: AppContext) -> ModelsPanel:
    gr.Markdown(ctx.t("models.help"))
    info = gr.Markdown(summary(ctx))
    # Built once for every visitor (it lands in /config): shared models only.
    table = gr.Dataframe(value=status_rows(ctx), headers=HEADERS, label=ctx.t("models.table"),
                         interactive=False, wrap=True)  # fmt: skip
    with gr.Row():
        pick = gr.Dropdown(
            choices=visible_names(ctx.registry, ANYONE), label=ctx.t("models.pick"), scale=3
        )
        buttons = [
            gr.Button(
                ctx.t(f"models.{key}"), scale=1, variant="stop" if key == "unload" else "secondary"
            )
            for key in ("load", "download", "unload", "unload_all", "refresh")
        ]
    return ModelsPanel(info, table, pick, *buttons, note=gr.Markdown())


def build(ctx: AppContext) -> None:
    panel = models_panel(ctx)
    token, outputs = ctx.client_id, [panel.table, panel.info, panel.pick]
    panel.refresh.click(bind(refresh, ctx), token, outputs, api_name="models_status")
    gr.Timer(3.0).tick(bind(tick, ctx), token, [panel.table, panel.info],
                       api_visibility="private", queue=False)  # fmt: skip
    picked = [panel.pick, token]
    panel.load.click(bind(load, ctx), picked, outputs, api_name="models_load", **ctx.heavy)
    # Downloads are network and disk work: a light event, so model work goes on meanwhile.
    panel.download.click(bind(download, ctx), picked, [*outputs, panel.note],
                         api_name="models_download", **ctx.light)  # fmt: skip
    panel.unload.click(bind(unload, ctx), picked, outputs, api_name="models_unload")
    panel.unload_all.click(bind(unload_all, ctx), token, outputs, api_name="models_unload_all")


def refresh(ctx: AppContext, client_id=None, request: gr.Request = None):
    """The models you may use with their state, device and memory, and the memory summary."""
    # A plain value (not an update), so API clients get {"headers", "data"} as before.
    rows = status_rows(ctx, current_user(request), request)
    table = {"headers": headers(request), "data": rows}
    return table, summary(ctx, request), gr.Dropdown(choices=[row[0] for row in rows])


def tick(ctx: AppContext, client_id=None, request: gr.Request = None):
    return refresh(ctx, client_id, request)[:2]


def _admin_pick(ctx, name, request, action: str) -> User:
    """The caller, once they are an admin who picked a model they may see."""
    user = current_user(request)
    require_admin(user, action)
    if not name:
        raise gr.Error(tr("models.pick_first", request))
    visible_entry(ctx.registry, user, name)
    return user


@ui_errors
def load(ctx: AppContext, name, client_id=None, request: gr.Request = None):
    """Load a model now (downloading it first if needed) instead of on first use (admins)."""
    _admin_pick(ctx, name, request, "load (preload) a model")
    ctx.registry.get(name)
    return refresh(ctx, client_id, request)


@ui_errors
def unload(ctx: AppContext, name, client_id=None, request: gr.Request = None):
    """Unload a model and free its memory (admins); a model in use by a generation is kept."""
    _admin_pick(ctx, name, request, "unload a model")
    if not ctx.registry.unload(name):
        gr.Info(tr("models.not_loaded_info", request, name=name))
    return refresh(ctx, client_id, request)


@ui_errors
def unload_all(ctx: AppContext, client_id=None, request: gr.Request = None):
    """Unload every model that no generation is using (admins)."""
    require_admin(current_user(request), "unload every model")
    ctx.registry.unload_all()
    return refresh(ctx, client_id, request)


@ui_errors
def download(ctx: AppContext, name, client_id=None, request: gr.Request = None):
    """Download a model's files ahead of use (admins), showing the progress as it goes."""
    _admin_pick(ctx, name, request, "download a model")
    yield from _download_progress(ctx, name, request)


def _download_progress(ctx: AppContext, name: str, request):
    from playground.loaders.hub import cached_snapshot

    entry = ctx.registry.entry(name)
    if entry.task == "endpoint" or entry.local_path(ctx.registry.config.base_dir):
        yield (*refresh(ctx, None, request), tr("models.nothing_to_download", request, name=name))
        return
    cached = cached_snapshot(entry)
    if cached is not None:
        size = sum(p.stat().st_size for p in cached.rglob("*") if p.is_file())
        done = {"name": name, "total": format_bytes(size)}
        yield (*refresh(ctx, None, request), tr("models.downloaded", request, **done))
        return
    for line in fetch_models(ctx, [name], request):  # the same progress lines as a tab's
        yield (*refresh(ctx, None, request), line)
