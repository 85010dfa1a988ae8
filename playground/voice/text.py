"""Split text into sentences (Chinese and English punctuation) for sentence-by-sentence synthesis.

Voice models drift or babble on long inputs; one sentence at a time with the
same voice prompt keeps them on track. Pieces longer than ``max_chars`` are
split again at commas, then at spaces (or anywhere, for Chinese).
"""

from __future__ import annotations

import re

# Sentence ends: CJK marks always; ASCII . ! ? ; only before whitespace or the end.
_CJK_END = "。！？；…"
_CLOSERS = "\"'”’」』）)】》"
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no",
    "fig", "inc", "ltd", "co", "mt", "approx",
}  # fmt: skip
_SENTENCE_END = re.compile(
    rf"([{_CJK_END}]+[{re.escape(_CLOSERS)}]*)"  # 你好。 / 真的？」
    rf"|([.!?;]+[{re.escape(_CLOSERS)}]*)(?=\s|$)"  # Hello. / "Yes!"
)
_SOFT_BREAK = re.compile(r"(?<=[,，、：:])\s*")


def split_sentences(text: str, max_chars: int = 200) -> list[str]:
    """Sentences of ``text`` in order, each at most ``max_chars`` characters."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*", text or ""):
        pieces.extend(_split_paragraph(paragraph.strip()))
    out: list[str] = []
    for piece in pieces:
        out.extend(_limit(piece, max_chars))
    return [p for p in out if _speakable(p)]


def _split_paragraph(text: str) -> list[str]:
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if (
            match.group(2)
            and match.group(2).startswith(".")
            and _is_abbreviation(text, match.start())
        ):
            continue
        sentences.append(text[start:end].strip())
        start = end
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z.]+)$", text[:dot])
    if not word:
        return False
    token = word.group(1).lower().strip(".")
    # "Mr." / "e.g." / single initials like "J. R. R. Tolkien"
    return token in _ABBREVIATIONS or (len(token) == 1 and word.group(1).isupper())


def _limit(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    parts, current = [], ""
    for clause in _SOFT_BREAK.split(sentence):
        if current and len(current) + len(clause) > max_chars:
            parts.append(current.strip())
            current = ""
        current += clause if not current or _is_cjk(clause[:1]) else " " + clause
    if current.strip():
        parts.append(current.strip())
    out = []
    for part in parts:
        out.extend(_hard_wrap(part, max_chars) if len(part) > max_chars else [part])
    return out


def _hard_wrap(text: str, max_chars: int) -> list[str]:
    """Wrap at spaces where there are any, else every ``max_chars`` characters."""
    if " " not in text:
        return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > max_chars:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return [chunk for line in lines for chunk in _hard_wrap_word(line, max_chars)]


def _hard_wrap_word(text: str, max_chars: int) -> list[str]:
    return [text[i : i + max_chars] for i in range(0, len(text), max_chars)]


def _is_cjk(char: str) -> bool:
    return bool(char) and "\u3000" <= char <= "\u9fff"


def _speakable(text: str) -> bool:
    """At least one letter, digit or CJK character (not just punctuation)."""
    return any(ch.isalnum() for ch in text)


def speech_units(text: str) -> float:
    """Rough spoken length: a CJK character counts as a syllable, ~3 letters as one."""
    cjk = sum(1 for ch in text if _is_cjk(ch))
    other = sum(1 for ch in text if ch.isalnum() and not _is_cjk(ch))
    return cjk + other / 3.0


def estimate_seconds(text: str) -> float:
    """Expected speaking time at an everyday pace (~4 syllables a second)."""
    return speech_units(text) / 4.0
