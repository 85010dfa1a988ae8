"""The Fine-tune tab: upload a dataset, press Start, watch the loss, try it in Chat.

UI only: every action calls ``playground.finetune``. Training runs in its own
process with a job folder, so this tab only reads files: after a page refresh
(or an app restart) the timer finds the user's jobs again and re-attaches.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import gradio as gr

from playground.device import format_bytes
from playground.finetune import jobs
from playground.finetune.dataset import FORMATS, csv_header, preview_rows
from tabs.common import AppContext, owner_of, ui_errors
from tabs.i18n import tr as shared_tr

ADVANCED = [
    # (setting, component kind, extra kwargs)
    ("rank", "int", {}),
    ("alpha", "int", {}),
    ("dropout", "float", {}),
    ("learning_rate", "float", {}),
    ("epochs", "float", {}),
    ("max_steps", "int", {}),
    ("batch_size", "int", {}),
    ("grad_accum", "int", {}),
    ("max_length", "int", {}),
    ("seed", "int", {}),
]
TICK_SECONDS = 2.0
SETTINGS_ARGS = """\
base: the chat model to fine-tune (a name from the models file).
dataset: the dataset file: Alpaca / ShareGPT / messages JSON or JSONL, or CSV.
format: auto, alpaca, sharegpt, messages or csv (default auto: detected).
col_instruction: CSV column holding the instruction (CSV only; default: guessed).
col_input: CSV column holding the input (optional).
col_output: CSV column holding the reply to learn.
col_system: CSV column holding a system prompt (optional).
val_split: hold out a validation set (default true).
mix_general: share of bundled general instructions to mix in, 0-0.5 (default 0).
rank: LoRA rank; empty picks one from the dataset size.
alpha: LoRA alpha; empty means 2 x rank.
dropout: LoRA dropout; empty for the default.
learning_rate: empty for the default (2e-4).
epochs: empty picks 1-5 from the dataset size.
max_steps: stop after this many steps; empty for no limit.
batch_size: per-device batch size; empty picks one for the device.
grad_accum: gradient accumulation steps; empty picks one.
max_length: tokens per record; empty uses the 95th percentile of the records.
seed: random seed; empty for the default.
precision: auto, fp32, bf16 or fp16 (default auto).
checkpointing: gradient checkpointing, to save memory (default false).
qlora: 4-bit base model, needs a CUDA GPU and bitsandbytes (default false).
"""  # the Args: of finetune_validate and finetune_start (one copy)


def with_settings_args(doc: str) -> str:
    """``doc`` with its ``{settings}`` line replaced by the shared fine-tune Args lines."""
    indent = " " * 12  # docstrings of the wiring's nested handlers
    lines = SETTINGS_ARGS.rstrip("\n").splitlines()
    return doc.replace("{settings}", ("\n" + indent).join(lines))


PREVIEW_HEADERS = ["#", "prompt", "reply", "turns"]
ISSUE_HEADERS = ["record", "line", "field", "problem", "what to do"]


# ------------------------------------------------------------------ helpers


def tr(key: str, request: gr.Request | None, **values: Any) -> str:
    """A server-side message in the browser's language."""
    return shared_tr(f"finetune.{key}", request, **values)


def _owner(request: gr.Request | None, client_id: str | None) -> str:
    return owner_of(request, client_id)


def _columns(fmt, ci, cin, co, cs) -> dict[str, str | None]:
    return {
        "instruction": ci or None,
        "input": cin or None,
        "output": co or None,
        "system": cs or None,
    }


def _overrides(
    split: bool, mix: float, values: list[Any], precision: str, checkpointing: bool, qlora: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        name: (int(v) if kind == "int" else float(v))
        for (name, kind, _), v in zip(ADVANCED, values, strict=True)
        if v is not None and v != ""
    }
    if split is not None and not split:  # None (left out through the API): the default split
        out["val_ratio"] = 0.0
    out["mix_general"] = float(mix or 0)
    out["precision"] = precision or "auto"
    out["gradient_checkpointing"] = bool(checkpointing)
    out["qlora"] = bool(qlora)
    return out


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
    lines = [
        f"**{config['name']}** · {config['base']} · `{config['id']}` · **{tr('state.' + state, request)}**"
    ]
    if state == "queued" and status.get("queue_position"):
        lines.append(tr("queued_behind", request, n=status["queue_position"]))
    if total:
        pct = 100 * step / total
        lines.append(f"`{_bar(step, total)}` {step}/{total} ({pct:.0f}%)")
    parts = []
    if state == "running":
        parts.append(f"{tr('eta', request)} {_duration(status.get('eta_seconds'))}")
    if status.get("loss") is not None:
        parts.append(f"loss {status['loss']:.4f}")
    if status.get("eval_loss") is not None:
        parts.append(f"eval loss {status['eval_loss']:.4f}")
    if parts:
        lines.append(" · ".join(parts))
    if status.get("message"):
        lines.append(f"_{status['message']}_")
    if state == "completed":
        lines.append(tr("completed_hint", request))
    lines.append(tr("disk", request, size=format_bytes(jobs.disk_bytes(job_dir))))
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


