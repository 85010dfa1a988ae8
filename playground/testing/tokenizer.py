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

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(vocab_size: int = 600):
    """A PreTrainedTokenizerFast over a byte-level BPE: any text, Chinese too, encodes."""
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
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def save_chat_tokenizer(folder: Path):
    tokenizer = build_tokenizer()
    tokenizer.pad_token = "<|pad|>"
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.bos_token = None
    tokenizer.chat_template = CHATML_TEMPLATE
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
