"""Tiny voice-clone models of every family: VibeVoice (``tiny-voice``), CSM (``tiny-voice-csm``)
and Pocket TTS (``tiny-voice-pocket``, built by ``playground.testing.pocket_tts``).

The tiny VibeVoice has a 1-layer Qwen2 backbone and a tiny audio codec.
Everything is random except two choices that make it behave like a real one
in the ways tests care about:

* The language-model head is zero, so every logit ties and VibeVoice's greedy
  token choice falls on the lowest allowed id. The tokenizer puts the "speak
  one more audio frame" token at id 0, so the model keeps speaking until the
  engine's per-sentence frame limit: output length follows the text.
* The codec keeps VibeVoice's real 24 kHz rate and 3200-sample hop (7.5
  frames a second), so the engine's timing and resampling code is exercised
  as in production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playground.testing.tokenizer import CORPUS

# Audio frame token first (id 0): see the module docstring.
SPECIAL = ["<|vision_pad|>", "<|vision_start|>", "<|vision_end|>", "<|endoftext|>", "<|pad|>"]

# VibeVoice's published chat template (speaker turns with optional voice prompts).
CHAT_TEMPLATE = """\
{%- set system_prompt = system_prompt | default(" Transform the text provided by various speakers into speech output, utilizing the distinct voice of each respective speaker.\\n") -%}
{{ system_prompt -}}
{%- set audio_bos_token = audio_bos_token | default("<|vision_start|>") %}
{%- set audio_eos_token = audio_eos_token | default("<|vision_end|>") %}
{%- set audio_token = audio_token | default("<|vision_pad|>") %}
{%- set ns = namespace(speakers_with_audio="") %}
{%- for message in messages %}
    {%- set role = message['role'] %}
    {%- set content = message['content'] %}
    {%- set has_audio = content | selectattr('type', 'equalto', 'audio') | list | length > 0 %}
    {%- if has_audio and role not in ns.speakers_with_audio %}
        {%- set ns.speakers_with_audio = ns.speakers_with_audio + role + "," %}
    {%- endif %}
{%- endfor %}

{%- if ns.speakers_with_audio %}
{{ " Voice input:\\n" }}
{%- for speaker in ns.speakers_with_audio.rstrip(',').split(',') %}
{%- if speaker %}
 Speaker {{ speaker }}:{{ audio_bos_token }}{{ audio_token }}{{ audio_eos_token }}{{ "\\n" }}
{%- endif %}
{%- endfor %}
{%- endif %}
 Text input:{{ "\\n" }}

