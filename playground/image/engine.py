"""Text to image: validate a request, run the pipeline, report progress, save PNGs.

``generate`` runs in the caller's thread and calls ``on_progress`` after each
denoising step; ``generate_stream`` runs it in a worker thread and yields the
progress events, then the result, so a UI can show them. Setting ``cancel``
(a ``threading.Event``) stops between two steps; the images finished by then
are kept. Every image has its own seed (``seed``, ``seed+1``, ... for a batch),
so each one can be made again from its PNG alone.
"""

from __future__ import annotations

import inspect
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import CancelledError, InputError, OutOfMemoryError, PlaygroundError
from playground.image import schedulers
from playground.image.embeddings import condition
from playground.image.history import save_image
from playground.image.params import ImageParams

log = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1
MAX_STEPS = 150
MAX_BATCH = 16
MIN_SIDE, MAX_SIDE = 64, 2048
# Rough SD 1.x/2.x latent -> RGB projection, good enough for a live preview.
LATENT_RGB = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
]


@dataclass
class ImageRequest:
    """What the user asked for; ``None`` means the model's default from models.yaml."""

    model: str
    prompt: str
    negative_prompt: str = ""
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    scheduler: str = schedulers.DEFAULT
    seed: int | None = None  # None or -1: a random seed (always reported)
    batch_count: int = 1


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


# ---------------------------------------------------------------- defaults & checks


def model_defaults(registry: Any, name: str) -> dict[str, Any]:
    """The starting values for a model, from its models.yaml options (no loading)."""
    options = registry.entry(name).options
    return {
        "steps": int(options.get("default_steps", 20)),
        "guidance": float(options.get("default_guidance", 7.0)),
        "width": int(options.get("width", 512)),
        "height": int(options.get("height", 512)),
        "scheduler": str(options.get("default_scheduler", schedulers.DEFAULT)),
    }


def resolve(registry: Any, request: ImageRequest) -> ImageRequest:
    """Fill in the defaults and check every value that does not need the model."""
    defaults = model_defaults(registry, request.model)
    if registry.entry(request.model).task != "text-to-image":
        raise InputError(f"'{request.model}' is not a text-to-image model.")
    if not request.prompt or not request.prompt.strip():
        raise InputError("the prompt is empty: describe the image you want (or use the assistant).")
    steps = defaults["steps"] if request.steps is None else request.steps
    guidance = defaults["guidance"] if request.guidance is None else request.guidance
    width = defaults["width"] if request.width is None else request.width
    height = defaults["height"] if request.height is None else request.height
    if int(steps) != steps or not 1 <= steps <= MAX_STEPS:
        raise InputError(f"steps must be a whole number from 1 to {MAX_STEPS}, not {steps}.")
    if not 0 <= guidance <= 30:
        raise InputError(f"guidance (CFG scale) must be between 0 and 30, not {guidance}.")
    for label, value in (("width", width), ("height", height)):
        if int(value) != value or not MIN_SIDE <= value <= MAX_SIDE:
            raise InputError(
                f"{label} must be a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}, not {value}."
            )
    if int(request.batch_count) != request.batch_count or not 1 <= request.batch_count <= MAX_BATCH:
        raise InputError(f"batch count must be from 1 to {MAX_BATCH}, not {request.batch_count}.")
    seed = request.seed
    if seed is None or seed == -1:
        seed = secrets.randbelow(MAX_SEED + 1)
    if int(seed) != seed or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed must be a whole number from 0 to {MAX_SEED} (or empty for random).")
    scheduler = request.scheduler or defaults["scheduler"]
    if scheduler not in schedulers.all_names() and not scheduler.endswith("Scheduler"):
        raise InputError(
            f"unknown scheduler '{scheduler}'. Choose one of: {', '.join(schedulers.all_names())}."
        )
    return ImageRequest(
        model=request.model,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt or "",
        steps=int(steps),
        guidance=float(guidance),
        width=int(width),
        height=int(height),
        scheduler=scheduler,
        seed=int(seed),
        batch_count=int(request.batch_count),
    )


def size_multiple(pipe: Any) -> int:
    """Width and height must be multiples of this (VAE factor, times the patch size for DiTs)."""
    factor = int(getattr(pipe, "vae_scale_factor", 8) or 8)
    transformer = getattr(pipe, "transformer", None)
    if transformer is not None:
        factor *= int(getattr(transformer.config, "patch_size", 1) or 1)
    return factor


_MULTIPLES: dict[tuple[str, str, str], int] = {}


def multiple_from_files(entry: Any, base_dir: Any = None) -> int | None:
    """The size multiple read from a model's VAE config on disk (None: not on disk yet)."""
    key = (entry.name, str(entry.source), str(entry.revision))
    if key not in _MULTIPLES:
        found = _read_multiple(entry, base_dir)
        if found is None:
            return None  # look again next time: the files may have arrived
        _MULTIPLES[key] = found
    return _MULTIPLES[key]


def _read_multiple(entry: Any, base_dir: Any = None) -> int | None:
    import json

    from playground.loaders.hub import cached_snapshot

    folder = entry.local_path(base_dir) or cached_snapshot(entry)
    config = folder / "vae" / "config.json" if folder is not None else None
    if config is None or not config.exists() or (folder / "transformer").exists():
        return None
    try:
        channels = json.loads(config.read_text(encoding="utf-8")).get("block_out_channels")
    except (ValueError, OSError):
        return None
    return 2 ** (len(channels) - 1) if channels else None


def check_size(pipe: Any, width: int, height: int, model: str, multiple: int | None = None) -> None:
    multiple = multiple or size_multiple(pipe)
    for label, value in (("width", width), ("height", height)):
        if value % multiple:
            low = value - value % multiple
            raise InputError(
                f"{label} {value} is not a multiple of {multiple}, which {model} needs. "
                f"Use {max(low, multiple)} or {low + multiple}."
            )


# ---------------------------------------------------------------- estimates


def estimate_seconds(
    model: Any, steps: int, width: int, height: int, count: int = 1
) -> float | None:
    """Seconds a request will take, from the speed measured on earlier images (None: unknown)."""
    rate = getattr(model, "seconds_per_step_mp", None)
    if rate is None:
        return None
    return rate * steps * (width * height / 1e6) * count


def describe_estimate(registry: Any, request: ImageRequest) -> str | None:
    """A sentence for the UI when the model runs on the CPU (or its speed is known)."""
    if not registry.is_loaded(request.model):
        from playground.device import resolve_device

        entry = registry.entry(request.model)
        if resolve_device(registry.config.resolve_device(entry)) == "cpu":
            return (
                "Runs on the CPU: expect minutes per image at 512x512. After the first step "
                "the progress line shows the time left."
            )
        return None
    model = registry.get(request.model)
    seconds = estimate_seconds(
        model, request.steps or 1, request.width or 512, request.height or 512, request.batch_count
    )
    on_cpu = str(model.device).startswith("cpu")
    if seconds is None:
        return "Running on the CPU: slow. The first image measures the speed." if on_cpu else None
    where = "on the CPU" if on_cpu else f"on {model.device}"
    return f"Expected time {where}: about {seconds:.0f} s."


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
            "model in the models file."
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
    "generate",
    "generate_stream",
    "model_defaults",
    "resolve",
]
