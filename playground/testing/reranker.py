"""Tiny cross-encoder reranker: a 2-layer BERT with one output score."""

from __future__ import annotations

from pathlib import Path

from playground.testing.tokenizer import save_encoder_tokenizer


def build(folder: Path) -> list[dict]:
    from transformers import BertConfig, BertForSequenceClassification

    out = folder / "tiny-reranker"
    tokenizer = save_encoder_tokenizer(out)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertForSequenceClassification(config).save_pretrained(out)
    return [
        {
            "name": "tiny-reranker",
            "task": "reranker",
            "source": str(out),
            "label": "Tiny reranker (random weights)",
            "languages": ["en", "zh"],
            "license": "apache-2.0",
        }
    ]
