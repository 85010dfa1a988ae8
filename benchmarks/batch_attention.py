"""Attention of one batched decoding step: per request vs the library's masked batch.

    python benchmarks/batch_attention.py
    python benchmarks/batch_attention.py --users 8 20 --context 100 1000 2000

For each number of users and context length, one layer of one decoding step
of Qwen2.5-0.5B's attention shape (14 query heads, 2 key/value heads, head
dimension 64): every user has one new query row and ``context`` cached keys,
laid out as transformers' continuous batching lays them out (one flattened
batch, the block-diagonal mask its ``build_attention_mask`` makes).

Why it is fair: both arms get the same query, key, value and mask tensors and
return the same output (checked each time, to 1e-4); the library arm is the
very function the batching loop calls without us
(``transformers.integrations.sdpa_attention.sdpa_attention_forward``,
``repeat_kv`` included), the other is ``playground.chat.batch_attention``'s
``per_request_sdpa``. Prints milliseconds per layer and the ratio; a step runs
24 such layers.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cpu_linear import median_ms  # noqa: E402

HEADS, KV_HEADS, HEAD_DIM = 14, 2, 64


class Layer:
    num_key_value_groups = HEADS // KV_HEADS
    is_causal = True
    training = False


def decoding_step(users: int, context: int):
    """The flattened batch of one decoding step: q, k, v, mask and the loop's lengths."""
    import torch
    from transformers.generation.continuous_batching.utils import build_attention_mask

    starts_q = list(range(users + 1))
    starts_k = [i * (context + 1) for i in range(users + 1)]
    query = torch.randn(1, HEADS, users, HEAD_DIM)
    key = torch.randn(1, KV_HEADS, starts_k[-1], HEAD_DIM)
    value = torch.randn(1, KV_HEADS, starts_k[-1], HEAD_DIM)
    mask = torch.full((1, 1, users, starts_k[-1]), torch.finfo(torch.float32).min)
    build_attention_mask(mask[0, 0], starts_q, starts_k)
    lengths = {"cu_seq_lens_q": torch.tensor(starts_q), "cu_seq_lens_k": torch.tensor(starts_k)}
    return (Layer(), query, key, value, mask), lengths


def main(argv: list[str] | None = None) -> int:
    import torch

    from playground.chat.batch_attention import library_sdpa, per_request_sdpa

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, nargs="+", default=[1, 8, 20])
    p.add_argument("--context", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    print(f"torch threads {torch.get_num_threads()}; ms per layer (a step has 24)")
    library, scale = library_sdpa(), HEAD_DIM**-0.5
    with torch.inference_mode():
        for context in args.context:
            for users in args.users:
                inputs, lengths = decoding_step(users, context)
                expected, _ = library(*inputs, scaling=scale, **lengths)
                got, _ = per_request_sdpa(*inputs, scaling=scale, **lengths)
                torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
                lib = median_ms(partial(library, *inputs, scaling=scale, **lengths), args.repeats)
                ours = median_ms(
                    partial(per_request_sdpa, *inputs, scaling=scale, **lengths), args.repeats
                )
                print(f"{users:>3} users x {context:>5} tokens: library {lib:8.2f} ms, "
                      f"per request {ours:7.2f} ms, x{lib / ours:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
