"""Tiny chat LM: a 2-layer Qwen2-architecture model with a Qwen3-style (thinking) chat template."""

from __future__ import annotations

from pathlib import Path

from playground.testing.tokenizer import save_chat_tokenizer

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)  # fmt: skip


def build_qwen2(
    out: Path,
    *,
    context: int = 2048,
    vocab_size: int | None = None,
    tokenizer_corpus: list[str] | None = None,
    **dims,
) -> Path:
    """A random Qwen2 model of the given dimensions with the tiny tokenizer (Qwen3 template).

    ``vocab_size`` above the tokenizer's gives a real model's output layer cost
    (ids past the tokenizer's decode to nothing). ``tokenizer_corpus`` trains
    the tokenizer on that text with a 4,000-piece vocabulary instead (word-sized
    pieces: prompts as many tokens long as with a real tokenizer).
    """
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    if tokenizer_corpus:
        tokenizer = save_chat_tokenizer(out, vocab_size=4000, corpus=tokenizer_corpus)
    else:
        tokenizer = save_chat_tokenizer(out)
    config = Qwen2Config(
        vocab_size=vocab_size or len(tokenizer),
        max_position_embeddings=context,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **{**TINY, **dims},
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out)
    return out


def build(folder: Path) -> list[dict]:
    out = build_qwen2(folder / "tiny-chat")
    return [
        {
            "name": "tiny-chat",
            "task": "chat",
            "source": str(out),
            "label": "Tiny chat (random weights)",
            "languages": ["en", "zh"],
            "license": "apache-2.0",
            "size": "~0.1M params",
            "options": {"context_window": 2048, "generation": {"max_new_tokens": 32}},
        }
    ]