# ------------------------------------------------------------------ layout


def build(ctx: AppContext) -> None:
    from playground.finetune import base_models, register_finished

    try:  # adapters trained before this start appear in Chat at once
        register_finished(ctx.registry, ctx.data_dir)
    except Exception:  # a damaged job folder must not stop the tab from building
        import logging

        logging.getLogger(__name__).warning("could not register finished adapters", exc_info=True)
    bases = base_models(ctx.registry)
    gr.Markdown(ctx.t("finetune.intro"))
    c: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=1):
            _data_panel(ctx, c, bases)
            _advanced_panel(ctx, c)
            with gr.Row():
                c["validate"] = gr.Button(ctx.t("finetune.validate"))
                c["start"] = gr.Button(ctx.t("finetune.start"), variant="primary")
        with gr.Column(scale=1):
            c["report"] = gr.Markdown(ctx.t("finetune.report_empty"))
            c["preview"] = gr.Dataframe(
                headers=PREVIEW_HEADERS,
                label=ctx.t("finetune.preview"),
                interactive=False,
                wrap=True,
            )
            c["issues"] = gr.Dataframe(
                headers=ISSUE_HEADERS,
                label=ctx.t("finetune.issues"),
                interactive=False,
                wrap=True,
                visible=False,
            )
    _jobs_panel(ctx, c)
    _wire(ctx, c)


def _data_panel(ctx: AppContext, c: dict, bases: list[str]) -> None:
    c["base"] = gr.Dropdown(
        bases,
        value=bases[0] if bases else None,
        label=ctx.t("finetune.base"),
        info=ctx.t("finetune.base_info"),
    )
    c["file"] = gr.File(
        label=ctx.t("finetune.data"),
        file_types=[".json", ".jsonl", ".csv", ".tsv"],
        type="filepath",
    )
    gr.Markdown(ctx.t("finetune.formats"))
    with gr.Accordion(ctx.t("finetune.columns"), open=False):
        c["format"] = gr.Dropdown(list(FORMATS), value="auto", label=ctx.t("finetune.format"))
        with gr.Row():
            for field in ("instruction", "input", "output", "system"):
                c[f"col_{field}"] = gr.Dropdown(
                    [], value=None, label=ctx.t(f"finetune.col_{field}"), allow_custom_value=True
                )
    with gr.Row():
        c["split"] = gr.Checkbox(
            True, label=ctx.t("finetune.split"), info=ctx.t("finetune.split_info")
        )
        c["mix"] = gr.Slider(
            0, 0.5, value=0, step=0.05, label=ctx.t("finetune.mix"), info=ctx.t("finetune.mix_info")
        )
    c["name"] = gr.Textbox(
        label=ctx.t("finetune.name"), placeholder=ctx.t("finetune.name_placeholder")
    )


def _advanced_panel(ctx: AppContext, c: dict) -> None:
    with gr.Accordion(ctx.t("finetune.advanced"), open=False):
        gr.Markdown(ctx.t("finetune.advanced_help"))
        c["advanced"] = []
        with gr.Row(equal_height=False):
            for name, kind, extra in ADVANCED:
                c["advanced"].append(
                    gr.Number(
                        value=None,
                        label=ctx.t(f"finetune.adv.{name}"),
                        info=ctx.t(f"finetune.help.{name}"),
                        precision=0 if kind == "int" else None,
                        minimum=0,
                        min_width=160,
                        **extra,
                    )
                )
        with gr.Row():
            c["precision"] = gr.Dropdown(
                ["auto", "fp32", "bf16", "fp16"],
                value="auto",
                label=ctx.t("finetune.adv.precision"),
                info=ctx.t("finetune.help.precision"),
            )
            c["checkpointing"] = gr.Checkbox(
                False,
                label=ctx.t("finetune.adv.checkpointing"),
                info=ctx.t("finetune.help.checkpointing"),
            )
            c["qlora"] = gr.Checkbox(
                False, label=ctx.t("finetune.adv.qlora"), info=ctx.t("finetune.help.qlora")
            )


