"""The Fine-tune tab's panels: the data and settings form, the plan's report, the jobs."""

from __future__ import annotations

import os
from dataclasses import dataclass

import gradio as gr

from playground.finetune.dataset import FORMATS
from tabs.common import AppContext
from tabs.finetune.form import ADVANCED
from tabs.finetune.views import ISSUE_HEADERS, PREVIEW_HEADERS

TICK_SECONDS = 2.0


@dataclass
class DataPanel:
    base: gr.Dropdown
    file: gr.File
    format: gr.Dropdown
    columns: list[gr.Dropdown]  # instruction, input, output, system (as in ColumnMap)
    split: gr.Checkbox
    mix: gr.Slider
    name: gr.Textbox


@dataclass
class AdvancedPanel:
    numbers: list[gr.Number]  # one per ADVANCED setting, in its order
    precision: gr.Dropdown
    checkpointing: gr.Checkbox
    qlora: gr.Checkbox


@dataclass
class ReportPanel:
    report: gr.Markdown
    preview: gr.Dataframe
    issues: gr.Dataframe


@dataclass
class JobsPanel:
    job: gr.Dropdown
    refresh: gr.Button
    status: gr.Markdown
    plot: gr.LinePlot
    cancel: gr.Button
    resume: gr.Button
    try_it: gr.Button
    log: gr.Textbox

    def view(self) -> list:
        """What ``handlers.job_view`` fills in, in its order."""
        return [self.status, self.plot, self.log, self.cancel, self.resume, self.try_it]


@dataclass
class ExportPanel:
    merge: gr.Button
    repo: gr.Textbox
    hf_token: gr.Textbox
    push: gr.Button
    download_adapter: gr.Button
    download_merged: gr.Button
    delete: gr.Button
    download: gr.File
    info: gr.Markdown


@dataclass
class FinetuneTab:
    data: DataPanel
    advanced: AdvancedPanel
    validate: gr.Button
    start: gr.Button
    result: ReportPanel
    jobs: JobsPanel
    export: ExportPanel
    timer: gr.Timer

    def form_inputs(self) -> list:
        """The inputs of Validate and Start, in ``form.read_form``'s order."""
        data, advanced = self.data, self.advanced
        return [
            data.base,
            data.file,
            data.format,
            *data.columns,
            data.split,
            data.mix,
            *advanced.numbers,
            advanced.precision,
            advanced.checkpointing,
            advanced.qlora,
        ]


def build_layout(ctx: AppContext, bases: list[str]) -> FinetuneTab:
    gr.Markdown(ctx.t("finetune.intro"))
    with gr.Row():
        with gr.Column(scale=1):
            data = data_panel(ctx, bases)
            advanced = advanced_panel(ctx)
            with gr.Row():
                validate = gr.Button(ctx.t("finetune.validate"))
                start = gr.Button(ctx.t("finetune.start"), variant="primary")
        with gr.Column(scale=1):
            result = report_panel(ctx)
    jobs = jobs_panel(ctx)
    export = export_panel(ctx)
    timer = gr.Timer(TICK_SECONDS)
    return FinetuneTab(data, advanced, validate, start, result, jobs, export, timer)


def data_panel(ctx: AppContext, bases: list[str]) -> DataPanel:
    base = gr.Dropdown(
        bases,
        value=bases[0] if bases else None,
        label=ctx.t("finetune.base"),
        info=ctx.t("finetune.base_info"),
    )
    file = gr.File(
        label=ctx.t("finetune.data"),
        file_types=[".json", ".jsonl", ".csv", ".tsv"],
        type="filepath",
    )
    gr.Markdown(ctx.t("finetune.formats"))
    with gr.Accordion(ctx.t("finetune.columns"), open=False):
        format_choice = gr.Dropdown(list(FORMATS), value="auto", label=ctx.t("finetune.format"))
        with gr.Row():
            columns = [
                gr.Dropdown(
                    [], value=None, label=ctx.t(f"finetune.col_{field}"), allow_custom_value=True
                )
                for field in ("instruction", "input", "output", "system")
            ]
    with gr.Row():
        split = gr.Checkbox(True, label=ctx.t("finetune.split"), info=ctx.t("finetune.split_info"))
        mix = gr.Slider(
            0, 0.5, value=0, step=0.05, label=ctx.t("finetune.mix"), info=ctx.t("finetune.mix_info")
        )
    name = gr.Textbox(label=ctx.t("finetune.name"), placeholder=ctx.t("finetune.name_placeholder"))
    return DataPanel(base, file, format_choice, columns, split, mix, name)


