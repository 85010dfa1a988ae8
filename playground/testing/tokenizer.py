"""A small byte-level BPE tokenizer trained here, for the tiny models."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "Hello! How can I help you today? I am a helpful assistant.",
    "The quick brown fox jumps over the lazy dog. Please answer step by step.",
    "Prompt: masterpiece, best quality, a cat sitting on a windowsill, sunset",
    "Negative Prompt: lowres, bad anatomy, blurry, watermark",
    "Question: what does the document say? Answer with citations [1] [2].",
    "你好！我是你的助手。请问有什么可以帮你？今天天气很好。",
    "文档里说了什么？请一步一步地回答问题。",
    "def main():\n    return 42\n",
]
SPECIAL = ["<|pad|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "[CLS]", "[SEP]", "[MASK]"]
# Qwen3's reasoning markers: added tokens that are NOT special, so they stay in decoded text.
THINK_TOKENS = ["<think>", "</think>"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen3's template, less its tool calls: earlier replies lose their reasoning, and
# ``enable_thinking=False`` pre-fills an empty thought so the model answers at once.
QWEN3_TEMPLATE = (
    "{% for message in messages %}{% set content = message['content'] %}"
    "{% if message['role'] == 'assistant' and '</think>' in content %}"
    "{% set content = content.split('</think>')[-1].lstrip('\\n') %}{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}"
)


def build_tokenizer(vocab_size: int = 600, corpus: list[str] | None = None):
    """A PreTrainedTokenizerFast over a byte-level BPE: any text, Chinese too, encodes.

    Trained on ``corpus`` (default: the few lines above, so words split into
    short pieces); a larger corpus and vocabulary give word-sized pieces, as a
    real model's tokenizer does.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus or CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def save_chat_tokenizer(folder: Path, vocab_size: int = 600, corpus: list[str] | None = None):
    tokenizer = build_tokenizer(vocab_size, corpus)
    tokenizer.pad_token = "<|pad|>"
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.bos_token = None
    tokenizer.add_tokens(THINK_TOKENS)  # not special: decoded replies keep them
    tokenizer.chat_template = QWEN3_TEMPLATE
    tokenizer.model_max_length = 2048
    tokenizer.save_pretrained(folder)
    return tokenizer


def save_encoder_tokenizer(folder: Path):
    """A BERT-style tokenizer ([CLS] text [SEP]) for embedding and reranker models."""
    from tokenizers import processors

    tokenizer = build_tokenizer()
    backend = tokenizer.backend_tokenizer
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="<|pad|>",
        mask_token="[MASK]",
        model_max_length=128,
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def tiny_bert_config(tokenizer, **extra):
    """Dimensions shared by the tiny encoder models (embedding and reranker)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def tiny_entry(name: str, task: str, path: Path, label: str) -> dict:
    """A models.yaml entry for a tiny model."""
    return {
        "name": name,
        "task": task,
        "source": str(path),
        "label": label,
        "languages": ["en", "zh"],
        "license": "apache-2.0",
    }
