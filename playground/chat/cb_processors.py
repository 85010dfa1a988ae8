"""Cheaper per-request top-k and top-p for transformers' continuous batching.

The library's per-request warpers (``cb_logits_processors.py``, transformers
5.x) fully sort the whole vocabulary for every row at every step -- for a
151,936-token vocabulary and 8 rows that cost about as much as the model's
forward pass on a 2-core CPU (measured 247 ms a step), even for greedy rows
(``top_k=1``). These subclasses compute the same masks with ``torch.topk``
over the few candidates that can survive, and skip top-p when no row asks for
it. ``install()`` swaps them into the library's processor map before a
manager is created; ``tests/test_chat_service.py`` checks they give the
library's exact results.
"""

from __future__ import annotations

from typing import Any


def _classes() -> tuple[type, type]:
    from transformers.generation.continuous_batching import cb_logits_processors as cb

    class TopK(cb.ContinuousBatchingTopKLogitsWarper):
        def __call__(self, scores: Any, tensor_arg: Any) -> Any:
            import torch

            vocab = scores.size(-1)
            top_k = tensor_arg[: scores.size(0)].to(torch.int64).clamp(min=1, max=vocab)
            limited = top_k < vocab  # k == vocab keeps every token
            if not bool(limited.any()):
                return scores
            cap = int(top_k[limited].max())
            best = torch.topk(scores, cap, dim=-1).values  # [B, cap], descending
            thresholds = best.gather(-1, (top_k.clamp(max=cap) - 1).unsqueeze(-1))
            thresholds = thresholds.masked_fill(~limited.unsqueeze(-1), float("-inf"))
            return scores.masked_fill(scores < thresholds, self.filter_value)

    class TopP(cb.ContinuousBatchingTopPLogitsWarper):
        def __call__(self, scores: Any, tensor_arg: Any) -> Any:
            import torch

            top_p = tensor_arg[: scores.size(0)].view(dtype=torch.float32)
            if bool((top_p >= 1.0).all()):  # 1 - p = 0: nothing with probability > 0 goes
                return scores
            finite = int(torch.isfinite(scores).sum(-1).max())
            if finite >= scores.size(-1):
                return super().__call__(scores, tensor_arg)
            # After top-k only ``finite`` tokens per row have probability > 0: sort those.
            values, indices = torch.topk(scores, finite, dim=-1)  # descending
            values, indices = values.flip(-1), indices.flip(-1)  # ascending, as the library
            cumulative = values.softmax(dim=-1).cumsum(dim=-1)
            remove = cumulative <= (1 - top_p).unsqueeze(-1)
            remove[..., -self.min_tokens_to_keep :] = False
            kept = torch.full_like(scores, self.filter_value)
            return kept.scatter(-1, indices, values.masked_fill(remove, self.filter_value))

    return TopK, TopP


_installed = False


def install() -> None:
    """Use the cheaper warpers for every continuous-batching manager created from now on."""
    global _installed
    if _installed:
        return
    from transformers.generation.continuous_batching import cb_logits_processors as cb
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    top_k, top_p = _classes()
    cb.CLASSIC_TO_CB_PROCESSORS_MAP[TopKLogitsWarper] = top_k
    cb.CLASSIC_TO_CB_PROCESSORS_MAP[TopPLogitsWarper] = top_p
    _installed = True
