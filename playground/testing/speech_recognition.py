"""Tiny speech recognition: a 1-layer Whisper with its feature extractor and a small tokenizer.

The tokenizer is a byte-level BPE trained here and saved in Whisper's own
format (vocab.json + merges.txt + Whisper's special tokens), so the real
``automatic-speech-recognition`` pipeline runs on it offline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playground.testing.tokenizer import CORPUS

SPECIAL = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|zh|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nospeech|>",
    "<|notimestamps|>",
]


def _tokenizer(out: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import WhisperTokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    with tempfile.TemporaryDirectory() as tmp:
        vocab, merges = tok.model.save(tmp)
        tokenizer = WhisperTokenizer(vocab, merges, errors="replace")
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL})
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.save_pretrained(out)
    return tokenizer


def build(folder: Path) -> list[dict]:
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    out = folder / "tiny-asr"
    tokenizer = _tokenizer(out)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    extractor = WhisperFeatureExtractor(feature_size=80)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=64,
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        suppress_tokens=[],
        begin_suppress_tokens=[],
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot,
        eos_token_id=eot,
        pad_token_id=eot,
        bos_token_id=eot,
        max_length=24,
        is_multilingual=True,
        lang_to_id={"<|en|>": ids["<|en|>"], "<|zh|>": ids["<|zh|>"]},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"],
        forced_decoder_ids=None,
    )
    model.save_pretrained(out)
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(out)
    return [
        {
            "name": "tiny-asr",
            "task": "speech-recognition",
            "source": str(out),
            "label": "Tiny speech recognition (random weights)",
            "languages": ["en", "zh"],
            "license": "mit",
            "size": "~0.1M params",
        }
    ]
