"""Text helpers shared by the chunker and keyword search: token counting and
tokenizing for BM25, in Chinese as well as English.

Token counting is a fast, model-free approximation: every CJK character is one
token, every run of letters/digits is one token, every other visible character
is one token. It never undercounts words, so a chunk that fits the budget here
fits an embedding model's window of the same size in word pieces for most text.
"""

from __future__ import annotations

import re
from functools import lru_cache

# CJK unified ideographs (+ extension A, compatibility), kana and hangul.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
TOKEN_RE = re.compile(rf"[{CJK}]|[^\W_{CJK}]+(?:['’][^\W_{CJK}]+)*|[^\s]", re.UNICODE)
CJK_RUN_RE = re.compile(rf"[{CJK}]+")
WORD_RE = re.compile(rf"[^\W_{CJK}]+", re.UNICODE)
HAS_CJK_RE = re.compile(rf"[{CJK}]")

# Small stop lists: BM25 down-weights frequent words anyway, these just keep
# the index smaller and stop "the"/"的" from matching everything.
EN_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
ZH_STOP = frozenset(
    [
        "的",
        "了",
        "和",
        "是",
        "在",
        "就",
        "都",
        "而",
        "及",
        "与",
        "着",
        "或",
        "一个",
        "没有",
        "我们",
        "你们",
        "他们",
        "这",
        "那",
        "之",
        "也",
        "吗",
        "呢",
        "吧",
        "啊",
    ]
)


def has_cjk(text: str) -> bool:
    return bool(HAS_CJK_RE.search(text))


def language_of(text: str) -> str:
    """``"zh"`` for text with Chinese (or other CJK) characters, else ``"en"``."""
    return "zh" if has_cjk(text) else "en"


def token_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every counted token in ``text``."""
    return [m.span() for m in TOKEN_RE.finditer(text)]


def count_tokens(text: str) -> int:
    return sum(1 for _ in TOKEN_RE.finditer(text))


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def keyword_tokens(text: str) -> list[str]:
    """Tokens for BM25: lower-cased words, and Chinese segmented into words by jieba.

    jieba's search mode also yields the sub-words of long compounds, which is
    what lets a query for "数据库" match a passage about "分布式数据库".
    """
    text = text.lower()
    out: list[str] = []
    pos = 0
    for match in CJK_RUN_RE.finditer(text):
        out.extend(_words(text[pos : match.start()]))
        for word in _jieba().cut_for_search(match.group()):
            if word.strip() and word not in ZH_STOP:
                out.append(word)
        pos = match.end()
    out.extend(_words(text[pos:]))
    return out


def _words(text: str) -> list[str]:
    return [w for w in WORD_RE.findall(text) if w not in EN_STOP]
