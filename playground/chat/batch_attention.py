"""Attention for the batching loop on a CPU: each request against its own keys.

Continuous batching flattens every request of a step into one sequence. With
``sdpa`` (a CPU has no flash kernels) the library then runs one attention over
the whole flattened batch with a block-diagonal mask, so every query row is
multiplied against every request's keys, and ``repeat_kv`` first copies all of
those keys once per query head. That work grows with users x their context:
measured here (2 cores, Qwen2.5-0.5B's 14 query and 2 key/value heads), one
layer of one decoding step for 20 chats of 1,000 tokens took 71 ms that way
and 1.75 ms per request (``benchmarks/batch_attention.py``), so about 1.7 s of
each 24-layer step went to masked-out products.

``per_request_sdpa`` computes the same thing block by block: request ``r``'s
queries (rows ``cu_seq_lens_q[r]:cu_seq_lens_q[r+1]``) against its own keys
(``cu_seq_lens_k[r]:cu_seq_lens_k[r+1]``), with that block of the library's
mask (causal and sliding-window patterns included). A decoding row folds its
query heads onto their key/value head (the library's own ``pack_gqa`` trick),
so no key is copied. Anything else -- a GPU, a call without the batching
loop's lengths, no mask -- goes to the library's ``sdpa`` unchanged.
"""

from __future__ import annotations

from typing import Any

_INSTALLED: dict[str, Any] = {}


def install() -> None:
    """Route ``sdpa`` attention through ``per_request_sdpa`` (once per process)."""
    if _INSTALLED:
        return
    from transformers.modeling_utils import AttentionInterface

    _INSTALLED["sdpa"] = AttentionInterface._global_mapping["sdpa"]
    AttentionInterface.register("sdpa", per_request_sdpa)


def library_sdpa():
    """The library's own ``sdpa`` attention function."""
    if "sdpa" in _INSTALLED:
        return _INSTALLED["sdpa"]
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward


def per_request_sdpa(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs
):
    """``sdpa`` attention, one request's block at a time for the batching loop on a CPU."""
    starts_q, starts_k = kwargs.get("cu_seq_lens_q"), kwargs.get("cu_seq_lens_k")
    if not _splits(query, key, attention_mask, starts_q, starts_k) or dropout:
        return library_sdpa()(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    import torch

    rows, cols = starts_q.tolist(), starts_k.tolist()
    blocks = []
    for q0, q1, k0, k1 in zip(rows, rows[1:], cols, cols[1:], strict=False):
        if q1 > q0:
            mask = attention_mask[..., q0:q1, k0:k1]
            blocks.append(
                _block(query[:, :, q0:q1], key[:, :, k0:k1], value[:, :, k0:k1], mask, scaling)
            )
    out = torch.cat(blocks, dim=2) if len(blocks) > 1 else blocks[0]
    return out.transpose(1, 2).contiguous(), None


def _splits(query, key, mask, starts_q, starts_k) -> bool:
    """Whether this call is the batching loop's flattened batch on a CPU, in the library's layout."""
    if mask is None or starts_q is None or starts_k is None or query.device.type != "cpu":
        return False
    if query.shape[0] != 1 or mask.dim() != 4 or not hasattr(starts_k, "tolist"):
        return False
    if len(starts_q) < 3:  # one request: nothing to split, the library's call is as good
        return False
    rows, cols = int(starts_q[-1]), int(starts_k[-1])
    return rows <= min(query.shape[2], mask.shape[-2]) and cols <= min(key.shape[2], mask.shape[-1])


def _block(query, key, value, mask, scaling):
    """One request's attention: [1, heads, q, dim] against its own [1, kv_heads, k, dim]."""
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import pack_gqa, repeat_kv

    heads, group = query.shape[1], query.shape[1] // key.shape[1]
    if query.shape[2] == 1:  # a decoding row: its heads become rows of their kv head
        out = F.scaled_dot_product_attention(
            pack_gqa(query, group), key, value, attn_mask=mask, scale=scaling
        )
        return out.reshape(1, heads, 1, query.shape[-1])
    key, value = repeat_kv(key, group), repeat_kv(value, group)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scaling)
