"""Random Kyutai Pocket TTS models: the published architecture, or a tiny one for tests.

``PUBLISHED`` holds the values of Kyutai's released configuration
(``pocket_tts/config/b6369a24.yaml`` in github.com/kyutai-labs/pocket-tts:
flow LM d_model 1024, 16 heads, 6 layers, hidden_scale 4; flow head dim 512,
depth 6; codec SEANet 512/64 filters, ratios [6, 5, 4], a 2-layer 512-wide
transformer with 8 heads and 2048 feed-forward; 32-dim latents at 12.5 Hz;
a 4000-piece text vocabulary plus 4 audio placeholders), which are also the
transformers defaults. ``build_pocket(out)`` writes that model with random
weights (~120M parameters with the codec), so the loader, the engine and the
benchmark run it offline; ``TINY`` shrinks every width for the unit tests.

Two choices make a random model behave like a real one where the tests care:
the end-of-speech head is silenced (zero weights, a very negative bias), so it
speaks to the engine's frame budget and output length follows the text; and
the text tokenizer is this kit's small BPE with the four placeholder tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLACEHOLDERS = {
    "audio_prompt_bos_token": "<|audio_prompt_bos|>",
    "audio_prompt_token": "<|audio_prompt|>",
    "audio_latent_token": "<|audio_latent|>",
    "audio_bos_token": "<|audio_bos|>",
}
SPECIAL = ["<unk>", "<pad>", *PLACEHOLDERS.values()]
# Voice first, then the text, then the first audio position (the processor's layout).
CHAT_TEMPLATE = (
    "{% for message in messages %}{% for part in message.content %}"
    "{% if part.type == 'audio' %}<|audio_prompt_bos|><|audio_prompt|>{% endif %}{% endfor %}"
    "{% for part in message.content %}{% if part.type == 'text' %}{{ part.text }}{% endif %}"
    "{% endfor %}{% endfor %}<|audio_bos|>"
)

PUBLISHED: dict[str, Any] = {
    "lm": dict(vocab_size=4004, hidden_size=1024, num_hidden_layers=6, num_attention_heads=16,
               intermediate_size=4096, latent_dim=32, frame_rate=12.5),
    "flow": dict(hidden_size=512, num_hidden_layers=6, latent_dim=32, condition_dim=1024),
    "codec": dict(hidden_size=512, num_filters=64, num_residual_layers=1,
                  upsampling_ratios=[6, 5, 4], kernel_size=7, last_kernel_size=3,
                  residual_kernel_size=3, dilation_growth_rate=2, compress=2,
                  num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=8,
                  intermediate_size=2048, sliding_window=250, layer_scale_initial_scale=0.01,
                  latent_dim=32, upsample_groups=512),
}  # fmt: skip

TINY: dict[str, Any] = {
    "lm": dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
               latent_dim=8),
    "flow": dict(hidden_size=16, num_hidden_layers=1, latent_dim=8, condition_dim=32,
                 frequency_embedding_size=16),
    "codec": dict(hidden_size=16, num_filters=2, num_hidden_layers=1, intermediate_size=32,
                  num_attention_heads=2, num_key_value_heads=2, upsample_groups=16, latent_dim=8),
}  # fmt: skip


def build_pocket(out: Path, dims: dict[str, Any] | None = None) -> Path:
    """A random Pocket TTS (model, codec, processor) in ``out``; ``dims`` default to PUBLISHED."""
    import torch
    from transformers import (
        GenerationConfig,
        PocketTTSAudioTokenizerConfig,
        PocketTTSAudioTokenizerModel,
        PocketTTSConfig,
        PocketTTSFeatureExtractor,
        PocketTTSForConditionalGeneration,
        PocketTTSProcessor,
    )

    from playground.testing.voice import _tokenizer

    dims = dims or PUBLISHED
    out = Path(out)
    tokenizer = _tokenizer(
        SPECIAL, unk_token="<unk>", pad_token="<pad>", extra_special_tokens=PLACEHOLDERS
    )
    ids = dict(zip(PLACEHOLDERS, tokenizer.convert_tokens_to_ids(list(PLACEHOLDERS.values()))))
    codec = PocketTTSAudioTokenizerModel(PocketTTSAudioTokenizerConfig(**dims["codec"])).eval()
    codec.save_pretrained(out / "audio_tokenizer")
    # Reloaded so its name_or_path (what the processor's config points at) is the folder.
    codec = PocketTTSAudioTokenizerModel.from_pretrained(out / "audio_tokenizer")
    lm = {"vocab_size": max(len(tokenizer), dims["lm"].get("vocab_size", 0)), **dims["lm"]}
    config = PocketTTSConfig(
        **lm,
        flow_head_config=dims["flow"],
        pad_token_id=tokenizer.pad_token_id,
        **{key.removesuffix("_token") + "_token_id": value for key, value in ids.items()},
    )
    model = PocketTTSForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.eos_head.weight.zero_()
        model.eos_head.bias.fill_(-100.0)  # never ends early: speaks to the frame budget
    model.generation_config = GenerationConfig(
        return_dict_in_generate=True, do_sample=True, temperature=0.7
    )
    model.save_pretrained(out)
    processor = PocketTTSProcessor(
        PocketTTSFeatureExtractor(frame_size=codec.config.frame_size,
                                  pad_to_multiple_of=codec.config.frame_size),
        tokenizer,
        audio_tokenizer=codec,
        chat_template=CHAT_TEMPLATE,
    )  # fmt: skip
    processor.save_pretrained(out)
    return out


def build(folder: Path) -> list[dict]:
    out = build_pocket(folder / "tiny-voice-pocket", TINY)
    return [
        {
            "name": "tiny-voice-pocket",
            "task": "voice-clone",
            "source": str(out),
            "label": "Tiny Pocket TTS voice clone (random weights)",
            "languages": ["en", "fr", "de", "pt", "it", "es"],
            "license": "cc-by-4.0",
            "size": "~0.1M params",
            "memory_gb": 0.1,
            "options": {"family": "pocket-tts", "max_frames_per_sentence": 12},
        }
    ]