def _jobs_panel(ctx: AppContext, c: dict) -> None:
    gr.Markdown(ctx.t("finetune.jobs_heading"))
    with gr.Row():
        c["job"] = gr.Dropdown(
            [], value=None, label=ctx.t("finetune.job"), scale=4, allow_custom_value=True
        )
        c["refresh"] = gr.Button(ctx.t("finetune.refresh"), scale=1)
    c["status"] = gr.Markdown(ctx.t("finetune.no_job"))
    c["plot"] = gr.LinePlot(
        x="step",
        y="loss",
        color="series",
        label=ctx.t("finetune.loss_curve"),
        x_title="step",
        y_title="loss",
        height=260,
    )
    with gr.Row():
        c["cancel"] = gr.Button(ctx.t("finetune.cancel"), variant="stop", interactive=False)
        c["resume"] = gr.Button(ctx.t("finetune.resume"), interactive=False)
        c["try"] = gr.Button(ctx.t("finetune.try"), variant="primary", interactive=False)
    c["log"] = gr.Textbox(
        label=ctx.t("finetune.log"), lines=8, max_lines=16, interactive=False, autoscroll=True
    )
    with gr.Accordion(ctx.t("finetune.export"), open=False):
        with gr.Row():
            c["merge"] = gr.Button(ctx.t("finetune.merge"))
            c["repo"] = gr.Textbox(label=ctx.t("finetune.repo"), placeholder="your-name/my-adapter")
            c["hf_token"] = gr.Textbox(label=ctx.t("finetune.hf_token"), type="password")
            if os.environ.get("SPACE_ID"):
                gr.LoginButton()  # with `hf_oauth: true` in the Space: push as yourself
            c["push"] = gr.Button(ctx.t("finetune.push"))
        with gr.Row():
            c["dl_adapter"] = gr.Button(ctx.t("finetune.download_adapter"))
            c["dl_merged"] = gr.Button(ctx.t("finetune.download_merged"))
            c["delete"] = gr.Button(ctx.t("finetune.delete"), variant="stop")
        c["download"] = gr.File(label=ctx.t("finetune.download"), interactive=False)
        c["export_info"] = gr.Markdown()
    c["timer"] = gr.Timer(TICK_SECONDS)


# ------------------------------------------------------------------ events


