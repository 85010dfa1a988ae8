"""Sampler (scheduler) names as Stable Diffusion users know them, mapped to diffusers classes.

A model can only use the schedulers its pipeline lists as compatible;
``choices(pipe)`` gives those, ``make(pipe, name)`` builds one from the
model's own scheduler config so its training settings (beta schedule,
timestep spacing, prediction type) carry over.
"""

from __future__ import annotations

import inspect
from typing import Any

from playground.errors import InputError

DEFAULT = "default"

# name -> (diffusers class, extra config)
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {"use_karras_sigmas": False}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M SDE": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": False},
    ),
    "DPM++ 2S a": ("DPMSolverSinglestepScheduler", {"use_karras_sigmas": False}),
    "DPM2": ("KDPM2DiscreteScheduler", {"use_karras_sigmas": False}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": False}),
    "Heun": ("HeunDiscreteScheduler", {"use_karras_sigmas": False}),
    "LMS": ("LMSDiscreteScheduler", {"use_karras_sigmas": False}),
    "DDIM": ("DDIMScheduler", {}),
    "PNDM": ("PNDMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {"use_karras_sigmas": False}),
    "DEIS": ("DEISMultistepScheduler", {"use_karras_sigmas": False}),
    "LCM": ("LCMScheduler", {}),
    "Flow Euler": ("FlowMatchEulerDiscreteScheduler", {}),
}


def all_names() -> list[str]:
    return [DEFAULT, *SCHEDULERS]


def _compatible_classes(pipe: Any) -> set[str]:
    current = type(pipe.scheduler)
    names = {c.__name__ for c in getattr(pipe.scheduler, "compatibles", [])}
    names.add(current.__name__)
    return names


def choices(pipe: Any) -> list[str]:
    """``default`` plus the named schedulers this pipeline can use."""
    compatible = _compatible_classes(pipe)
    return [DEFAULT] + [n for n, (cls, _) in SCHEDULERS.items() if cls in compatible]


def name_of(scheduler: Any) -> str:
    """The friendly name of a scheduler object (its class name when not in the table)."""
    cls = type(scheduler).__name__
    config = getattr(scheduler, "config", {})
    for name, (cls_name, extra) in SCHEDULERS.items():
        if cls_name == cls and all(config.get(k, v) == v for k, v in extra.items()):
            return name
    return cls


def make(pipe: Any, name: str, model_name: str = "this model") -> Any:
    """The scheduler called ``name`` for ``pipe`` (the pipe's own for ``default``)."""
    if not name or name == DEFAULT or name == name_of(pipe.scheduler):
        return pipe.scheduler
    compatible = _compatible_classes(pipe)
    if name in SCHEDULERS:
        cls_name, extra = SCHEDULERS[name]
    elif name in compatible:
        cls_name, extra = name, {}
    else:
        raise InputError(
            f"unknown scheduler '{name}'. Choose one of: {', '.join(choices(pipe))}.",
            key="errors.image.unknown_scheduler",
            scheduler=name,
            choices=", ".join(choices(pipe)),
        )
    if cls_name not in compatible:
        raise InputError(
            f"scheduler '{name}' does not work with {model_name}. It can use: "
            f"{', '.join(choices(pipe))}.",
            key="errors.image.scheduler_incompatible",
            scheduler=name,
            model=model_name,
            choices=", ".join(choices(pipe)),
        )
    import diffusers

    cls = getattr(diffusers, cls_name)
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in extra.items() if k in accepted}
    return cls.from_config(pipe.scheduler.config, **kwargs)


def choices_for_entry(entry: Any, base_dir: Any = None) -> list[str]:
    """The schedulers a model can use, read from its files without loading it.

    Falls back to every known name when the model is not on disk yet.
    """
    import json

    from playground.loaders.hub import cached_snapshot

    folder = entry.local_path(base_dir) or cached_snapshot(entry)
    config = folder / "scheduler" / "scheduler_config.json" if folder is not None else None
    if config is None or not config.exists():
        return all_names()
    try:
        class_name = json.loads(config.read_text(encoding="utf-8")).get("_class_name", "")
        import diffusers

        cls = getattr(diffusers, class_name)
    except (ValueError, AttributeError, ImportError, OSError):
        return all_names()
    getter = getattr(cls, "_get_compatibles", None)
    compatible = {c.__name__ for c in getter()} if getter else set()
    compatible.add(cls.__name__)
    return [DEFAULT] + [n for n, (c, _) in SCHEDULERS.items() if c in compatible]
