"""The Models panel: every configured model, its state and memory, and Unload."""

from __future__ import annotations

import re

import gradio as gr

from playground.device import format_bytes
from playground.users import User, visible_entry, visible_names
from tabs.common import AppContext, ui_errors
from tabs.identity import current_user, require_admin

ANYONE = User(id="", name="anyone")  # not admin, owns nothing: what every visitor may see

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HEADERS = ["name", "task", "state", "device", "memory", "in use", "source", "error"]


def status_rows(ctx: AppContext, user: User | None = None) -> list[list[str]]:
    """What ``user`` may see: every row for an admin; else shared models and their own.

    Only admins see where weights live (server paths); others see a Hub repo
    id, or "local" for a folder on the server.
    """
    user = user or ANYONE
    rows = []
    for s in ctx.registry.status():
        entry = ctx.registry.entry(s.name)
        if not (user.is_admin or entry.visible_to(user.key)):
            continue
        source = s.source if user.is_admin else _public_source(ctx, entry)
        row = [s.name, s.task, s.state, s.device or "-", s.memory, str(s.in_use), source]
        rows.append([*row, (s.error or "") if user.is_admin else ("failed" if s.error else "")])
    return rows


def _public_source(ctx: AppContext, entry) -> str:
    """A Hub repo id as is; never a server folder or an endpoint's address."""
    if entry.task == "endpoint":
        return "endpoint"
    if entry.is_local_source(ctx.registry.config.base_dir) or not HUB_ID.match(entry.source):
        return "local"
    return entry.source


def summary(ctx: AppContext) -> str:
    used = ctx.registry.used_bytes()
    loaded = sum(1 for s in ctx.registry.status() if s.state == "loaded")
    budget = ctx.registry.budget_bytes()
    return f"**{loaded}** loaded · {format_bytes(used)} of {format_bytes(budget)} budget"


def build(ctx: AppContext) -> None:
    gr.Markdown(ctx.t("models.help"))
    info = gr.Markdown(summary(ctx))
    # Built once for every visitor (it lands in /config): shared models only.
    table = gr.Dataframe(
        value=status_rows(ctx),
        headers=HEADERS,
        label=ctx.t("models.table"),
        interactive=False,
        wrap=True,
    )
    with gr.Row():
        pick = gr.Dropdown(
            choices=visible_names(ctx.registry, ANYONE), label=ctx.t("models.pick"), scale=3
        )
        load_btn = gr.Button(ctx.t("models.load"), scale=1)
        unload_btn = gr.Button(ctx.t("models.unload"), scale=1, variant="stop")
        unload_all_btn = gr.Button(ctx.t("models.unload_all"), scale=1)
        refresh_btn = gr.Button(ctx.t("models.refresh"), scale=1)

    def view(user: User):
        names = [row[0] for row in status_rows(ctx, user)]
        return status_rows(ctx, user), summary(ctx), gr.Dropdown(choices=names)

    def refresh(client_id=None, request: gr.Request = None):
        return view(current_user(request, client_id))

    @ui_errors
    def load(name, client_id=None, request: gr.Request = None):
        user = current_user(request, client_id)
        require_admin(user, "load (preload) a model")
        if not name:
            raise gr.Error("Pick a model first.")
        visible_entry(ctx.registry, user, name)
        ctx.registry.get(name)
        return view(user)

    @ui_errors
    def unload(name, client_id=None, request: gr.Request = None):
        user = current_user(request, client_id)
        require_admin(user, "unload a model")
        if not name:
            raise gr.Error("Pick a model first.")
        visible_entry(ctx.registry, user, name)
        if not ctx.registry.unload(name):
            gr.Info(f"{name} was not loaded.")
        return view(user)

    def unload_all(client_id=None, request: gr.Request = None):
        user = current_user(request, client_id)
        require_admin(user, "unload every model")
        ctx.registry.unload_all()
        return view(user)

    outputs = [table, info, pick]
    token = ctx.client_id
    load_btn.click(load, [pick, token], outputs, api_name="models_load", **ctx.heavy)
    unload_btn.click(unload, [pick, token], outputs, api_name="models_unload")
    unload_all_btn.click(unload_all, token, outputs, api_name="models_unload_all")
    refresh_btn.click(refresh, token, outputs, api_name="models_status")
    timer = gr.Timer(3.0)
    timer.tick(
        lambda client_id, request: view(current_user(request, client_id))[:2],
        token,
        [table, info],
        api_visibility="private",
        queue=False,
    )