def _wire(ctx: AppContext, c: dict) -> None:
    from playground.finetune import engine, register_finished

    data_inputs = [
        c["base"],
        c["file"],
        c["format"],
        c["col_instruction"],
        c["col_input"],
        c["col_output"],
        c["col_system"],
        c["split"],
        c["mix"],
        *c["advanced"],
        c["precision"],
        c["checkpointing"],
        c["qlora"],
    ]

    def make_plan(base, path, fmt, ci, cin, co, cs, split, mix, *rest):
        if not base:
            raise gr.Error("Pick a base model first.")
        if not path:
            raise gr.Error("Upload a dataset file (JSON, JSONL or CSV) first.")
        values, (precision, checkpointing, qlora) = (
            list(rest[: len(ADVANCED)]),
            rest[len(ADVANCED) :],
        )
        overrides = _overrides(split, mix, values, precision, checkpointing, qlora)
        return engine.plan(
            ctx.registry,
            base,
            path,
            format=fmt or "auto",
            columns=_columns(fmt, ci, cin, co, cs),
            overrides=overrides,
        )

    @ui_errors
    def validate(
        base, dataset, format=None, col_instruction=None, col_input=None, col_output=None,
        col_system=None, val_split=None, mix_general=None, rank=None, alpha=None, dropout=None,
        learning_rate=None, epochs=None, max_steps=None, batch_size=None, grad_accum=None,
        max_length=None, seed=None, precision=None, checkpointing=None, qlora=None,
    ):  # fmt: skip
        """Check a dataset against a base model: problems, preview, token statistics, defaults and estimate.

        Only base and dataset are needed; leave the rest out for the one-click defaults.

        Args:
            {settings}
        """
        result = make_plan(
            base, dataset, format, col_instruction, col_input, col_output, col_system,
            val_split, mix_general, rank, alpha, dropout, learning_rate, epochs, max_steps,
            batch_size, grad_accum, max_length, seed, precision, checkpointing, qlora,
        )  # fmt: skip
        issues = [
            [i.record or "", i.line or "", i.field or "", i.kind, i.message]
            for i in result.dataset.issues
        ]
        s = result.settings
        filled = [getattr(s, name) for name, _, _ in ADVANCED]
        return (
            _report_md(result),
            preview_rows(result.dataset.records, limit=8),
            gr.Dataframe(value=issues[:200], visible=bool(issues)),
            *filled,
        )

    validate.__doc__ = with_settings_args(validate.__doc__)
    c["validate"].click(
        validate,
        data_inputs,
        [c["report"], c["preview"], c["issues"], *c["advanced"]],
        api_name="finetune_validate",
        **ctx.light,
    )

    def on_upload(path):
        cleared = [gr.Number(value=None) for _ in ADVANCED]
        if path and Path(path).suffix.lower() in (".csv", ".tsv"):
            header = csv_header(path)
            return (*[gr.Dropdown(choices=[""] + header, value=None) for _ in range(4)], *cleared)
        return (*[gr.Dropdown(choices=[], value=None) for _ in range(4)], *cleared)

    cols = [c["col_instruction"], c["col_input"], c["col_output"], c["col_system"]]
    c["file"].change(
        on_upload, c["file"], [*cols, *c["advanced"]], api_visibility="private", queue=False
    )

    @ui_errors
    def start(
        base, dataset, format=None, col_instruction=None, col_input=None, col_output=None,
        col_system=None, val_split=None, mix_general=None, rank=None, alpha=None, dropout=None,
        learning_rate=None, epochs=None, max_steps=None, batch_size=None, grad_accum=None,
        max_length=None, seed=None, precision=None, checkpointing=None, qlora=None,
        name=None, client_id=None, request: gr.Request = None,
    ):  # fmt: skip
        """Validate the dataset, check the run fits, and start a LoRA job; returns the job list and its status.

        Only base and dataset are needed; leave the rest out for the one-click defaults.

        Args:
            {settings}
            name: a name for the job and its adapter (default: made up from the base and dataset).
            client_id: the browser id that owns the job when there is no login.
        """
        owner = _owner(request, client_id)
        _check_job_limits(ctx, owner, dataset)
        result = make_plan(
            base, dataset, format, col_instruction, col_input, col_output, col_system,
            val_split, mix_general, rank, alpha, dropout, learning_rate, epochs, max_steps,
            batch_size, grad_accum, max_length, seed, precision, checkpointing, qlora,
        )  # fmt: skip
        job_dir = engine.start_job(
            ctx.registry, ctx.data_dir, owner, result, name=(name or "").strip() or None
        )
        gr.Info(tr("started", request, name=jobs.read_config(job_dir)["name"]))
        return (_job_choices(owner, job_dir.name), _report_md(result), *_job_view(job_dir, request))

    view = [c["status"], c["plot"], c["log"], c["cancel"], c["resume"], c["try"]]
    skip_all = tuple(gr.skip() for _ in range(len(view) + 1))
    start.__doc__ = with_settings_args(start.__doc__)
    c["start"].click(
        start,
        [*data_inputs, c["name"], ctx.client_id],
        [c["job"], c["report"], *view],
        api_name="finetune_start",
        **ctx.light,
    )

    def _job_choices(owner: str, selected: str | None):
        found = jobs.list_jobs(ctx.data_dir, owner)
        choices = [(j.label, j.id) for j in found]
        if selected is None and found:
            selected = found[0].id
        return gr.Dropdown(choices=choices, value=selected)

    def _job_view(job_dir: Path, request):
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

    def _empty_view(request):
        return (
            tr("no_job", request),
            metrics_frame(None),
            "",
            *(gr.Button(interactive=False) for _ in range(3)),
        )

    @ui_errors
    def status(job_id, client_id, request: gr.Request = None):
        """A job's state, progress with ETA, loss curve and log tail (only the caller's own jobs)."""
        owner = _owner(request, client_id)
        if not job_id:
            return _empty_view(request)
        job_dir = jobs.job_dir_for(ctx.data_dir, owner, job_id)
        _register(owner)
        return _job_view(job_dir, request)

    c["job"].change(
        status, [c["job"], ctx.client_id], view, api_name="finetune_status", **ctx.light
    )

    @ui_errors
    def list_mine(client_id, request: gr.Request = None):
        """The caller's fine-tune jobs: id, name, base model, state, step."""
        owner = _owner(request, client_id)
        return [
            [j.id, j.name, j.base, j.state, j.step, j.max_steps or 0]
            for j in jobs.list_jobs(ctx.data_dir, owner)
        ]

    def refresh_choices(client_id, job, request: gr.Request = None):
        return _job_choices(_owner(request, client_id), job or None)

    jobs_table = gr.JSON(visible=False)
    c["refresh"].click(
        list_mine, [ctx.client_id], jobs_table, api_name="finetune_jobs", **ctx.light
    ).then(
        refresh_choices, [ctx.client_id, c["job"]], c["job"], api_visibility="private", queue=False
    )

    def _register(owner: str) -> None:
        added = register_finished(ctx.registry, ctx.data_dir, owner)
        if added:
            gr.Info(tr("in_chat", None, name=", ".join(added)))

    seen: dict[str, str] = {}
    shown: dict[str, str] = {}

    def tick(job_id, client_id, request: gr.Request = None):
        # Re-attach after a refresh or restart: pick the newest job when none is selected.
        owner = _owner(request, client_id)
        found = jobs.list_jobs(ctx.data_dir, owner)
        key = getattr(request, "session_hash", None) or owner
        signature = "|".join(f"{j.id}:{j.state}" for j in found)
        choices_update = None
        if seen.get(key) != signature or (found and not job_id):
            seen[key] = signature
            if not job_id and found:
                job_id = found[0].id
            choices_update = gr.Dropdown(choices=[(j.label, j.id) for j in found], value=job_id)
        if not job_id or not any(j.id == job_id for j in found):
            return (choices_update or gr.skip(), *skip_all[1:])
        job_dir = jobs.job_dir_for(ctx.data_dir, owner, job_id)
        if any(j.state == "completed" for j in found):
            _register(owner)
        # Send the plot and log only when the job folder changed since the last tick.
        stamp = f"{job_id}:{_mtime(job_dir / 'status.json')}:{_mtime(job_dir / 'log.txt')}"
        if shown.get(key) == stamp and choices_update is None:
            return skip_all
        shown[key] = stamp
        return (choices_update or gr.skip(), *_job_view(job_dir, request))

    c["timer"].tick(
        tick, [c["job"], ctx.client_id], [c["job"], *view], api_visibility="private", queue=False
    )

    @ui_errors
    def cancel(job_id, client_id, request: gr.Request = None):
        """Cancel one of your jobs: it saves a checkpoint and stops (Resume continues from it)."""
        job_dir = jobs.job_dir_for(ctx.data_dir, _owner(request, client_id), job_id)
        jobs.cancel(job_dir)
        return _job_view(job_dir, request)

    c["cancel"].click(
        cancel, [c["job"], ctx.client_id], view, api_name="finetune_cancel", **ctx.light
    )

    @ui_errors
    def resume(job_id, client_id, request: gr.Request = None):
        """Resume a cancelled or failed job from its last checkpoint (or from the start)."""
        job_dir = jobs.job_dir_for(ctx.data_dir, _owner(request, client_id), job_id)
        state = jobs.read_status(job_dir).get("state")
        if state in jobs.ACTIVE:
            raise gr.Error(tr("already_running", request))
        _check_job_limits(ctx, _owner(request, client_id), None)
        jobs.launch(job_dir, resume=True)  # refused "already running" on a double click
        return _job_view(job_dir, request)

    c["resume"].click(
        resume, [c["job"], ctx.client_id], view, api_name="finetune_resume", **ctx.light
    )

    _wire_try(ctx, c)
    _wire_export(ctx, c)
    _wire_files(ctx, c)


