"""Sampling settings for one reply, with per-model defaults from ``models.yaml``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from playground.errors import ConfigError, InputError


@dataclass
class GenerationSettings:
    """How a reply is sampled.

    ``temperature`` 0 means greedy decoding (always the most likely token).
    ``seed`` makes sampling reproducible: the same seed, prompt and settings
    give the same reply; ``None`` draws a fresh one each time.
    """

    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.0
    max_new_tokens: int = 512
    seed: int | None = None
    # Thinking models (Qwen3): reason in <think>…</think> before answering. Off: faster.
    enable_thinking: bool = False

    @classmethod
    def from_options(
        cls, generation: dict[str, Any] | None, **overrides: Any
    ) -> GenerationSettings:
        """Defaults, then a model's ``options.generation`` block, then ``overrides`` (None skipped)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in (generation or {}).items():
            if key not in known:
                raise ConfigError(
                    f"options.generation has an unknown key '{key}'. Allowed keys: "
                    + ", ".join(sorted(known)),
                    key="errors.chat.unknown_generation_key",
                    option=key,
                    allowed=", ".join(sorted(known)),
                )
            values[key] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    @classmethod
    def for_model(cls, registry: Any, model: str, **overrides: Any) -> GenerationSettings:
        """The settings a model uses by default (its ``options.generation`` in models.yaml)."""
        entry = registry.entry(model)
        generation = entry.options.get("generation")
        if generation is None and entry.base:
            # A LoRA adapter samples like its base model unless it says otherwise.
            generation = registry.entry(entry.base).options.get("generation")
        return cls.from_options(generation, **overrides)

    def validated(self) -> GenerationSettings:
        """Check ranges; raise ``InputError`` naming the bad field and the allowed range."""
        checks = [
            ("temperature", 0.0, 5.0),
            ("top_p", 0.0, 1.0),
            ("top_k", 0, 10_000),
            ("repetition_penalty", 0.5, 3.0),
            ("max_new_tokens", 1, 1_000_000),
        ]
        for name, low, high in checks:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= value <= high:
                raise InputError(
                    f"{name} must be between {low} and {high}, got {value!r}",
                    key="errors.chat.setting_out_of_range",
                    setting=name,
                    low=low,
                    high=high,
                    got=repr(value),
                )
        if self.top_p == 0:
            raise InputError(
                "top_p must be above 0 (1.0 keeps every token)", key="errors.chat.top_p_zero"
            )
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            raise InputError(
                f"seed must be a whole number >= 0 (or empty for random), got {self.seed!r}",
                key="errors.chat.bad_seed",
                got=repr(self.seed),
            )
        return replace(
            self,
            top_k=int(self.top_k),
            max_new_tokens=int(self.max_new_tokens),
            enable_thinking=bool(self.enable_thinking),
        )

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def generate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``transformers`` ``model.generate``."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(
                do_sample=True,
                temperature=self.temperature,
                top_p=self.top_p,
                top_k=self.top_k,  # 0 switches top-k off (None would mean "model default")
            )
        return kwargs
