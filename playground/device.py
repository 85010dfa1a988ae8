"""Device, dtype and memory helpers. torch is imported only when called."""

from __future__ import annotations

import gc
import os
from typing import Any


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> Any:
    """``auto`` is bf16 (or fp16) on a GPU, fp32 on the CPU."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def total_memory_bytes(device: str) -> int:
    """Memory of the device a model would live on (GPU memory, or system RAM)."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        return int(torch.cuda.get_device_properties(index).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def cuda_allocated(device: str) -> int | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return int(torch.cuda.memory_allocated(device))


def module_bytes(obj: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """Parameter + buffer bytes of every torch module reachable from ``obj``.

    Looks inside plain objects, dicts, lists and diffusers pipelines (their
    ``components``), at most three levels deep, counting each tensor once.
    """
    if _seen is None:
        _seen = set()
    if obj is None or _depth > 3 or id(obj) in _seen:
        return 0
    _seen.add(id(obj))
    import torch

    if isinstance(obj, torch.nn.Module):
        total = 0
        for tensor in list(obj.parameters()) + list(obj.buffers()):
            if id(tensor) not in _seen:
                _seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
        return total
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        children = list(obj)
    elif hasattr(obj, "components") and isinstance(obj.components, dict):
        children = list(obj.components.values())
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    else:
        return 0
    return sum(module_bytes(c, _seen, _depth + 1) for c in children)


def free_memory() -> None:
    """Give memory back for real: collect garbage and empty the CUDA cache."""
    gc.collect()
    try:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.ipc_collect()
    except RuntimeError:
        pass


def format_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