def _check_job_limits(ctx: AppContext, owner: str, dataset) -> None:
    """--user-quota for the data copy; in --workshop, one active fine-tune per person."""
    size = Path(str(dataset)).stat().st_size if dataset and Path(str(dataset)).is_file() else 0
    ctx.check_quota(owner, adding=size)
    if not ctx.settings.workshop:
        return
    active = [j for j in jobs.list_jobs(ctx.data_dir, owner) if j.state in jobs.ACTIVE]
    if active:
        raise gr.Error(
            f"Workshop limit: one fine-tune per person at a time, and '{active[0].name}' is "
            f"{active[0].state}. Wait for it to finish or cancel it, then start the next."
        )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _report_md(result) -> str:
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


def _wire_try(ctx: AppContext, c: dict) -> None:
    from playground.finetune import adapter_entry, register_finished

    has_chat = all(k in ctx.shared for k in ("chat.model", "chat.model_b", "chat.compare"))

    @ui_errors
    def try_it(job_id, client_id, request: gr.Request = None):
        """Open Chat in compare mode: the base model (A) against your adapter (B)."""
        owner = _owner(request, client_id)
        job_dir = jobs.job_dir_for(ctx.data_dir, owner, job_id)
        entry = adapter_entry(job_dir)
        if entry is None:
            raise gr.Error(tr("not_finished", request))
        register_finished(ctx.registry, ctx.data_dir, owner)
        name = next(
            (e.name for e in ctx.registry.entries("chat") if e.source == entry.source), entry.name
        )
        if not has_chat:
            gr.Info(tr("in_chat", request, name=name))
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

    if has_chat:
        outputs = [ctx.shared["chat.model"], ctx.shared["chat.model_b"], ctx.shared["chat.compare"]]
        outputs.append(ctx.tabs if ctx.tabs is not None else gr.State())  # type: ignore[arg-type]
    else:
        outputs = [gr.State(), gr.State(), gr.State(), gr.State()]
    c["try"].click(try_it, [c["job"], ctx.client_id], outputs, api_name="finetune_try", **ctx.light)