def advanced_panel(ctx: AppContext) -> AdvancedPanel:
    with gr.Accordion(ctx.t("finetune.advanced"), open=False):
        gr.Markdown(ctx.t("finetune.advanced_help"))
        with gr.Row(equal_height=False):
            numbers = [
                gr.Number(
                    value=None,
                    label=ctx.t(f"finetune.adv.{name}"),
                    info=ctx.t(f"finetune.help.{name}"),
                    precision=0 if kind == "int" else None,
                    minimum=0,
                    min_width=160,
                    **extra,
                )
                for name, kind, extra in ADVANCED
            ]
        with gr.Row():
            precision = gr.Dropdown(
                ["auto", "fp32", "bf16", "fp16"],
                value="auto",
                label=ctx.t("finetune.adv.precision"),
                info=ctx.t("finetune.help.precision"),
            )
            checkpointing = gr.Checkbox(
                False,
                label=ctx.t("finetune.adv.checkpointing"),
                info=ctx.t("finetune.help.checkpointing"),
            )
            qlora = gr.Checkbox(
                False, label=ctx.t("finetune.adv.qlora"), info=ctx.t("finetune.help.qlora")
            )
    return AdvancedPanel(numbers, precision, checkpointing, qlora)


def report_panel(ctx: AppContext) -> ReportPanel:
    report = gr.Markdown(ctx.t("finetune.report_empty"))
    preview = gr.Dataframe(
        headers=PREVIEW_HEADERS, label=ctx.t("finetune.preview"), interactive=False, wrap=True
    )
    issues = gr.Dataframe(
        headers=ISSUE_HEADERS,
        label=ctx.t("finetune.issues"),
        interactive=False,
        wrap=True,
        visible=False,
    )
    return ReportPanel(report, preview, issues)


def jobs_panel(ctx: AppContext) -> JobsPanel:
    gr.Markdown(ctx.t("finetune.jobs_heading"))
    with gr.Row():
        job = gr.Dropdown(
            [], value=None, label=ctx.t("finetune.job"), scale=4, allow_custom_value=True
        )
        refresh = gr.Button(ctx.t("finetune.refresh"), scale=1)
    status = gr.Markdown(ctx.t("finetune.no_job"))
    plot = gr.LinePlot(
        x="step",
        y="loss",
        color="series",
        label=ctx.t("finetune.loss_curve"),
        x_title="step",
        y_title="loss",
        height=260,
    )
    with gr.Row():
        cancel = gr.Button(ctx.t("finetune.cancel"), variant="stop", interactive=False)
        resume = gr.Button(ctx.t("finetune.resume"), interactive=False)
        try_it = gr.Button(ctx.t("finetune.try"), variant="primary", interactive=False)
    log = gr.Textbox(
        label=ctx.t("finetune.log"), lines=8, max_lines=16, interactive=False, autoscroll=True
    )
    return JobsPanel(job, refresh, status, plot, cancel, resume, try_it, log)


def export_panel(ctx: AppContext) -> ExportPanel:
    with gr.Accordion(ctx.t("finetune.export"), open=False):
        with gr.Row():
            merge = gr.Button(ctx.t("finetune.merge"))
            repo = gr.Textbox(label=ctx.t("finetune.repo"), placeholder="your-name/my-adapter")
            hf_token = gr.Textbox(label=ctx.t("finetune.hf_token"), type="password")
            if os.environ.get("SPACE_ID"):
                gr.LoginButton()  # with `hf_oauth: true` in the Space: push as yourself
            push = gr.Button(ctx.t("finetune.push"))
        with gr.Row():
            download_adapter = gr.Button(ctx.t("finetune.download_adapter"))
            download_merged = gr.Button(ctx.t("finetune.download_merged"))
            delete = gr.Button(ctx.t("finetune.delete"), variant="stop")
        download = gr.File(label=ctx.t("finetune.download"), interactive=False)
        info = gr.Markdown()
    return ExportPanel(
        merge, repo, hf_token, push, download_adapter, download_merged, delete, download, info
    )
