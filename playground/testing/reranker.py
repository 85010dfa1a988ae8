"""Tiny cross-encoder reranker: a 2-layer BERT with one output score."""

from __future__ import annotations

from pathlib import Path

from playground.testing.tokenizer import save_encoder_tokenizer, tiny_bert_config, tiny_entry


def build(folder: Path) -> list[dict]:
    from transformers import BertForSequenceClassification

    out = folder / "tiny-reranker"
    tokenizer = save_encoder_tokenizer(out)
    BertForSequenceClassification(tiny_bert_config(tokenizer, num_labels=1)).save_pretrained(out)
    return [tiny_entry("tiny-reranker", "reranker", out, "Tiny reranker (random weights)")]
