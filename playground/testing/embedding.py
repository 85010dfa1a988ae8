"""Tiny sentence-embedding model: a 2-layer BERT with mean pooling."""

from __future__ import annotations

from pathlib import Path

from playground.testing.tokenizer import save_encoder_tokenizer, tiny_bert_config, tiny_entry


def build(folder: Path) -> list[dict]:
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertModel

    raw = folder / "tiny-embedding-raw"
    tokenizer = save_encoder_tokenizer(raw)
    BertModel(tiny_bert_config(tokenizer)).save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=128)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    out = folder / "tiny-embedding"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out))
    return [tiny_entry("tiny-embedding", "embedding", out, "Tiny embedding (random weights)")]
