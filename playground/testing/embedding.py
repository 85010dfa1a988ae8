"""Tiny sentence-embedding model: a 2-layer BERT with mean pooling."""

from __future__ import annotations

from pathlib import Path

from playground.testing.tokenizer import save_encoder_tokenizer


def build(folder: Path) -> list[dict]:
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    raw = folder / "tiny-embedding-raw"
    tokenizer = save_encoder_tokenizer(raw)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertModel(config).save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=128)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    out = folder / "tiny-embedding"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out))
    return [
        {
            "name": "tiny-embedding",
            "task": "embedding",
            "source": str(out),
            "label": "Tiny embedding (random weights)",
            "languages": ["en", "zh"],
            "license": "apache-2.0",
        }
    ]
