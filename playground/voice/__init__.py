"""Voice engine: reference-clip checks, sentence splitting, voice cloning, saved voices.

Plain Python (no gradio) used by the Voice tab, the Chat tab's Speak button and
``playground voice``.
"""

from playground.voice.audio import Audio, read_audio, read_wav_info
from playground.voice.checks import ClipIssue, ClipLimits, ClipReport, prepare_reference
from playground.voice.engine import (
    AI_NOTE,
    CONSENT_STATEMENT,
    Reference,
    SentenceDone,
    SynthesisResult,
    VoiceSettings,
    check_reference,
    clone,
    clone_stream,
    require_consent,
)
from playground.voice.lineup import VoicePick, pick_voice_model, text_language
from playground.voice.text import split_sentences
from playground.voice.voices import SavedVoice, VoiceLibrary

__all__ = [
    "AI_NOTE",
    "CONSENT_STATEMENT",
    "Audio",
    "ClipIssue",
    "ClipLimits",
    "ClipReport",
    "Reference",
    "SavedVoice",
    "SentenceDone",
    "SynthesisResult",
    "VoiceLibrary",
    "VoicePick",
    "VoiceSettings",
    "check_reference",
    "clone",
    "clone_stream",
    "pick_voice_model",
    "prepare_reference",
    "read_audio",
    "read_wav_info",
    "require_consent",
    "split_sentences",
    "text_language",
]
