"""The Image tab's generation handlers: generate (streamed), cancel, model defaults, history.

Top-level functions of the app context and the event's inputs (wired with
``tabs.common.bind``); the work is done by ``playground.image``.
"""

from __future__ import annotations

import threading

import gradio as gr

from playground.image import (
    ImageRequest,
    ImageResult,
    describe_estimate,
    generate_stream,
    list_history,
    model_defaults,
    schedulers,
)
from playground.storage import user_dir
from tabs.common import AppContext, StopFlags, owner_of, session_key, ui_errors
from tabs.i18n import tr

STOPS = StopFlags()  # the Cancel button's flag for each browser session's running generation


@ui_errors
def generate(
    ctx: AppContext,
    model_name: str,
    prompt_text: str,
    negative_text: str | None = None,  # None: left out through the API
    width: float = None,  # the rest: the UI's values when left out through the API
    height: float = None,
    steps: float = None,
    guidance: float = None,
    scheduler: str = None,
    seed: float | None = None,
    batch_count: float = None,
    client_id: str | None = None,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (gradio injects it)
):
    """Generate images from a text prompt with a text-to-image model.

    Args:
        model_name: text-to-image model name from the models file.
        prompt_text: what the image should show; AUTOMATIC1111 weights such as (word:1.3) work.
        negative_text: what to avoid (may be empty).
        width: image width in pixels (a multiple of 8 for Stable Diffusion).
        height: image height in pixels.
        steps: denoising steps.
        guidance: CFG scale (0 for SD-Turbo).
        scheduler: sampler name, or "default" for the model's own.
        seed: a whole number, or empty/-1 for a random seed (the seed used is reported).
        batch_count: how many images, with seeds seed, seed+1, ...

    Returns:
        The gallery of PNG files (each carries its parameters), a status line with the seeds, a preview
        (hidden at the end), and notes (prompt chunks, memory savers, safety checker...).
    """
    owner = owner_of(request, client_id)
    ctx.check_quota(owner)
    key = session_key(request)
    STOPS.stop(key, waiting=False)  # a new run from this page stops the one still running
    with STOPS.running(key) as cancel:
        if cancel.is_set():  # Cancel was clicked while this run waited for its turn
            yield gr.skip(), tr("queue.cancelled_waiting", request), gr.skip(), "", gr.skip()
            return
        wanted = ImageRequest(
            model=model_name,
            prompt=prompt_text or "",
            negative_prompt=negative_text or "",
            steps=int(steps),
            guidance=float(guidance),
            width=int(width),
            height=int(height),
            scheduler=scheduler or schedulers.DEFAULT,
            seed=None if seed in (None, "") or int(seed) < 0 else int(seed),
            batch_count=int(batch_count or 1),
        )
        yield starting_update(ctx, wanted, request)
        out_dir = user_dir(ctx.data_dir, owner, "images")
        result = yield from _progress_updates(ctx, wanted, out_dir, cancel, request, progress)
    if result is not None:
        yield result_update(result, request)


def starting_update(ctx: AppContext, wanted: ImageRequest, request: gr.Request | None) -> tuple:
    """The first update: what will happen (loading the model, how long it may take)."""
    estimate = describe_estimate(ctx.registry, wanted) or ""
    loading = "" if ctx.registry.is_loaded(wanted.model) else tr("image.loading", request)
    status = f"{loading} {estimate}".strip() or "…"
    return gr.skip(), status, gr.update(visible=True), "", gr.skip()


def _progress_updates(
    ctx: AppContext, wanted: ImageRequest, out_dir, cancel: threading.Event, request, progress
):
    """A status line and preview per step; returns the result (None when the run ended early)."""
    events = generate_stream(
        ctx.registry,
        wanted,
        out_dir=out_dir,
        cancel=cancel,
        preview_every=max(1, wanted.steps // 5),
    )
    for event in events:
        if isinstance(event, ImageResult):
            return event
        left = f"{event.seconds_left:.0f}" if event.seconds_left is not None else "?"
        line = tr(
            "image.step",
            request,
            image=event.image_index + 1,
            images=event.image_count,
            step=event.step,
            steps=event.steps,
            left=left,
        )
        progress(event.fraction, desc=line)
        preview = gr.update(value=event.preview) if event.preview else gr.skip()
        yield gr.skip(), line, preview, gr.skip(), gr.skip()
    return None


def result_update(result: ImageResult, request: gr.Request | None) -> tuple:
    """The last update: the gallery, the seeds used, the preview hidden, the notes."""
    items = [(str(image.path), image.params.prompt[:80]) for image in result.images]
    if result.cancelled:
        gr.Info(tr("image.cancelled", request))
    last_seed = result.seeds[-1] if result.seeds else gr.skip()
    notes = "\n".join(f"- {note}" for note in result.notes)
    summary = tr(
        "image.done",
        request,
        count=len(result.images),
        seconds=f"{result.seconds:.1f}",
        seeds=", ".join(str(seed) for seed in result.seeds) or "-",
    )
    return items, summary, gr.update(visible=False, value=None), notes, last_seed


def cancel_generation(ctx: AppContext, client_id: str | None = None, request: gr.Request = None):
    """Stop this page's running generation between two steps (the Cancel button).

    Says so in a toast, not in the status line: this reply can reach the page after
    the run's own last update (its summary with the seeds), and would replace it.
    """
    gr.Info(cancel_message(request))


def cancel_message(request: gr.Request | None) -> str:
    """Stop this page's running generation; what the Cancel button tells the user."""
    stopped = STOPS.stop(session_key(request))
    return tr("image.cancelling" if stopped else "image.nothing_running", request)


def model_settings(ctx: AppContext, name: str) -> list:
    """The settings a newly picked model starts with, and the samplers it offers."""
    values = model_defaults(ctx.registry, name)
    samplers = schedulers.choices_for_entry(ctx.registry.entry(name), ctx.registry.config.base_dir)
    return [
        gr.update(value=values["width"]),
        gr.update(value=values["height"]),
        gr.update(value=values["steps"]),
        gr.update(value=values["guidance"]),
        gr.update(choices=samplers, value=values["scheduler"]),
    ]


def reuse_seed(last_seed: int | None) -> int:
    """The seed of the last image made, or -1 (random) before there is one."""
    return -1 if last_seed is None else last_seed


def random_seed() -> int:
    return -1


def image_history(ctx: AppContext, client_id: str | None = None, request: gr.Request = None):
    """The sender's earlier images: gallery items and their paths."""
    items = list_history(user_dir(ctx.data_dir, owner_of(request, client_id), "images"))
    return [(str(item.path), item.caption) for item in items], [str(item.path) for item in items]