def _wire_export(ctx: AppContext, c: dict) -> None:
    from playground.finetune import export_merged, push_adapter

    @ui_errors
    def merge(job_id, client_id, request: gr.Request = None):
        """Merge the adapter into its base model and save a full safetensors model in the job folder."""
        job_dir = jobs.job_dir_for(ctx.data_dir, _owner(request, client_id), job_id)
        if not (job_dir / "adapter" / "manifest.json").exists():
            raise gr.Error(tr("not_finished", request))
        started = time.time()
        out = export_merged(job_dir, job_dir / "merged")
        name = Path(out).name  # a name, never a server path
        return tr("merged", request, path=name, seconds=f"{time.time() - started:.0f}")

    c["merge"].click(
        merge, [c["job"], ctx.client_id], c["export_info"], api_name="finetune_merge", **ctx.heavy
    )

    @ui_errors
    def push(
        job_id,
        repo,
        hf_token=None,
        client_id=None,
        request: gr.Request = None,
        oauth_token: gr.OAuthToken | None = None,
    ):
        """Upload the adapter to the Hugging Face Hub with YOUR token (used once, not kept)."""
        job_dir = jobs.job_dir_for(ctx.data_dir, _owner(request, client_id), job_id)
        if not (job_dir / "adapter" / "manifest.json").exists():
            raise gr.Error(tr("not_finished", request))
        # Only the caller's credentials: never the server's HF_TOKEN or saved login.
        token = (hf_token or "").strip() or (oauth_token.token if oauth_token else "")
        if not token:
            raise gr.Error(tr("push_needs_token", request))
        url = push_adapter(job_dir, (repo or "").strip(), token=token)
        return tr("pushed", request, url=url)

    c["push"].click(
        push,
        [c["job"], c["repo"], c["hf_token"], ctx.client_id],
        c["export_info"],
        api_name="finetune_push",
        **ctx.light,
    )


def _wire_files(ctx: AppContext, c: dict) -> None:
    """Zip downloads of the adapter and the merged model, and Delete job."""
    from playground.finetune import adapter_zip, delete_job, merged_zip

    @ui_errors
    def download_adapter(job_id, client_id, request: gr.Request = None):
        """The finished adapter as a zip file."""
        return str(adapter_zip(jobs.job_dir_for(ctx.data_dir, _owner(request, client_id), job_id)))

    @ui_errors
    def download_merged(job_id, client_id, request: gr.Request = None):
        """The adapter merged into its base, as a zip file (merges first if needed)."""
        return str(merged_zip(jobs.job_dir_for(ctx.data_dir, _owner(request, client_id), job_id)))

    @ui_errors
    def delete(job_id, client_id, request: gr.Request = None):
        """Delete one of your jobs that is not running, freeing its disk."""
        owner = _owner(request, client_id)
        freed = delete_job(jobs.job_dir_for(ctx.data_dir, owner, job_id))
        choices = [(j.label, j.id) for j in jobs.list_jobs(ctx.data_dir, owner)]
        return (
            gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
            tr("deleted", request, size=format_bytes(freed)),
        )

    inputs = [c["job"], ctx.client_id]
    c["dl_adapter"].click(
        download_adapter, inputs, c["download"], api_name="finetune_download_adapter", **ctx.light
    )
    c["dl_merged"].click(
        download_merged, inputs, c["download"], api_name="finetune_download_merged", **ctx.heavy
    )
    c["delete"].click(
        delete, inputs, [c["job"], c["export_info"]], api_name="finetune_delete", **ctx.light
    )
