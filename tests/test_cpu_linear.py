"""The CPU's small-batch matrix order (``playground.cpu_linear``): same products, every layer."""

from __future__ import annotations

import pytest
import torch

from playground.cpu_linear import SMALL_ROWS, library_linear, use_weight_first


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 24), (8, 24), (2, 5, 24), (SMALL_ROWS + 1, 24)])
def test_weight_first_gives_the_librarys_product(bias, shape):
    torch.manual_seed(0)
    layer = torch.nn.Linear(24, 40, bias=bias)
    inputs = torch.randn(*shape)
    expected = layer(inputs)
    use_weight_first(layer)
    got = layer(inputs)
    assert got.shape == expected.shape and got.is_contiguous()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_few_rows_take_the_weight_first_order_and_many_the_library(monkeypatch):
    layer = torch.nn.Linear(16, 8)
    use_weight_first(layer)
    calls: list[int] = []
    library = torch.nn.functional.linear

    def counting(inputs, weight, bias=None):
        calls.append(inputs.shape[0])
        return library(inputs, weight, bias)

    monkeypatch.setattr(torch.nn.functional, "linear", counting)
    layer(torch.randn(SMALL_ROWS, 16))
    assert calls == []  # a decoding batch: torch.addmm with the weight first
    layer(torch.randn(SMALL_ROWS + 1, 16))
    assert calls == [SMALL_ROWS + 1]  # a long prefill: the library's call


def test_every_linear_of_a_float32_cpu_model_and_nothing_else():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    assert use_weight_first(model) == 2
    assert all("forward" in vars(m) for m in model if isinstance(m, torch.nn.Linear))
    with library_linear(model):
        assert not any("forward" in vars(m) for m in model)
    assert all("forward" in vars(m) for m in model if isinstance(m, torch.nn.Linear))
    half = torch.nn.Sequential(torch.nn.Linear(4, 4)).to(torch.bfloat16)
    assert use_weight_first(half) == 0  # half precision keeps the library's kernels


def test_the_chat_loader_uses_it(tiny_config):
    from playground.registry import Registry

    registry = Registry(tiny_config)
    try:
        model = registry.get("tiny-chat").model
        linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
        assert linears and all("forward" in vars(m) for m in linears)
    finally:
        registry.unload_all()
