"""ZeroGPU support: borrow a GPU only for the calls that need one.

On Hugging Face ZeroGPU hardware a Space holds no GPU between requests; each
function that needs one is decorated with ``spaces.GPU(duration=...)`` and gets
a GPU for (at most) that many seconds. Everywhere else -- a laptop, a GPU
server, a CPU Space -- everything here is a no-op and the ``spaces`` package
is never imported.

    from playground.zerogpu import by_steps, gpu

    @gpu(duration=60)                                 # a fixed upper bound
    def stream_chat(...): ...

    @gpu(duration=by_steps(per_step=1.5, base=10))    # work that varies
    def generate_image(..., steps=4): ...

Rules of thumb (ZeroGPU's scheduler favours short requests): a duration is an
upper bound, not what is billed; keep it close to the real worst case; load
weights at start-up (``app.py`` preloads the default models there), not inside
a GPU call. Training never runs on ZeroGPU (``training_allowed()``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any, TypeVar

from playground.errors import PlaygroundError

F = TypeVar("F", bound=Callable[..., Any])
Duration = float | int | Callable[..., float]

ENV_FLAG = "SPACES_ZERO_GPU"
MIN_DURATION = 5
MAX_DURATION = 300  # seconds; longer requests are refused by ZeroGPU's scheduler
TRAINING_DISABLED = (
    "Fine-tuning is switched off on ZeroGPU hardware: a ZeroGPU Space gets a GPU only for "
    "short calls (minutes at most), far too little for training, and the run would be cut "
    "off. Train on your own machine (`pip install -e .` then `python app.py` or "
    "`playground finetune ...`), or duplicate this Space onto dedicated GPU hardware "
    "(for example T4 small or A10G) in its Settings; the trained adapter can then be "
    "loaded here as a chat model."
)


class TrainingDisabledError(PlaygroundError):
    """Training was asked for where it cannot run (ZeroGPU)."""


def on_zerogpu() -> bool:
    """True on ZeroGPU hardware: ``SPACES_ZERO_GPU`` is set and ``spaces`` is installed."""
    flag = os.environ.get(ENV_FLAG, "").strip().lower()
    if flag not in ("1", "true", "yes", "on"):
        return False
    return importlib.util.find_spec("spaces") is not None


def setup() -> bool:
    """Call once at start-up, before anything imports torch; True on ZeroGPU.

    ``spaces`` has to be imported before CUDA is touched so that it can hand
    the GPU out per call.
    """
    if not on_zerogpu():
        return False
    importlib.import_module("spaces")
    return True


def gpu(fn: F | None = None, *, duration: Duration = 60) -> Any:
    """Wrap a GPU-bound function with ``spaces.GPU`` on ZeroGPU; return it unchanged elsewhere.

    Use as ``@gpu``, ``@gpu(duration=120)`` or ``@gpu(duration=callable)``;
    a callable receives the function's own arguments and returns seconds
    (clamped to ``MIN_DURATION``..``MAX_DURATION``). Works for plain functions
    and generators (streaming). Decide at decoration time, which happens when
    the engine module is imported at start-up, as ZeroGPU expects.
    """

    def decorate(func: F) -> F:
        if not on_zerogpu():
            return func
        spaces = importlib.import_module("spaces")
        wrapped = spaces.GPU(duration=_clamped(duration))(func)
        with contextlib.suppress(AttributeError):  # a wrapper type without a __dict__
            wrapped.zerogpu_duration = duration  # type: ignore[attr-defined]
        return wrapped

    return decorate(fn) if fn is not None else decorate


def by_steps(
    per_step: float, *, base: float = 10.0, key: str = "steps", default_steps: int = 30
) -> Callable[..., float]:
    """A duration callable: ``base + steps * per_step`` seconds.

    ``steps`` is read from the call's keyword argument ``key``, or from an
    argument with an attribute of that name (a settings dataclass); else
    ``default_steps``.
    """

    def duration(*args: Any, **kwargs: Any) -> float:
        steps = _find(key, args, kwargs)
        try:
            count = int(steps) if steps is not None else default_steps
        except (TypeError, ValueError):
            count = default_steps
        return base + max(count, 1) * per_step

    duration.__name__ = f"duration_by_{key}"
    return duration


def by_tokens(
    per_token: float, *, base: float = 5.0, key: str = "max_new_tokens", default_tokens: int = 512
) -> Callable[..., float]:
    """A duration callable for generation: ``base + max_new_tokens * per_token`` seconds."""
    return by_steps(per_token, base=base, key=key, default_steps=default_tokens)


def by_text_length(
    per_char: float, *, base: float = 10.0, key: str = "text", default_chars: int = 200
) -> Callable[..., float]:
    """A duration callable for speech: ``base + len(text) * per_char`` seconds.

    ``text`` is the keyword argument ``key``, else the longest string argument.
    """

    def duration(*args: Any, **kwargs: Any) -> float:
        text = kwargs.get(key)
        if not isinstance(text, str):
            strings = [a for a in list(args) + list(kwargs.values()) if isinstance(a, str)]
            text = max(strings, key=len) if strings else None
        return base + (len(text) if text is not None else default_chars) * per_char

    duration.__name__ = f"duration_by_len_{key}"
    return duration


def training_allowed() -> bool:
    """False on ZeroGPU, where a training run would be cut off; see ``TRAINING_DISABLED``."""
    return not on_zerogpu()


def check_training_allowed() -> None:
    """Raise ``TrainingDisabledError`` (with what to do instead) where training cannot run."""
    if not training_allowed():
        raise TrainingDisabledError(TRAINING_DISABLED)


def _clamped(duration: Duration) -> Duration:
    if not callable(duration):
        return int(min(max(float(duration), MIN_DURATION), MAX_DURATION))

    @functools.wraps(duration)
    def clamp(*args: Any, **kwargs: Any) -> int:
        return int(min(max(float(duration(*args, **kwargs)), MIN_DURATION), MAX_DURATION))

    return clamp


def _find(key: str, args: tuple, kwargs: dict) -> Any:
    if key in kwargs and kwargs[key] is not None:
        return kwargs[key]
    for value in list(kwargs.values()) + list(args):
        found = getattr(value, key, None)
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            return found
    return None
