"""Chat language models: a transformers causal LM with its tokenizer and chat template.

An entry with ``base:`` set is a LoRA adapter (made by the Fine-tune tab): its
base model is loaded and the adapter applied on top with peft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.config import ModelEntry
from playground.device import resolve_dtype
from playground.errors import ModelLoadError
from playground.loaders.hub import local_source


@dataclass
class ChatModel:
    """A loaded chat model, ready for ``playground.chat``."""

    name: str
    model: Any
    tokenizer: Any
    device: str
    entry: ModelEntry
    context_window: int = 2048
    generation_defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))


def load(entry: ModelEntry, ctx) -> ChatModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if entry.base:
        base_entry = ctx.registry.entry(entry.base)
        weights = local_source(base_entry, ctx.base_dir)
    else:
        weights = local_source(entry, ctx.base_dir)
    dtype = resolve_dtype(ctx.dtype, ctx.device)
    tokenizer = AutoTokenizer.from_pretrained(weights)
    model = AutoModelForCausalLM.from_pretrained(weights, dtype=dtype)
    if entry.base:
        model = _apply_adapter(model, entry, ctx)
    model.to(ctx.device)
    model.eval()
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return ChatModel(
        name=entry.name,
        model=model,
        tokenizer=tokenizer,
        device=ctx.device,
        entry=entry,
        context_window=_context_window(entry, model, tokenizer),
        generation_defaults=dict(entry.options.get("generation", {})),
    )


def _apply_adapter(model: Any, entry: ModelEntry, ctx) -> Any:
    from peft import PeftModel

    path = entry.local_path(ctx.base_dir)
    if path is None or not (path / "adapter_config.json").exists():
        raise ModelLoadError(
            f"'{entry.name}': adapter folder '{entry.source}' has no adapter_config.json. "
            "Point source: at the 'adapter' folder of a finished fine-tune job."
        )
    return PeftModel.from_pretrained(model, str(path))


def _context_window(entry: ModelEntry, model: Any, tokenizer: Any) -> int:
    configured = entry.options.get("context_window")
    if configured:
        return int(configured)
    cfg = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else 2048
