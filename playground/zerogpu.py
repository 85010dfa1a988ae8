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
import inspect
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
    spaces = importlib.import_module("spaces")
    # Gradio would otherwise wrap *every* event (listing files too) in a default
    # GPU request; ``wrap_heavy_events`` wraps only the model-bound ones, each
    # with a fitting duration.
    disable = getattr(spaces, "disable_gradio_auto_wrap", None)
    if callable(disable):
        disable()
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
        wrapped = spaces.GPU(duration=_clamped(_bound(func, duration)))(func)
        with contextlib.suppress(AttributeError):  # a wrapper type without a __dict__
            wrapped.zerogpu_duration = duration  # type: ignore[attr-defined]
        return wrapped

    return decorate(fn) if fn is not None else decorate


def by_steps(
    per_step: float,
    *,
    base: float = 10.0,
    key: str = "steps",
    default_steps: int = 30,
    times: str | None = None,
) -> Callable[..., float]:
    """A duration callable: ``base + steps * per_step`` seconds (``* times`` if given).

    ``steps`` is the call's argument named ``key`` (positional arguments are
    matched to the function's parameter names), or an attribute of that name
    on an argument (a settings dataclass); else ``default_steps``. ``times``
    names a multiplier argument, such as a batch count.
    """

    def duration(*args: Any, **kwargs: Any) -> float:
        count = _number(_find(key, args, kwargs), default_steps)
        factor = _number(_find(times, args, kwargs), 1) if times else 1
        return base + max(count, 1) * max(factor, 1) * per_step

    duration.__name__ = f"duration_by_{key}"
    duration.named_args = True  # type: ignore[attr-defined]
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
    duration.named_args = True  # type: ignore[attr-defined]
    return duration


# How long each model-bound event of the app may hold a ZeroGPU, by api_name
# (seconds, or a callable of the event handler's arguments). Generous upper
# bounds for the default models on ZeroGPU's H200 slices; only real use is billed.
EVENT_DURATIONS: dict[str, Duration] = {
    "chat": by_tokens(0.05, base=15),
    "chat_regenerate": by_tokens(0.05, base=15),
    "rag_index": 180,
    "rag_search": 30,
    "rag_ask": by_tokens(0.05, base=20),
    "image_generate": by_steps(1.0, base=15, times="batch_count"),
    "image_prompt_assistant": 60,
    "voice_check": 60,
    "voice_clone": by_text_length(0.2, base=30),
    "voice_speak": by_text_length(0.2, base=30),
}
# Loading belongs outside GPU calls on ZeroGPU (weights are placed at start-up).
NOT_ON_GPU = {"models_load", "models_unload", "models_unload_all", "models_status"}


def wrap_heavy_events(
    demo: Any,
    durations: dict[str, Duration] | None = None,
    *,
    default: Duration = 120,
    concurrency_id: str = "heavy",
) -> list[str]:
    """On ZeroGPU, wrap every model-bound event handler of a built Blocks with ``spaces.GPU``.

    Events are found by their ``concurrency_id`` (``**ctx.heavy``); each gets
    the duration listed for its ``api_name`` (an unnamed twin -- the same
    function bound to Enter -- gets its named sibling's). Returns the wrapped
    events' names; a no-op returning ``[]`` elsewhere.
    """
    if not on_zerogpu():
        return []
    durations = {**EVENT_DURATIONS, **(durations or {})}
    fns = list(getattr(demo, "fns", {}).values())
    by_fn: dict[int, str] = {}  # a function's public name; private twins get an automatic one
    for f in fns:
        if f.fn is not None and f.api_name and getattr(f, "api_visibility", "public") == "public":
            by_fn.setdefault(id(f.fn), f.api_name)
    wrapped = []
    for block_fn in fns:
        fn = block_fn.fn
        if fn is None or block_fn.concurrency_id != concurrency_id:
            continue
        if getattr(fn, "zerogpu_duration", None) is not None:
            continue  # already wrapped (a twin sharing the function object)
        name = by_fn.get(id(fn)) or block_fn.api_name or getattr(fn, "__name__", "fn")
        if name in NOT_ON_GPU:
            continue
        block_fn.fn = gpu(duration=durations.get(name, default))(fn)
        wrapped.append(name)
    return wrapped


def training_allowed() -> bool:
    """False on ZeroGPU, where a training run would be cut off; see ``TRAINING_DISABLED``."""
    return not on_zerogpu()


def check_training_allowed() -> None:
    """Raise ``TrainingDisabledError`` (with what to do instead) where training cannot run."""
    if not training_allowed():
        raise TrainingDisabledError(TRAINING_DISABLED, key="errors.zerogpu.training_disabled")


def _clamped(duration: Duration) -> Duration:
    if not callable(duration):
        return int(min(max(float(duration), MIN_DURATION), MAX_DURATION))

    @functools.wraps(duration)
    def clamp(*args: Any, **kwargs: Any) -> int:
        return int(min(max(float(duration(*args, **kwargs)), MIN_DURATION), MAX_DURATION))

    return clamp


def _bound(func: Callable[..., Any], duration: Duration) -> Duration:
    """Let our duration helpers see positional arguments under their parameter names."""
    if not getattr(duration, "named_args", False):
        return duration
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return duration

    def named(*args: Any, **kwargs: Any) -> float:
        try:
            bound = signature.bind_partial(*args, **kwargs).arguments
        except TypeError:
            return duration(*args, **kwargs)
        flat = dict(bound)
        for extra in ("args", "kwargs"):  # *args / **kwargs parameters
            value = flat.pop(extra, None)
            if isinstance(value, dict):
                flat.update(value)
        return duration(**flat)

    return named


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError):
        return default


def _find(key: str | None, args: tuple, kwargs: dict) -> Any:
    if key is None:
        return None
    if key in kwargs and kwargs[key] is not None:
        return kwargs[key]
    for value in list(kwargs.values()) + list(args):
        found = getattr(value, key, None)
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            return found
    return None
