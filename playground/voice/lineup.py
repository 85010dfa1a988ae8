"""Which voice model speaks this text: the text's language, the model line-up, the device.

Voice models speak a few languages each (Pocket TTS: six European languages,
no Chinese; VibeVoice: English and Chinese; CSM: English). A model asked to
read a language it never learnt mumbles, so the engine picks a model that
speaks the text's language, says which and why, and refuses a model that
cannot speak it, naming the ones that can.

Auto picks, among the models that speak the language: on a CPU the lightest
(``memory_gb``; Pocket TTS runs faster than real time there), on a GPU the
first listed in ``models.yaml`` (VibeVoice, the richer voice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playground.errors import InputError

AUTO = "auto"
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "fr": "French", "de": "German", "pt": "Portuguese",
    "it": "Italian", "es": "Spanish", "ja": "Japanese", "ko": "Korean", "ru": "Russian",
    "ar": "Arabic",
}  # fmt: skip
# Script ranges that name the language on their own.
_SCRIPTS = [
    ("ja", re.compile(r"[\u3040-\u30ff]")),  # kana first: Japanese also writes kanji
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
]
# Frequent short words that tell Latin-script languages apart (English wins ties).
_STOPWORDS_TEXT = {
    "en": "the and is are of to you it that this with have what for not",
    "fr": "le la les et est une des du je vous nous pas que qui dans pour avec",
    "de": "der die das und ist nicht ich sie ein eine mit auf den dem zu",
    "es": "el los las y es una del que por con para pero como muy está",
    "it": "il lo gli della che non sono una per con come anche questo è",
    "pt": "o os as um uma não que com para por mais muito está são você",
}
_STOPWORDS = {code: frozenset(words.split()) for code, words in _STOPWORDS_TEXT.items()}


@dataclass(frozen=True)
class VoicePick:
    """The voice model for a text, the text's language, and why this model."""

    model: str
    language: str
    reason: str


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def text_language(text: str) -> str:
    """The main language of ``text`` as a code (``en`` when nothing says otherwise)."""
    letters = [ch for ch in text or "" if ch.isalpha()]
    if not letters:
        return "en"
    for code, script in _SCRIPTS:
        # Any Chinese character needs a model that reads Chinese; another script
        # counts once it is a quarter of the letters (not for one quoted name).
        if len(script.findall(text)) * 4 >= len(letters) or (code == "zh" and script.search(text)):
            return code
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {code: sum(w in words_ for w in words) for code, words_ in _STOPWORDS.items()}
    best = max(scores, key=lambda code: (scores[code], code == "en"))
    return best if scores[best] > scores["en"] else "en"


def speaks(registry: Any, name: str) -> tuple[str, ...]:
    """The languages of a voice model: its entry's ``languages``, else its family's."""
    from playground.voice.families import family_of

    entry = registry.entry(name)
    if entry.languages:
        return tuple(entry.languages)
    return family_of(entry.options.get("family", "vibevoice")).languages


def speakers_of(registry: Any, language: str) -> list[str]:
    """Voice models (in ``models.yaml`` order) that speak ``language``."""
    return [n for n in registry.names("voice-clone") if language in speaks(registry, n)]


def pick_voice_model(
    registry: Any, text: str, *, chosen: str | None = None, device: str | None = None
) -> VoicePick:
    """The model to read ``text``: ``chosen`` if it speaks the language, else an auto pick.

    Raises ``InputError`` when ``chosen`` cannot speak the text's language (the
    message names the models that can), or when no configured model can.
    """
    language = text_language(text)
    lang = language_name(language)
    able = speakers_of(registry, language)
    if chosen and chosen != AUTO:
        if language in speaks(registry, chosen):
            return VoicePick(chosen, language, f"you picked {chosen}; it speaks {lang}")
        others = ", ".join(able) if able else "none is configured"
        spoken = ", ".join(language_name(c) for c in speaks(registry, chosen))
        raise InputError(
            f"'{chosen}' cannot speak {lang} (it speaks {spoken}). Models that can "
            f"speak {lang}: {others}. Pick one of them, or Auto (CLI: leave out --model).",
            key="errors.voice.cannot_speak" if able else "errors.voice.cannot_speak_none_can",
            model=chosen,
            lang=lang,
            speaks=spoken,
            others=others,
        )
    if not able:
        raise InputError(
            f"No configured voice model speaks {lang}. Add one to models.yaml (VibeVoice "
            "speaks Chinese and English; Pocket TTS six European languages).",
            key="errors.voice.no_model_speaks",
            lang=lang,
        )
    device = device or _device_of(registry, able[0])
    if device.startswith("cpu"):
        lightest = min(able, key=lambda n: registry.entry(n).memory_gb or float("inf"))
        why = f"the lightest model that speaks {lang}, the fastest on this CPU"
        return VoicePick(lightest, language, f"{lightest}: {why}")
    return VoicePick(
        able[0], language, f"{able[0]}: the first model in models.yaml that speaks {lang}"
    )


def _device_of(registry: Any, name: str) -> str:
    from playground.device import resolve_device

    return resolve_device(registry.config.resolve_device(registry.entry(name)))
