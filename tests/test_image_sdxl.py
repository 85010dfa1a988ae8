"""Prompt weights and long prompts on a tiny SDXL-shaped pipeline (two CLIP encoders, pooled)."""

from __future__ import annotations

import numpy as np
import pytest

from playground.image import ImageRequest, generate


@pytest.fixture(scope="module")
def xl_registry(tmp_path_factory):
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from playground.config import parse_config
    from playground.registry import Registry
    from playground.testing.text_to_image import build_clip_tokenizer

    folder = tmp_path_factory.mktemp("tiny-xl")
    torch.manual_seed(0)
    tokenizer = build_clip_tokenizer(folder / "tok")
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,  # 6 * 8 time ids + 32 pooled
        cross_attention_dim=64,  # 32 + 32 from the two encoders
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(4, 4, 4, 4),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(config),
        text_encoder_2=CLIPTextModelWithProjection(config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(steps_offset=1),
    )
    pipe.save_pretrained(folder / "tiny-xl")
    text = (
        "defaults: {device: cpu, dtype: float32}\n"
        "models:\n"
        f"  - {{name: tiny-xl, task: text-to-image, source: {folder / 'tiny-xl'},\n"
        "     options: {width: 64, height: 64, default_steps: 2, default_guidance: 5.0}}\n"
    )
    return Registry(parse_config(text, folder / "models.yaml"))


def test_sdxl_weighted_and_long_prompts_use_embeddings(xl_registry):
    from playground.image.embeddings import condition, weight_family

    pipe = xl_registry.get("tiny-xl").pipe
    assert type(pipe).__name__ == "StableDiffusionXLPipeline"
    assert weight_family(pipe) == "sdxl"
    cond = condition(pipe, "a (cat:1.4), " + "sunset " * 90, "blurry")
    kw = cond.kwargs
    tokens = kw["prompt_embeds"].shape[1]
    assert tokens >= 154 and tokens % 77 == 0  # chunked, not cut at 77
    assert kw["prompt_embeds"].shape[2] == 64  # both encoders side by side
    assert kw["negative_prompt_embeds"].shape == kw["prompt_embeds"].shape
    assert kw["pooled_prompt_embeds"].shape == kw["negative_pooled_prompt_embeds"].shape == (1, 32)
    assert cond.notes and "chunks" in cond.notes[0]


def test_sdxl_generation_reproducible_and_weights_matter(xl_registry):
    def run(prompt: str, seed: int = 1):
        result = generate(xl_registry, ImageRequest(model="tiny-xl", prompt=prompt, seed=seed))
        return np.asarray(result.images[0].image)

    plain = run("a cat, sunset")
    assert np.array_equal(plain, run("a cat, sunset"))
    weighted = run("a (cat:1.5), [sunset]")
    assert np.array_equal(weighted, run("a (cat:1.5), [sunset]"))
    assert not np.array_equal(plain, weighted)
