"""Prompt text -> what the pipeline is called with, honouring weights and long prompts.

A prompt without weights that fits the text encoder's window goes to the
pipeline unchanged (exactly the plain diffusers call). Otherwise, for
pipelines with one CLIP text encoder (Stable Diffusion 1.x/2.x, SD-Turbo),
the fragments from ``prompt_weights`` are turned into weighted embeddings by
``compel``, in as many 77-token chunks as the prompt needs (``BREAK`` starts
a new chunk). Other pipelines get the plain text with the weight syntax
removed, and a note says so.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from playground.image.prompt_weights import is_weighted, plain_text, sections


@dataclass
class Conditioning:
    """Keyword arguments for the pipeline call, and notes for the user."""

    kwargs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    weighted: bool = False
    tokens: int = 0
    chunks: int = 1


def supports_weights(pipe: Any) -> bool:
    """One CLIP tokenizer + text encoder and a ``prompt_embeds`` argument (SD 1.x/2.x family)."""
    if getattr(pipe, "tokenizer", None) is None or getattr(pipe, "text_encoder", None) is None:
        return False
    if getattr(pipe, "text_encoder_2", None) is not None or hasattr(pipe, "tokenizer_3"):
        return False
    params = inspect.signature(pipe.__call__).parameters
    return "prompt_embeds" in params and "pooled_prompt_embeds" not in params


def token_count(pipe: Any, text: str) -> int:
    """Tokens of ``text`` without the start/end markers (0 when the pipe has no tokenizer)."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None:
        return 0
    return len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False).input_ids)


def window(pipe: Any) -> int:
    """Usable tokens per chunk: the tokenizer's length minus start and end markers."""
    tokenizer = getattr(pipe, "tokenizer", None)
    length = int(getattr(tokenizer, "model_max_length", 0) or 0)
    if not 2 < length < 10**6:  # "unlimited" tokenizers report a huge number
        length = 77
    return length - 2


def condition(pipe: Any, prompt: str, negative: str, *, device: Any = None) -> Conditioning:
    """How to pass ``prompt`` and ``negative`` to ``pipe``."""
    weighted = is_weighted(prompt) or is_weighted(negative)
    per_section = [
        token_count(pipe, "".join(t for t, _ in s))
        for text in (prompt, negative)
        for s in sections(text)
    ]
    limit = window(pipe)
    too_long = any(n > limit for n in per_section)
    tokens = token_count(pipe, plain_text(prompt))
    if not weighted and not too_long:
        return Conditioning({"prompt": prompt, "negative_prompt": negative or None}, tokens=tokens)
    if supports_weights(pipe):
        return _weighted(pipe, prompt, negative, device=device, tokens=tokens, weighted=weighted)
    notes = []
    if weighted:
        notes.append(
            f"{type(pipe).__name__} does not support prompt weights here: the weight syntax "
            "was removed and the plain words were used."
        )
    if too_long:
        notes.append(
            f"The prompt has {tokens} tokens; {type(pipe).__name__} reads only the first "
            f"{limit} and ignores the rest. Shorten it, or put the important words first."
        )
    return Conditioning(
        {"prompt": plain_text(prompt), "negative_prompt": plain_text(negative) or None},
        notes=notes,
        weighted=False,
        tokens=tokens,
    )


def _weighted(
    pipe: Any, prompt: str, negative: str, *, device: Any, tokens: int, weighted: bool
) -> Conditioning:
    import torch
    from compel import Compel

    encoder = pipe.text_encoder
    device = device or getattr(pipe, "_execution_device", None) or encoder.device
    compel = Compel(
        tokenizer=pipe.tokenizer,
        text_encoder=encoder,
        truncate_long_prompts=False,
        dtype_for_device_getter=lambda _device: encoder.dtype,
        device=str(device),
    )
    provider = compel.conditioning_provider

    def encode(text: str) -> Any:
        parts = []
        for section in sections(text):
            fragments = [t for t, _ in section]
            weights = [w for _, w in section]
            parts.append(
                provider.get_embeddings_for_weighted_prompt_fragments(
                    text_batch=[fragments], fragment_weights_batch=[weights], device=device
                )
            )
        return torch.cat(parts, dim=1)

    with torch.no_grad():
        positive = encode(prompt)
        negative_embeds = encode(negative)
        positive, negative_embeds = compel.pad_conditioning_tensors_to_same_length(
            [positive, negative_embeds]
        )
    chunks = positive.shape[1] // (window(pipe) + 2)
    notes = []
    if chunks > 1:
        notes.append(f"Long prompt ({tokens} tokens): encoded in {chunks} chunks of 75 tokens.")
    return Conditioning(
        {"prompt_embeds": positive, "negative_prompt_embeds": negative_embeds},
        notes=notes,
        weighted=weighted,
        tokens=tokens,
        chunks=chunks,
    )
