"""Chat language models: a transformers causal LM with its tokenizer and chat template.

An entry with ``base:`` set is a LoRA adapter (made by the Fine-tune tab): its
base model is loaded and the adapter applied on top with peft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playground.config import ModelEntry
from playground.cpu_linear import use_weight_first
from playground.device import resolve_dtype
from playground.errors import ModelLoadError
from playground.loaders import loader
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
    service: Any = None  # a playground.chat.service.ChatService, or None (plain generate only)
    no_service_reason: str = ""

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def memory_bytes(self) -> int:
        """Weights plus the KV cache reserved for the batching service (what the budget counts)."""
        from playground.device import module_bytes

        return module_bytes(self.model) + (self.service.kv_bytes if self.service else 0)

    def close(self) -> None:
        """Called by the registry on unload: stop the decode loop and free its cache."""
        if self.service is not None:
            self.service.close()


@loader("chat")
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
    use_weight_first(model)  # a CPU's small decoding batches: see playground.cpu_linear
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    chat_model = ChatModel(
        name=entry.name,
        model=model,
        tokenizer=tokenizer,
        device=ctx.device,
        entry=entry,
        context_window=_context_window(entry, model, tokenizer),
        generation_defaults=dict(entry.options.get("generation", {})),
    )
    chat_model.service, chat_model.no_service_reason = _make_service(entry, model, tokenizer, ctx)
    return chat_model


def _make_service(entry: ModelEntry, model: Any, tokenizer: Any, ctx) -> tuple[Any, str]:
    """The continuous-batching service for this model, or (None, why not).

    Not on ZeroGPU (a GPU exists only inside a ``spaces.GPU`` call, so no loop can
    hold it) and not for LoRA adapters (transformers' batching runs one set of
    weights; an adapter keeps its own plain path). The KV cache holds
    ``options.kv_cache_tokens`` tokens, fewer if the memory budget has less room.
    """
    from playground import zerogpu
    from playground.chat import service
    from playground.device import module_bytes

    if zerogpu.on_zerogpu():
        return None, "ZeroGPU: one generate per GPU call"
    if entry.base:
        return None, "LoRA adapter: own path, not the base model's batch"
    if not hasattr(model, "init_continuous_batching"):
        return None, "this model class has no continuous batching"
    wanted = int(entry.options.get("kv_cache_tokens", service.DEFAULT_KV_TOKENS))
    headroom = kv_headroom(ctx, module_bytes(model))
    itemsize = model.dtype.itemsize
    per_token = service.kv_bytes_per_token(model.config, itemsize)
    tokens = service.plan_kv_tokens(wanted, headroom, per_token, itemsize)
    if not tokens:
        return None, "no room for a KV cache in the memory budget"
    kv_bytes = service.reserved_bytes(tokens, per_token, itemsize)
    # The same end-of-reply tokens plain generate stops at (Qwen lists two).
    eos = getattr(model.generation_config, "eos_token_id", None) or tokenizer.eos_token_id
    chat_service = service.ChatService(
        model, kv_tokens=tokens, kv_bytes=kv_bytes, eos_token_id=eos,
        prefix_sharing=bool(entry.options.get("prefix_cache", False)),
    )  # fmt: skip
    return chat_service, ""


def _apply_adapter(model: Any, entry: ModelEntry, ctx) -> Any:
    from peft import PeftModel

    path = entry.local_path(ctx.base_dir)
    if path is None or not (path / "adapter_config.json").exists():
        raise ModelLoadError(
            f"'{entry.name}': adapter folder '{entry.source}' has no adapter_config.json. "
            "Point source: at the 'adapter' folder of a finished fine-tune job.",
            key="errors.loader.no_adapter_config",
            name=entry.name,
            source=str(entry.source),
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


def kv_headroom(ctx, model_bytes: int) -> int:
    """Bytes a KV cache may take on the model's device: its budget less what is loaded there."""
    registry = ctx.registry
    return registry.budget_bytes(ctx.device) - registry.used_bytes(ctx.device) - model_bytes
