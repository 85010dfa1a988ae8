"""What differs between voice-cloning model families: classes, prompts, controls.

Each family turns (reference audio, reference transcript, one sentence) into
audio through the model's own transformers ``generate``. Adding a family is a
subclass here plus its ``models.yaml`` entries.

* VibeVoice (Microsoft): a Qwen2.5 LM with a diffusion head over a 7.5 Hz
  acoustic codec. English and Chinese. The voice prompt is the audio alone.
  Controls: classifier-free guidance, diffusion steps (token choice is greedy,
  the randomness is in the diffusion noise, so the seed matters).
* CSM (Sesame): a Llama backbone with a depth decoder over Mimi codes (12.5
  Hz). English. The voice prompt is a previous turn of the same speaker: the
  reference transcript followed by its audio. Controls: temperature, top-k.
* Pocket TTS (Kyutai): a 6-layer transformer whose flow head samples
  continuous codec latents (12.5 Hz), ~100M parameters, faster than real time
  on a laptop CPU. English, French, German, Portuguese, Italian, Spanish (no
  Chinese). The voice prompt is the audio alone, encoded once by the codec.
  Control: temperature (the variance of the flow sampler's noise).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from playground.errors import CancelledError, ConfigError


@dataclass
class GenerationControls:
    """The model's own quality controls; ``None`` means the family's default."""

    temperature: float | None = None
    top_k: int | None = None
    guidance_scale: float | None = None
    diffusion_steps: int | None = None


class Family:
    name: ClassVar[str] = ""
    model_class: ClassVar[str] = ""
    sample_rate: ClassVar[int] = 24000
    frame_rate: ClassVar[float] = 12.5  # codec frames (generated tokens) per second of audio
    needs_transcript: ClassVar[bool] = False
    controls: ClassVar[tuple[str, ...]] = ()
    # Reference length the family was trained around (seconds).
    best_reference_seconds: ClassVar[float] = 10.0
    max_reference_seconds: ClassVar[float] = 20.0
    # What the family can speak, for entries that do not list ``languages``.
    languages: ClassVar[tuple[str, ...]] = ("en",)

    def encode_prompt(self, voice_model: Any, reference: np.ndarray) -> Any:
        """Work on the voice prompt that every sentence can share (``None``: nothing to share)."""
        return None

    def generate(
        self,
        voice_model: Any,
        reference: np.ndarray,
        transcript: str | None,
        text: str,
        *,
        controls: GenerationControls,
        max_frames: int,
        stop: threading.Event | None = None,
        prompt: Any = None,
    ) -> np.ndarray:
        """Audio for one sentence; ``prompt`` is what ``encode_prompt`` returned."""
        raise NotImplementedError

    # ------------------------------------------------------------ shared helpers

    @staticmethod
    def stopping(stop: threading.Event | None):
        """A transformers stopping criterion that ends generation when ``stop`` is set."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        if stop is None:
            return StoppingCriteriaList()

        class _StopOnEvent(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                import torch

                return torch.full(
                    (input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device
                )

        return StoppingCriteriaList([_StopOnEvent()])

    @staticmethod
    def to_numpy(audio: Any) -> np.ndarray:
        if audio is None:
            return np.zeros(0, dtype=np.float32)
        return audio.detach().float().cpu().numpy().reshape(-1).astype(np.float32)


class VibeVoice(Family):
    name = "vibevoice"
    model_class = "VibeVoiceForConditionalGeneration"
    frame_rate = 7.5
    languages = ("en", "zh")
    controls = ("guidance_scale", "diffusion_steps")
    best_reference_seconds = 10.0
    max_reference_seconds = 30.0

    def inputs(self, vm: Any, reference: np.ndarray, text: str) -> Any:
        conversation = [
            {
                "role": "0",
                "content": [{"type": "text", "text": text}, {"type": "audio", "audio": reference}],
            }
        ]
        inputs = vm.processor.apply_chat_template(
            conversation, tokenize=True, return_dict=True, return_tensors="pt"
        )
        return inputs.to(vm.model.device, vm.model.dtype)

    def encode_prompt(self, vm: Any, reference: np.ndarray) -> Any:
        """The reference's acoustic embeddings, computed once for all sentences.

        This is what the model's forward computes from ``input_values`` on every
        call (including its sigma-VAE noise, drawn here under the caller's seed).
        """
        import torch

        inputs = self.inputs(vm, reference, ".")
        with torch.inference_mode():
            features = vm.model.model.get_audio_features(
                inputs["input_values"], inputs["padding_mask"]
            )
        return features.pooler_output

    def _embed(self, vm: Any, inputs: Any, prompt: Any) -> dict[str, Any]:
        """``inputs`` with the audio placeholders already filled from the shared prompt."""
        ids = inputs["input_ids"]
        embeds = vm.model.get_input_embeddings()(ids)
        mask = (ids == vm.model.config.audio_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(mask, prompt.to(embeds.device, embeds.dtype))
        return {
            "input_ids": ids,
            "attention_mask": inputs["attention_mask"],
            "inputs_embeds": embeds,
        }

    def generate(
        self, vm, reference, transcript, text, *, controls, max_frames, stop=None, prompt=None
    ):
        import torch

        inputs = self.inputs(vm, reference, text)
        kwargs: dict[str, Any] = {"max_new_tokens": max_frames}
        if controls.guidance_scale is not None:
            kwargs["guidance_scale"] = float(controls.guidance_scale)
        if controls.diffusion_steps is not None:
            kwargs["num_diffusion_steps"] = int(controls.diffusion_steps)
        with torch.inference_mode():
            if prompt is not None:
                inputs = self._embed(vm, inputs, prompt)
            audio = vm.model.generate(**inputs, stopping_criteria=self.stopping(stop), **kwargs)
        return self.to_numpy(audio[0] if audio else None)


class Csm(Family):
    name = "csm"
    model_class = "CsmForConditionalGeneration"
    frame_rate = 12.5
    needs_transcript = True
    controls = ("temperature", "top_k")
    best_reference_seconds = 10.0
    max_reference_seconds = 20.0

    def inputs(self, vm: Any, reference: np.ndarray, transcript: str | None, text: str) -> Any:
        if not transcript:
            raise ConfigError(
                f"'{vm.name}' (CSM) needs the reference transcript: type what is said in the clip, "
                "or configure a speech-recognition model to fill it in.",
                key="errors.voice.csm_needs_transcript",
                model=vm.name,
            )
        conversation = [
            {
                "role": "0",
                "content": [
                    {"type": "text", "text": transcript},
                    {"type": "audio", "audio": reference},
                ],
            },
            {"role": "0", "content": [{"type": "text", "text": text}]},
        ]
        inputs = vm.processor.apply_chat_template(conversation, tokenize=True, return_dict=True)
        return inputs.to(vm.model.device, vm.model.dtype)

    def generate(
        self, vm, reference, transcript, text, *, controls, max_frames, stop=None, prompt=None
    ):
        import torch

        inputs = self.inputs(vm, reference, transcript, text)
        kwargs: dict[str, Any] = {"max_new_tokens": max_frames, "output_audio": True}
        if controls.temperature is not None:
            kwargs.update(do_sample=controls.temperature > 0, temperature=controls.temperature)
            kwargs["depth_decoder_temperature"] = controls.temperature
        if controls.top_k is not None:
            kwargs["top_k"] = int(controls.top_k)
        with torch.inference_mode():
            audio = vm.model.generate(**inputs, stopping_criteria=self.stopping(stop), **kwargs)
        return self.to_numpy(audio[0] if audio else None)


class PocketTts(Family):
    name = "pocket-tts"
    model_class = "PocketTTSForConditionalGeneration"
    frame_rate = 12.5
    controls = ("temperature",)
    # Kyutai: about 5 seconds of clean speech clone a voice.
    best_reference_seconds = 8.0
    max_reference_seconds = 20.0
    languages = ("en", "fr", "de", "pt", "it", "es")

    @staticmethod
    def conversation(text: str, reference: np.ndarray | None = None) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if reference is not None:
            content.append({"type": "audio", "audio": reference})
        return [{"role": "0", "content": content}]

    def encode_prompt(self, vm: Any, reference: np.ndarray) -> Any:
        """The voice's codec latents ``(frames, latent_dim)``, encoded once for all sentences."""
        inputs = vm.processor.apply_chat_template(
            self.conversation(".", reference), tokenize=True, return_dict=True, return_tensors="pt"
        )
        latents, mask = inputs["audio_prompt_latents"][0], inputs["audio_prompt_latents_mask"][0]
        return latents[mask.bool()]

    def inputs(self, vm: Any, text: str, prompt: Any) -> Any:
        rendered = vm.processor.apply_chat_template(
            self.conversation(text, np.zeros(1, dtype=np.float32)), tokenize=False
        )
        inputs = vm.processor(text=rendered, audio_prompt_latents=[prompt], return_tensors="pt")
        return inputs.to(vm.model.device)

    def generate(
        self, vm, reference, transcript, text, *, controls, max_frames, stop=None, prompt=None
    ):
        # Pocket TTS's generate takes no stopping criteria (it drops them with a warning):
        # a cancel lands between sentences, which are a few seconds each.
        import torch

        if prompt is None:
            prompt = self.encode_prompt(vm, reference)
        inputs = self.inputs(vm, text, prompt)
        kwargs: dict[str, Any] = {"max_new_tokens": max_frames, "return_dict_in_generate": True}
        if controls.temperature is not None:
            kwargs.update(do_sample=controls.temperature > 0)
            if controls.temperature > 0:
                kwargs["temperature"] = float(controls.temperature)
        with torch.inference_mode():
            out = vm.model.generate(**inputs, **kwargs)
            latents = out.audio_latents[0][out.audio_latents_mask[0].bool()]
            if latents.shape[0] == 0:
                return np.zeros(0, dtype=np.float32)
            return self.to_numpy(vm.processor.decode(latents))


FAMILIES: dict[str, Family] = {f.name: f for f in (VibeVoice(), Csm(), PocketTts())}


def family_of(name: str | None, *, where: str = "") -> Family:
    """The family object for ``options.family`` (or a config ``model_type``)."""
    family = FAMILIES.get((name or "").replace("_", "-").lower())
    if family is None:
        raise ConfigError(
            f"{where}voice-clone family '{name}' is not supported. Set options.family to one of: "
            f"{', '.join(FAMILIES)}.",
            key="errors.voice.unknown_family",
            where=where,
            family=str(name),
            families=", ".join(FAMILIES),
        )
    return family


def check_cancel(stop: threading.Event | None, done: int, total: int) -> None:
    if stop is not None and stop.is_set():
        raise CancelledError(
            f"Cancelled after {done} of {total} sentences.",
            key="errors.voice.cancelled",
            done=done,
            total=total,
        )
