"""Text-to-image pipelines (diffusers), with memory savers chosen for the device.

Options an entry may set (``options:`` in models.yaml):

- ``pipeline_class``: a diffusers class name (default ``AutoPipelineForText2Image``).
- ``safety_checker``: ``false`` drops the model's safety checker (where it has
  one); ``true`` (the default) keeps it.
- ``memory_savers``: ``auto`` (default), ``none``, or a list of
  ``attention_slicing``, ``vae_tiling``, ``cpu_offload``.
- ``default_steps``, ``default_guidance``, ``width``, ``height``,
  ``default_scheduler``: the tab's and CLI's starting values.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from playground.config import ModelEntry
from playground.device import format_bytes, resolve_dtype
from playground.errors import ConfigError
from playground.loaders import loader
from playground.loaders.hub import local_source

log = logging.getLogger(__name__)

SAVERS = ("attention_slicing", "vae_tiling", "cpu_offload")
# Working memory a 512x512 (1024x1024 for SDXL-class) generation needs beyond the weights.
ACTIVATION_BYTES = 2.5e9
ACTIVATION_BYTES_LARGE = 5e9


@dataclass
class ImageModel:
    """A loaded text-to-image pipeline, ready for ``playground.image``."""

    name: str
    pipe: Any
    device: str
    dtype: str
    entry: ModelEntry
    memory_savers: list[str] = field(default_factory=list)
    # Measured speed, for time estimates: seconds per step per megapixel.
    seconds_per_step_mp: float | None = None
    # A pipeline keeps per-call state, so one generation at a time per pipeline.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def has_safety_checker(self) -> bool:
        return getattr(self.pipe, "safety_checker", None) is not None

    def close(self) -> None:
        self.pipe = None


@loader("text-to-image")
def load(entry: ModelEntry, ctx) -> ImageModel:
    import diffusers

    cls_name = entry.options.get("pipeline_class", "AutoPipelineForText2Image")
    cls = getattr(diffusers, cls_name, None)
    if cls is None:
        raise ConfigError(
            f"'{entry.name}': options.pipeline_class '{cls_name}' is not a diffusers class. "
            "Use AutoPipelineForText2Image or a class name from the diffusers docs "
            "(for example StableDiffusionPipeline, StableDiffusionXLPipeline).",
            key="errors.loader.bad_pipeline_class",
            name=entry.name,
            pipeline_class=str(cls_name),
        )
    dtype = resolve_dtype(ctx.dtype, ctx.device)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if entry.options.get("safety_checker", True) is False:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    pipe = cls.from_pretrained(local_source(entry, ctx.base_dir), **kwargs)
    pipe.set_progress_bar_config(disable=True)
    savers = choose_memory_savers(entry, pipe, ctx.device, free_bytes=_room(ctx))
    apply_memory_savers(pipe, savers, ctx.device)
    if savers:
        log.info("%s: memory savers on: %s", entry.name, ", ".join(savers))
    return ImageModel(
        name=entry.name,
        pipe=pipe,
        device=ctx.device,
        dtype=str(dtype).removeprefix("torch."),
        entry=entry,
        memory_savers=savers,
    )


def _room(ctx) -> int | None:
    """GPU memory this model may use: free memory, capped by what the budget leaves."""
    if not ctx.device.startswith("cuda"):
        return None
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(ctx.device))
    registry = getattr(ctx, "registry", None)
    if registry is not None:
        # This device's budget against what is loaded on this device (not on every device).
        left = registry.budget_bytes(ctx.device) - registry.used_bytes(ctx.device)
        free = min(free, max(left, 0))
    return int(free)


def pipeline_bytes(pipe: Any) -> int:
    from playground.device import module_bytes

    return module_bytes(pipe)


def choose_memory_savers(
    entry: ModelEntry, pipe: Any, device: str, *, free_bytes: int | None = None
) -> list[str]:
    """Which savers to turn on: from the entry, or by comparing needs with free GPU memory.

    ``free_bytes`` is the room left on the GPU (free memory, capped by the
    registry's memory budget). Weights that do not fit next to the working
    memory -> CPU offload (with VAE tiling); weights that fit but leave little
    room -> attention slicing and VAE tiling. On the CPU and Apple GPUs nothing
    is switched on.
    """
    wanted = entry.options.get("memory_savers", "auto")
    if wanted == "none" or wanted == []:
        return []
    if wanted != "auto":
        items = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = [s for s in items if s not in SAVERS]
        if unknown:
            raise ConfigError(
                f"'{entry.name}': options.memory_savers has unknown value(s) {unknown}. "
                f"Allowed: auto, none, or a list of {', '.join(SAVERS)}.",
                key="errors.loader.bad_memory_savers",
                name=entry.name,
                unknown=str(unknown),
                allowed=", ".join(SAVERS),
            )
        return items
    if not device.startswith("cuda"):
        return []
    if free_bytes is None:
        import torch

        free_bytes, _ = torch.cuda.mem_get_info(torch.device(device))
    weights = pipeline_bytes(pipe)
    large = "xl" in type(pipe).__name__.lower() or weights > 5e9
    working = ACTIVATION_BYTES_LARGE if large else ACTIVATION_BYTES
    log.info(
        "%s: weights %s, free GPU memory %s",
        entry.name,
        format_bytes(weights),
        format_bytes(free_bytes),
    )
    if weights + working * 0.5 > free_bytes:
        return ["cpu_offload", "vae_tiling"]
    if weights + working > free_bytes:
        return ["attention_slicing", "vae_tiling"]
    return []


def apply_memory_savers(pipe: Any, savers: list[str], device: str) -> None:
    """Switch the savers on (each only where the pipeline supports it), then place the pipe."""
    if "attention_slicing" in savers and hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing()
    if "vae_tiling" in savers:
        vae = getattr(pipe, "vae", None)
        if vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
    if "cpu_offload" in savers and device.startswith("cuda"):
        # Offload moves each sub-model to the GPU only while it runs.
        pipe.enable_model_cpu_offload(device=device)
        return
    pipe.to(device)
