"""Per-request attention for the batching loop equals the library's masked batch attention."""

import pytest
import torch
from transformers.generation.continuous_batching.utils import build_attention_mask

from playground.chat import batch_attention

HEADS, KV_HEADS, DIM = 4, 2, 8


class Layer(torch.nn.Module):
    num_key_value_groups = HEADS // KV_HEADS
    is_causal = True


def flattened_batch(requests, sliding_window=1):
    """``requests``: (past tokens, new tokens) each; the loop's flattened q/k/v, mask and lengths."""
    starts_q, starts_k = [0], [0]
    for past, new in requests:
        starts_q.append(starts_q[-1] + new)
        starts_k.append(starts_k[-1] + past + new)
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(1, HEADS, starts_q[-1], DIM, generator=generator)
    key = torch.randn(1, KV_HEADS, starts_k[-1], DIM, generator=generator)
    value = torch.randn(1, KV_HEADS, starts_k[-1], DIM, generator=generator)
    mask = torch.full((1, 1, starts_q[-1], starts_k[-1]), torch.finfo(torch.float32).min)
    build_attention_mask(mask[0, 0], starts_q, starts_k, sliding_window)
    lengths = {"cu_seq_lens_q": torch.tensor(starts_q), "cu_seq_lens_k": torch.tensor(starts_k)}
    return query, key, value, mask, lengths


@pytest.mark.parametrize("sliding_window", [1, 4])
@pytest.mark.parametrize(
    "requests",
    [
        [(0, 1)],  # one decoding row, nothing cached
        [(9, 1), (3, 1), (20, 1)],  # decoding rows only
        [(5, 3), (9, 1), (0, 4), (2, 1)],  # prefill chunks and decoding rows in one step
    ],
)
def test_per_request_attention_equals_the_librarys(requests, sliding_window):
    query, key, value, mask, lengths = flattened_batch(requests, sliding_window)
    library = batch_attention.library_sdpa()
    expected, _ = library(Layer(), query, key, value, mask, scaling=DIM**-0.5, **lengths)
    got, weights = batch_attention.per_request_sdpa(
        Layer(), query, key, value, mask, scaling=DIM**-0.5, **lengths
    )
    assert weights is None and got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_calls_outside_the_batching_loop_go_to_the_library(monkeypatch):
    query, key, value, mask, lengths = flattened_batch([(5, 3), (2, 1)])
    called = []

    def library(*args, **kwargs):
        called.append(kwargs)
        return "library", None

    monkeypatch.setattr(batch_attention, "library_sdpa", lambda: library)
    blocks = []
    monkeypatch.setattr(batch_attention, "_block", lambda *a: blocks.append(a))
    batch_attention.per_request_sdpa(Layer(), query, key, value, None, **lengths)  # no mask
    batch_attention.per_request_sdpa(Layer(), query, key, value, mask)  # no lengths
    batch_attention.per_request_sdpa(Layer(), query, key, value, mask, dropout=0.1, **lengths)
    assert len(called) == 3 and not blocks