{%- for message in messages %}
    {%- set role = message['role'] %}
    {%- set text_items = message['content'] | selectattr('type', 'equalto', 'text') | list %}
    {%- for item in text_items %}
 Speaker {{ role }}: {{ item['text'] }}{{ "\\n" }}
    {%- endfor %}
{%- endfor %}
 Speech output:{{ "\\n" }}{{ audio_bos_token }}"""


def _tokenizer(special: list[str] = SPECIAL, **tokens: Any):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokens = tokens or {"eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=4096, **tokens)


def build(folder: Path) -> list[dict]:
    from playground.testing import pocket_tts

    return [_vibevoice(folder), _csm(folder), *pocket_tts.build(folder)]


def _vibevoice(folder: Path) -> dict:
    import torch
    from transformers import GenerationConfig, VibeVoiceConfig, VibeVoiceProcessor
    from transformers import VibeVoiceForConditionalGeneration as Model
    from transformers.models.vibevoice_acoustic_tokenizer import (
        VibeVoiceAcousticTokenizerFeatureExtractor,
    )

    out = folder / "tiny-voice"
    tokenizer = _tokenizer()
    frame, bos, eos = tokenizer.convert_tokens_to_ids(SPECIAL[:3])
    codec = {"hidden_size": 8, "num_filters": 2, "depths": [1] * 7, "kernel_size": 3}
    config = VibeVoiceConfig(
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 4096,
            "tie_word_embeddings": False,
        },
        audio_config={"model_type": "vibevoice_acoustic_tokenizer", **codec},
        semantic_model_config={"model_type": "vibevoice_acoustic_tokenizer_encoder", **codec},
        diffusion_head_config={
            "num_hidden_layers": 1,
            "intermediate_size": 32,
            "frequency_embedding_size": 16,
        },
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        audio_bos_token_id=bos,
        audio_eos_token_id=eos,
        audio_token_id=frame,
    )
    model = Model(config).eval()
    with torch.no_grad():
        model.lm_head.weight.zero_()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
        guidance_scale=1.3,
    )
    model.save_pretrained(out)
    processor = VibeVoiceProcessor(
        feature_extractor=VibeVoiceAcousticTokenizerFeatureExtractor(),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)
    return {
        "name": "tiny-voice",
        "task": "voice-clone",
        "source": str(out),
        "label": "Tiny voice clone (random weights)",
        "languages": ["en", "zh"],
        "license": "mit",
        "size": "~1M params",
        "options": {
            "family": "vibevoice",
            "best_reference_seconds": 10,
            "max_reference_seconds": 20,
            "diffusion_steps": 2,
            "max_frames_per_sentence": 12,
        },
    }


CSM_SPECIAL = ["<|pad|>", "<|begin_of_text|>", "<|end_of_text|>", "<|AUDIO|>", "<|audio_eos|>"]
# Speaker turns "[0]text", with "<|AUDIO|><|audio_eos|>" where a turn carries audio.
CSM_TEMPLATE = (
    "{% for message in messages %}{{ bos_token }}[{{ message.role }}]"
    "{% for part in message.content %}{% if part.type == 'text' %}{{ part.text }}{{ eos_token }}"
    "{% elif part.type == 'audio' %}<|AUDIO|><|audio_eos|>{% endif %}{% endfor %}{% endfor %}"
)


def _csm(folder: Path) -> dict:
    """A tiny Sesame CSM with a tiny Mimi codec (4 codebooks of 16 codes, 12.5 Hz at 24 kHz).

    The codec's codebooks are as large as the model's audio vocabulary, so any
    code a random model picks can be decoded. Random weights practically never
    emit the all-codebooks end-of-audio frame, so it speaks to the frame budget.
    """
    from transformers import (
        CsmConfig,
        CsmForConditionalGeneration,
        CsmProcessor,
        EncodecFeatureExtractor,
        GenerationConfig,
    )

    out = folder / "tiny-voice-csm"
    tokenizer = _tokenizer(
        CSM_SPECIAL,
        pad_token="<|pad|>",
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        additional_special_tokens=["<|AUDIO|>", "<|audio_eos|>"],
    )
    pad, bos, _, audio, audio_eos = tokenizer.convert_tokens_to_ids(CSM_SPECIAL)
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 1}  # fmt: skip
    codes, books = 16, 4
    config = CsmConfig(
        **small,
        vocab_size=codes,
        text_vocab_size=len(tokenizer),
        num_codebooks=books,
        audio_token_id=audio,
        audio_eos_token_id=audio_eos,
        pad_token_id=pad,
        bos_token_id=bos,
        codebook_pad_token_id=codes - 1,
        codebook_eos_token_id=0,
        max_position_embeddings=2048,
        depth_decoder_config={
            **small,
            "backbone_hidden_size": 16,
            "vocab_size": codes,
            "num_codebooks": books,
        },  # fmt: skip
        codec_config={
            "model_type": "mimi",
            **small,
            "num_filters": 2,
            "codebook_size": codes,
            "codebook_dim": 8,
            "vector_quantization_hidden_dimension": 8,
            "num_quantizers": books,
            "upsample_groups": 16,
        },  # fmt: skip
    )
    model = CsmForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(max_new_tokens=32, do_sample=False)
    model.save_pretrained(out)
    processor = CsmProcessor(
        EncodecFeatureExtractor(feature_size=1, sampling_rate=24000),
        tokenizer,
        chat_template=CSM_TEMPLATE,
    )
    processor.save_pretrained(out)
    return {
        "name": "tiny-voice-csm",
        "task": "voice-clone",
        "source": str(out),
        "label": "Tiny CSM voice clone (random weights)",
        "languages": ["en"],
        "license": "apache-2.0",
        "size": "~0.1M params",
        "options": {"family": "csm", "max_frames_per_sentence": 4},
    }
