"""The Fine-tune tab's events: each button to its handler, with the same API names as ever."""

from __future__ import annotations

import gradio as gr

from tabs.common import AppContext, bind, prefetch
from tabs.finetune import handlers, results
from tabs.finetune.layout import FinetuneTab


def wire(ctx: AppContext, tab: FinetuneTab) -> None:
    _wire_plan(ctx, tab)
    _wire_jobs(ctx, tab)
    _wire_try(ctx, tab)
    _wire_export(ctx, tab)


def _wire_plan(ctx: AppContext, tab: FinetuneTab) -> None:
    """Validate, the CSV columns on upload, and Start."""
    form = tab.form_inputs()
    numbers, view = tab.advanced.numbers, tab.jobs.view()
    result = tab.result
    tab.validate.click(
        bind(handlers.validate, ctx),
        form,
        [result.report, result.preview, result.issues, *numbers],
        api_name="finetune_validate",
        **ctx.light,
    )
    tab.data.file.change(
        handlers.on_upload,
        tab.data.file,
        [*tab.data.columns, *numbers],
        api_visibility="private",
        queue=False,
    )
    # The base model's first download streams into the report, then the job starts.
    fetch = tab.start.click(prefetch(ctx, handlers.base_model), form[0], result.report,
                            api_visibility="private", **ctx.light)  # fmt: skip
    fetch.success(
        bind(handlers.start, ctx),
        [*form, tab.data.name, ctx.client_id],
        [tab.jobs.job, result.report, *view],
        api_name="finetune_start",
        **ctx.light,
    )


def _wire_jobs(ctx: AppContext, tab: FinetuneTab) -> None:
    """Status on selection, the job list, the timer, Cancel and Resume."""
    job, view = tab.jobs.job, tab.jobs.view()
    selected = [job, ctx.client_id]
    job.change(bind(handlers.status, ctx), selected, view, api_name="finetune_status", **ctx.light)
    jobs_table = gr.JSON(visible=False)
    tab.jobs.refresh.click(
        bind(handlers.list_mine, ctx),
        [ctx.client_id],
        jobs_table,
        api_name="finetune_jobs",
        **ctx.light,
    ).then(
        bind(handlers.refresh_choices, ctx),
        [ctx.client_id, job],
        job,
        api_visibility="private",
        queue=False,
    )
    watch = handlers.JobWatch(ctx, outputs=len(view) + 1)
    tab.timer.tick(watch.tick, selected, [job, *view], api_visibility="private", queue=False)
    tab.jobs.cancel.click(
        bind(handlers.cancel, ctx), selected, view, api_name="finetune_cancel", **ctx.light
    )
    tab.jobs.resume.click(
        bind(handlers.resume, ctx), selected, view, api_name="finetune_resume", **ctx.light
    )


def _wire_try(ctx: AppContext, tab: FinetuneTab) -> None:
    """Try it: Chat's model pickers when the Chat tab is there, else placeholders."""
    if results.has_chat(ctx):
        outputs = [ctx.shared[key] for key in results.CHAT_COMPONENTS]
        outputs.append(ctx.tabs if ctx.tabs is not None else gr.State())
    else:
        outputs = [gr.State(), gr.State(), gr.State(), gr.State()]
    tab.jobs.try_it.click(
        bind(results.try_it, ctx),
        [tab.jobs.job, ctx.client_id],
        outputs,
        api_name="finetune_try",
        **ctx.light,
    )


def _wire_export(ctx: AppContext, tab: FinetuneTab) -> None:
    """Merge, push, the zip downloads and Delete."""
    export, selected = tab.export, [tab.jobs.job, ctx.client_id]
    export.merge.click(
        bind(results.merge, ctx), selected, export.info, api_name="finetune_merge", **ctx.heavy
    )
    export.push.click(
        bind(results.push, ctx),
        [tab.jobs.job, export.repo, export.hf_token, ctx.client_id],
        export.info,
        api_name="finetune_push",
        **ctx.light,
    )
    export.download_adapter.click(
        bind(results.download_adapter, ctx),
        selected,
        export.download,
        api_name="finetune_download_adapter",
        **ctx.light,
    )
    export.download_merged.click(
        bind(results.download_merged, ctx),
        selected,
        export.download,
        api_name="finetune_download_merged",
        **ctx.heavy,
    )
    export.delete.click(
        bind(results.delete, ctx),
        selected,
        [tab.jobs.job, export.info],
        api_name="finetune_delete",
        **ctx.light,
    )
