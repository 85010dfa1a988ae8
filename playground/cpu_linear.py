"""Faster small-batch matrix products for float32 models on a CPU.

A decoding step multiplies a few rows (one per running reply) by every weight
matrix. ``torch.nn.functional.linear`` hands that to the BLAS as
``rows @ weight.T``, and on some CPUs (MKL on AMD EPYC, this project's
machines) that call is two to four times slower for 2-32 rows than the same
product written the other way round, ``(weight @ rows.T).T``. Measured on the
2-core AMD EPYC here, torch 2.13 with MKL 2024.2, Qwen2.5-0.5B's matrices
(``benchmarks/cpu_linear.py`` prints the table):

    rows:                      1      4      8     16
    896 -> 4864 (MLP up)   x0.9   x3.2   x2.5   x2.0   faster
    896 -> 151936 (head)   x1.0   x3.6   x2.7   x2.0   faster

(one run; the shared machine varies by about a third from run to run).
That cliff is what made eight batched replies cost four times one reply's step
instead of under two. ``use_weight_first(model)`` makes every ``nn.Linear`` of
a float32 CPU model take the faster order for up to ``SMALL_ROWS`` rows and the
library call above it (prefill of long prompts, where the library is as fast or
faster). The result is the same product (float rounding aside: the sums run in
another order). ``library_linear(model)`` puts the library call back for a while
(the benchmarks' plain-library baseline).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

SMALL_ROWS = 64  # up to here the weight-first order measured faster on every shape


def weight_first_forward(linear: Any, inputs: Any) -> Any:
    """``linear(inputs)``, computed as ``(weight @ rows.T).T`` when there are few rows."""
    import torch
    import torch.nn.functional as F

    features = inputs.shape[-1]
    rows = inputs.numel() // features if features else 0
    if rows == 0 or rows > SMALL_ROWS or inputs.dtype != linear.weight.dtype:
        return F.linear(inputs, linear.weight, linear.bias)
    flat = inputs.reshape(rows, features)
    if linear.bias is None:
        out = torch.mm(linear.weight, flat.t()).t()
    else:
        out = torch.addmm(linear.bias.unsqueeze(1), linear.weight, flat.t()).t()
    return out.contiguous().view(*inputs.shape[:-1], linear.weight.shape[0])


def applies_to(model: Any) -> bool:
    """Only float32 weights on a CPU: GPUs and half precision have their own kernels."""
    import torch

    parameter = next(model.parameters(), None)
    return (
        parameter is not None
        and parameter.device.type == "cpu"
        and parameter.dtype == torch.float32
    )


def use_weight_first(model: Any) -> int:
    """Give every ``nn.Linear`` of ``model`` the small-batch order; returns how many.

    Does nothing (returns 0) unless the model is float32 on a CPU.
    """
    import torch

    if not applies_to(model):
        return 0
    count = 0
    for module in model.modules():
        # Not peft's or quantized subclasses, nor a layer whose forward a hook replaced.
        if type(module) is torch.nn.Linear and "forward" not in vars(module):
            module.forward = weight_first_forward.__get__(module)
            count += 1
    return count


@contextlib.contextmanager
def library_linear(model: Any) -> Iterator[None]:
    """Inside: every ``nn.Linear`` of ``model`` runs the library's own ``forward`` again."""
    patched = [m for m in model.modules() if _is_weight_first(vars(m).get("forward"))]
    saved = [vars(m)["forward"] for m in patched]
    for module in patched:
        del module.forward
    try:
        yield
    finally:
        for module, forward in zip(patched, saved, strict=True):
            module.forward = forward


def _is_weight_first(forward: Any) -> bool:
    return getattr(forward, "__func__", None) is weight_first_forward
