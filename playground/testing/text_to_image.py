"""Tiny text-to-image model: a Stable Diffusion pipeline with a few thousand random weights.

The parts are the real classes (UNet2DConditionModel, AutoencoderKL,
CLIPTextModel, CLIPTokenizer, EulerDiscreteScheduler), only very small, so
the whole engine -- prompt weights, long-prompt chunking, schedulers, seeds,
safety options, PNG metadata -- runs offline in well under a second per image.
The VAE downsamples by 8 like the real one, so size validation behaves the same.
"""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "a", "cat", "dog", "sitting", "on", "the", "windowsill", "sunset", "masterpiece",
    "best", "quality", "blurry", "lowres", "bad", "anatomy", "watermark", "house", "hill",
    "sky", "sun", "red", "blue", "portrait", "of", "photo", "painting", "in", "style",
]  # fmt: skip


def build_clip_tokenizer(folder: Path):
    """A real ``CLIPTokenizer`` over byte-level characters plus a few whole words.

    Any text encodes (unknown words fall back to single characters), so long
    prompts really do exceed the 77-token window.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for token in ["<|startoftext|>", "<|endoftext|>"] + alphabet + [c + "</w>" for c in alphabet]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        # Merge left to right: "c a", "ca t</w>" -> "cat</w>".
        current = word[0]
        for i, char in enumerate(word[1:], 1):
            right = char + ("</w>" if i == len(word) - 1 else "")
            if (current, right) not in merges:
                merges.append((current, right))
            current = current + right
            vocab.setdefault(current, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    tokenizer.save_pretrained(folder)
    return tokenizer


TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
UNET = dict(
    sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=32, attention_head_dim=4, norm_num_groups=4,
)  # fmt: skip
VAE = dict(
    in_channels=3, out_channels=3, block_out_channels=(4, 4, 4, 4),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    latent_channels=4, layers_per_block=1, norm_num_groups=2, sample_size=64,
)  # fmt: skip
SCHEDULER = dict(
    beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    timestep_spacing="trailing", steps_offset=1,
)  # fmt: skip


def build_sd_pipeline(out: Path, *, text=None, unet=None, vae=None, scheduler=None) -> Path:
    """A random Stable Diffusion pipeline (SD layout, VAE downsampling by 8) saved to ``out``.

    Each dict overrides the tiny defaults above for that component.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = build_clip_tokenizer(out / "tokenizer")
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **{**TEXT, **(text or {})},
        )
    )
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel(**{**UNET, **(unet or {})}),
        vae=AutoencoderKL(**{**VAE, **(vae or {})}),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=EulerDiscreteScheduler(**{**SCHEDULER, **(scheduler or {})}),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    return out


def build(folder: Path) -> list[dict]:
    out = build_sd_pipeline(folder / "tiny-image")
    return [
        {
            "name": "tiny-image",
            "task": "text-to-image",
            "source": str(out),
            "label": "Tiny image (random weights)",
            "license": "apache-2.0",
            "size": "~110K params",
            "options": {
                "default_steps": 4,
                "default_guidance": 5.0,
                "width": 64,
                "height": 64,
                "safety_checker": False,
            },
        }
    ]
