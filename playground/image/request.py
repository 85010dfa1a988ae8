"""An image request: what the user asked for, the model's defaults, the checks, the estimate.

``resolve`` fills in the model's defaults from models.yaml and checks every
value that does not need the model loaded; ``check_size`` checks the size
against the pipeline (or the model's files on disk). ``describe_estimate``
tells the user how long a request will take. The generation itself is in
``playground.image.engine``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from playground.errors import InputError
from playground.image import schedulers

MAX_SEED = 2**32 - 1
MAX_STEPS = 150
MAX_BATCH = 16
MIN_SIDE, MAX_SIDE = 64, 2048


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
        raise InputError(
            f"'{request.model}' is not a text-to-image model.",
            key="errors.image.not_text_to_image",
            model=request.model,
        )
    if not request.prompt or not request.prompt.strip():
        raise InputError(
            "the prompt is empty: describe the image you want (or use the assistant).",
            key="errors.image.empty_prompt",
        )
    steps = defaults["steps"] if request.steps is None else request.steps
    guidance = defaults["guidance"] if request.guidance is None else request.guidance
    width = defaults["width"] if request.width is None else request.width
    height = defaults["height"] if request.height is None else request.height
    _check_ranges(steps, guidance, width, height, request.batch_count)
    seed = request.seed
    if seed is None or seed == -1:
        seed = secrets.randbelow(MAX_SEED + 1)
    if int(seed) != seed or not 0 <= seed <= MAX_SEED:
        raise InputError(
            f"seed must be a whole number from 0 to {MAX_SEED} (or empty for random).",
            key="errors.image.bad_seed",
            most=MAX_SEED,
        )
    scheduler = request.scheduler or defaults["scheduler"]
    if scheduler not in schedulers.all_names() and not scheduler.endswith("Scheduler"):
        raise InputError(
            f"unknown scheduler '{scheduler}'. Choose one of: {', '.join(schedulers.all_names())}.",
            key="errors.image.unknown_scheduler",
            scheduler=scheduler,
            choices=", ".join(schedulers.all_names()),
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


def _check_ranges(steps: Any, guidance: Any, width: Any, height: Any, batch_count: Any) -> None:
    """Raise ``InputError`` for the first of these values that is out of its range."""
    if int(steps) != steps or not 1 <= steps <= MAX_STEPS:
        raise InputError(
            f"steps must be a whole number from 1 to {MAX_STEPS}, not {steps}.",
            key="errors.image.bad_steps",
            most=MAX_STEPS,
            got=steps,
        )
    if not 0 <= guidance <= 30:
        raise InputError(
            f"guidance (CFG scale) must be between 0 and 30, not {guidance}.",
            key="errors.image.bad_guidance",
            got=guidance,
        )
    for label, value in (("width", width), ("height", height)):
        if int(value) != value or not MIN_SIDE <= value <= MAX_SIDE:
            raise InputError(
                f"{label} must be a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}, not {value}.",
                key="errors.image.bad_side",
                label=label,
                least=MIN_SIDE,
                most=MAX_SIDE,
                got=value,
            )
    if int(batch_count) != batch_count or not 1 <= batch_count <= MAX_BATCH:
        raise InputError(
            f"batch count must be from 1 to {MAX_BATCH}, not {batch_count}.",
            key="errors.image.bad_batch_count",
            most=MAX_BATCH,
            got=batch_count,
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
                f"Use {max(low, multiple)} or {low + multiple}.",
                key="errors.image.size_not_multiple",
                label=label,
                value=value,
                multiple=multiple,
                model=model,
                lower=max(low, multiple),
                higher=low + multiple,
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
