"""Text-to-image pipelines (diffusers)."""

from __future__ import annotations

from playground.config import ModelEntry
from playground.device import resolve_dtype
from playground.loaders.hub import local_source


def load(entry: ModelEntry, ctx):
    import diffusers

    cls_name = entry.options.get("pipeline_class", "AutoPipelineForText2Image")
    cls = getattr(diffusers, cls_name)
    kwargs = {"dtype": resolve_dtype(ctx.dtype, ctx.device)}
    if entry.options.get("safety_checker") is False:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    pipe = cls.from_pretrained(local_source(entry, ctx.base_dir), **kwargs)
    pipe.to(ctx.device)
    pipe.set_progress_bar_config(disable=True)
    return pipe
