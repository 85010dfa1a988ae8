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


def weight_family(pipe: Any) -> str | None:
    """``"sd"`` (one CLIP encoder), ``"sdxl"`` (two, with pooled embeddings) or None."""
    if getattr(pipe, "tokenizer", None) is None or getattr(pipe, "text_encoder", None) is None:
        return None
    if hasattr(pipe, "tokenizer_3") or hasattr(pipe, "text_encoder_3"):
        return None  # SD3: a T5 encoder too; not handled here
    params = inspect.signature(pipe.__call__).parameters
    if "prompt_embeds" not in params:
        return None
    two = getattr(pipe, "text_encoder_2", None) is not None and getattr(pipe, "tokenizer_2", None)
    if two and "pooled_prompt_embeds" in params:
        return "sdxl"
    if not two and "pooled_prompt_embeds" not in params:
        return "sd"
    return None


def supports_weights(pipe: Any) -> bool:
    """Whether prompt weights become weighted embeddings for this pipeline."""
    return weight_family(pipe) is not None


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
    device = device or getattr(pipe, "_execution_device", None) or pipe.text_encoder.device
    if weight_family(pipe) == "sdxl":
        kwargs = _sdxl_embeddings(pipe, prompt, negative, device)
    else:
        kwargs = _sd_embeddings(pipe, prompt, negative, device)
    positive = kwargs["prompt_embeds"]
    chunks = positive.shape[1] // (window(pipe) + 2)
    notes = []
    if chunks > 1:
        notes.append(f"Long prompt ({tokens} tokens): encoded in {chunks} chunks of 75 tokens.")
    return Conditioning(
        kwargs,
        notes=notes,
        weighted=weighted,
        tokens=tokens,
        chunks=chunks,
    )


def _provider(tokenizer: Any, encoder: Any, device: Any, kind: str = "last") -> Any:
    from compel import EmbeddingsProvider, ReturnedEmbeddingsType

    returned = (
        ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED
        if kind == "last"
        else ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED
    )
    return EmbeddingsProvider(
        tokenizer=tokenizer,
        text_encoder=encoder,
        truncate=False,
        dtype_for_device_getter=lambda _device: encoder.dtype,
        returned_embeddings_type=returned,
        device=str(device),
    )


def _encode(provider: Any, text: str, device: Any) -> Any:
    """Weighted embeddings of every BREAK section, joined along the token axis."""
    import torch

    parts = []
    for section in sections(text):
        parts.append(
            provider.get_embeddings_for_weighted_prompt_fragments(
                text_batch=[[t for t, _ in section]],
                fragment_weights_batch=[[w for _, w in section]],
                device=device,
            )
        )
    return torch.cat(parts, dim=1)


def _pad(a: Any, b: Any, empty: Any) -> tuple[Any, Any]:
    """Pad the shorter of two embeddings with empty-prompt chunks (so CFG can pair them)."""
    import torch

    empty = empty.to(a.device, a.dtype)
    while a.shape[1] < b.shape[1]:
        a = torch.cat([a, empty], dim=1)
    while b.shape[1] < a.shape[1]:
        b = torch.cat([b, empty], dim=1)
    return a, b


def _sd_embeddings(pipe: Any, prompt: str, negative: str, device: Any) -> dict[str, Any]:
    import torch

    provider = _provider(pipe.tokenizer, pipe.text_encoder, device)
    with torch.no_grad():
        positive, negative_embeds = _pad(
            _encode(provider, prompt, device), _encode(provider, negative, device), provider.empty_z
        )
    return {"prompt_embeds": positive, "negative_prompt_embeds": negative_embeds}


def _sdxl_embeddings(pipe: Any, prompt: str, negative: str, device: Any) -> dict[str, Any]:
    """SDXL: both encoders' penultimate states side by side, pooled output of the second."""
    import torch

    first = _provider(pipe.tokenizer, pipe.text_encoder, device, "penultimate")
    second = _provider(pipe.tokenizer_2, pipe.text_encoder_2, device, "penultimate")

    def encode(text: str) -> tuple[Any, Any]:
        left, right = _encode(first, text, device), _encode(second, text, device)
        left, right = _pad(left, right, torch.zeros_like(left[:, :77]))
        pooled = second.get_pooled_embeddings([plain_text(text)], device=device)
        return torch.cat([left, right], dim=-1), pooled

    with torch.no_grad():
        positive, pooled = encode(prompt)
        if not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False):
            negative_embeds, negative_pooled = torch.zeros_like(positive), torch.zeros_like(pooled)
        else:
            negative_embeds, negative_pooled = encode(negative)
            empty, _ = encode("")
            positive, negative_embeds = _pad(positive, negative_embeds, empty)
    return {
        "prompt_embeds": positive,
        "negative_prompt_embeds": negative_embeds,
        "pooled_prompt_embeds": pooled,
        "negative_pooled_prompt_embeds": negative_pooled,
    }
