"""Text to image: validate a request, run the pipeline, report progress, save PNGs.

``generate`` runs in the caller's thread and calls ``on_progress`` after each
denoising step; ``generate_stream`` runs it in a worker thread and yields the
progress events, then the result, so a UI can show them. Setting ``cancel``
(a ``threading.Event``) stops between two steps; the images finished by then
are kept. Every image has its own seed (``seed``, ``seed+1``, ... for a batch),
so each one can be made again from its PNG alone.

The request, its defaults and checks live in ``playground.image.request``
(re-exported here).
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import CancelledError, OutOfMemoryError, PlaygroundError
from playground.image import schedulers
from playground.image.embeddings import condition
from playground.image.history import save_image
from playground.image.params import ImageParams
from playground.image.request import (
    MAX_SEED,
    ImageRequest,
    check_size,
    describe_estimate,
    estimate_seconds,
    model_defaults,
    multiple_from_files,
    resolve,
    size_multiple,
)

log = logging.getLogger(__name__)

# Rough SD 1.x/2.x latent -> RGB projection, good enough for a live preview.
LATENT_RGB = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
]


@dataclass
class StepProgress:
    """One denoising step done."""

    image_index: int  # 0-based
    image_count: int
    step: int  # steps done, 1..steps
    steps: int
    seconds_left: float | None = None
    preview: Any = None  # a small PIL image, when previews are on

    @property
    def fraction(self) -> float:
        return (self.image_index + self.step / self.steps) / self.image_count


@dataclass
class GeneratedImage:
    image: Any
    params: ImageParams
    path: Path | None = None
    flagged: bool = False  # blacked out by the model's safety checker


@dataclass
class ImageResult:
    images: list[GeneratedImage]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def seeds(self) -> list[int]:
        return [g.params.seed for g in self.images]


class _Stop(Exception):
    """Raised inside the step callback to leave the pipeline between two steps."""


# ---------------------------------------------------------------- generation


def generate(
    registry: Any,
    request: ImageRequest,
    *,
    out_dir: str | Path | None = None,
    on_progress: Callable[[StepProgress], None] | None = None,
    cancel: threading.Event | None = None,
    preview_every: int = 0,
) -> ImageResult:
    """Make ``request.batch_count`` images; save them as PNGs in ``out_dir`` when given."""
    request = resolve(registry, request)
    # Catch a bad size before a long first load when the model's files say enough.
    multiple = multiple_from_files(registry.entry(request.model), registry.config.base_dir)
    if multiple:
        check_size(None, request.width, request.height, request.model, multiple)
    with registry.use(request.model) as model, model.lock:
        return _run(model, request, out_dir, on_progress, cancel, preview_every)


def _run(model, request, out_dir, on_progress, cancel, preview_every) -> ImageResult:
    import torch

    pipe = model.pipe
    check_size(pipe, request.width, request.height, model.name)
    scheduler = schedulers.make(pipe, request.scheduler, model.name)
    sampler = schedulers.name_of(scheduler)
    accepted = inspect.signature(pipe.__call__).parameters
    start = time.perf_counter()
    result = ImageResult(images=[])
    with torch.no_grad():
        cond = condition(pipe, request.prompt, request.negative_prompt)
    result.notes += cond.notes
    call = {k: v for k, v in cond.kwargs.items() if k in accepted}
    if request.negative_prompt and not any(k.startswith("negative") for k in call):
        result.notes.append(f"{type(pipe).__name__} has no negative prompt; it was not used.")
    if request.negative_prompt and request.guidance <= 1 and "negative_prompt" in accepted:
        result.notes.append(
            "The negative prompt has no effect when guidance (CFG scale) is 1 or less."
        )
    if model.memory_savers:
        result.notes.append(f"Memory savers on: {', '.join(model.memory_savers)}.")
    original = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        for index in range(request.batch_count):
            seed = (request.seed + index) % (MAX_SEED + 1)
            tracker = _StepTracker(index, request, on_progress, cancel, preview_every)
            try:
                output = _call(pipe, call, accepted, request, seed, tracker)
            except _Stop:
                result.cancelled = True
                result.notes.append(
                    f"Cancelled at step {tracker.step} of {request.steps} "
                    f"(image {index + 1} of {request.batch_count}); finished images are kept."
                )
                break
            _measure(model, tracker, request)
            params = ImageParams(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt,
                steps=request.steps,
                sampler=sampler,
                guidance=request.guidance,
                seed=seed,
                width=request.width,
                height=request.height,
                model=model.name,
            )
            flagged = _flagged(output, 0)
            image = output.images[0]
            path = save_image(out_dir, image, params) if out_dir is not None else None
            result.images.append(GeneratedImage(image, params, path, flagged))
            if flagged:
                result.notes.append(
                    f"Image {index + 1} (seed {seed}) was blacked out by the model's safety checker."
                )
    finally:
        pipe.scheduler = original
    result.seconds = time.perf_counter() - start
    return result


def _call(pipe, call, accepted, request, seed, tracker):
    import torch

    kwargs = dict(call)
    kwargs.update(
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        width=request.width,
        height=request.height,
        generator=torch.Generator(device="cpu").manual_seed(seed),
        num_images_per_prompt=1,
    )
    if "callback_on_step_end" in accepted:
        kwargs["callback_on_step_end"] = tracker
        kwargs["callback_on_step_end_tensor_inputs"] = ["latents"]
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    try:
        return pipe(**kwargs)
    except _Stop:
        raise
    except torch.cuda.OutOfMemoryError as exc:
        raise OutOfMemoryError(
            f"the GPU ran out of memory making a {request.width}x{request.height} image ({exc}). "
            "Use a smaller size, unload other models in the Models tab, or set "
            "options.memory_savers: [attention_slicing, vae_tiling] (or cpu_offload) for this "
            "model in the models file.",
            key="errors.image.out_of_memory",
            width=request.width,
            height=request.height,
            detail=str(exc),
        ) from None


def _flagged(output: Any, index: int) -> bool:
    flags = getattr(output, "nsfw_content_detected", None)
    return bool(flags and index < len(flags) and flags[index])


def _measure(model: Any, tracker: _StepTracker, request: ImageRequest) -> None:
    seconds = time.perf_counter() - tracker.started
    rate = seconds / request.steps / (request.width * request.height / 1e6)
    old = model.seconds_per_step_mp
    model.seconds_per_step_mp = rate if old is None else 0.5 * old + 0.5 * rate


class _StepTracker:
    """The ``callback_on_step_end``: progress, previews, and cancel between steps."""

    def __init__(self, index, request, on_progress, cancel, preview_every):
        self.index, self.request = index, request
        self.on_progress, self.cancel = on_progress, cancel
        self.preview_every = preview_every
        self.started = time.perf_counter()
        self.step = 0

    def __call__(self, pipe, step_index, timestep, callback_kwargs):
        self.step = step_index + 1
        steps = self.request.steps
        if self.on_progress is not None:
            elapsed = time.perf_counter() - self.started
            left_here = elapsed / self.step * (steps - self.step)
            later = (self.request.batch_count - self.index - 1) * elapsed / self.step * steps
            preview = None
            if self.preview_every and (self.step % self.preview_every == 0) and self.step < steps:
                preview = latent_preview(callback_kwargs.get("latents"))
            self.on_progress(
                StepProgress(
                    self.index,
                    self.request.batch_count,
                    self.step,
                    steps,
                    left_here + later,
                    preview,
                )
            )
        if self.cancel is not None and self.cancel.is_set() and self.step < steps:
            raise _Stop
        return callback_kwargs


def latent_preview(latents: Any) -> Any:
    """A cheap RGB look at 4-channel SD latents (no VAE decode); None for other models."""
    import torch
    from PIL import Image

    if latents is None or latents.ndim != 4 or latents.shape[1] != 4:
        return None
    factors = torch.tensor(LATENT_RGB, dtype=torch.float32)
    rgb = torch.einsum("chw,cr->hwr", latents[0].float().cpu(), factors)
    pixels = ((rgb + 1) / 2).clamp(0, 1).mul(255).byte().numpy()
    return Image.fromarray(pixels).resize((latents.shape[3] * 4, latents.shape[2] * 4))


# ---------------------------------------------------------------- streaming


def generate_stream(
    registry: Any,
    request: ImageRequest,
    *,
    out_dir: str | Path | None = None,
    cancel: threading.Event | None = None,
    preview_every: int = 0,
) -> Iterator[StepProgress | ImageResult]:
    """``generate`` in a worker thread: yields ``StepProgress`` events, then the ``ImageResult``.

    Closing the iterator early (the user left, or the UI cancelled the event)
    cancels the generation between two steps.
    """
    cancel = cancel or threading.Event()
    events: queue.Queue = queue.Queue()
    done = object()

    def work():
        try:
            events.put(
                generate(
                    registry,
                    request,
                    out_dir=out_dir,
                    on_progress=events.put,
                    cancel=cancel,
                    preview_every=preview_every,
                )
            )
        except BaseException as exc:  # handed to the consumer's thread
            events.put(exc)
        finally:
            events.put(done)

    worker = threading.Thread(target=work, name="image-generate", daemon=True)
    worker.start()
    try:
        while True:
            item = events.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if worker.is_alive():
            cancel.set()


__all__ = [
    "CancelledError",
    "GeneratedImage",
    "ImageRequest",
    "ImageResult",
    "PlaygroundError",
    "StepProgress",
    "check_size",
    "describe_estimate",
    "estimate_seconds",
    "generate",
    "generate_stream",
    "model_defaults",
    "multiple_from_files",
    "resolve",
    "size_multiple",
]
