"""AUTOMATIC1111-style prompt weights: ``(word)``, ``((word))``, ``(word:1.3)``, ``[word]``.

``parse_weights`` turns a prompt into ``[(text, weight), ...]`` fragments the
same way the AUTOMATIC1111 web UI does, so prompts copied from the Stable
Diffusion community mean the same thing here:

- ``(text)`` multiplies the weight by 1.1, ``[text]`` divides it by 1.1;
  brackets nest and multiply: ``((text))`` is 1.21.
- ``(text:1.3)`` multiplies by 1.3 (a number, optionally signed).
- ``\\(``, ``\\)``, ``\\[``, ``\\]`` and ``\\\\`` are literal characters.
- A bracket left open runs to the end of the prompt; a stray closing one is
  ignored.
- ``BREAK`` (upper case, a word on its own) starts a new 75-token chunk.

Neighbouring fragments with the same weight are merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UP = 1.1
DOWN = 1 / 1.1
BREAK = "BREAK"

_TOKEN = re.compile(
    r"""
    \\\( | \\\) | \\\[ | \\\] | \\\\ | \\      # escapes (and a lone backslash)
    | \(                                     # open: weight up
    | \[                                     # open: weight down
    | :\s*([+-]?[.\d]+)\s*\)                 # ':1.3)' closes with an explicit weight
    | \)                                     # close
    | \]                                     # close
    | [^\\()\[\]:]+                          # plain text
    | :                                      # a colon that is not a weight
    """,
    re.X,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


@dataclass(frozen=True)
class Fragment:
    text: str
    weight: float


def parse_weights(prompt: str) -> list[tuple[str, float]]:
    """``[(text, weight), ...]``; a ``BREAK`` appears as ``("BREAK", -1.0)``."""
    out: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for item in out[start:]:
            item[1] *= factor

    for match in _TOKEN.finditer(prompt):
        token, weight = match.group(0), match.group(1)
        if token.startswith("\\"):
            out.append([token[1:], 1.0])
        elif token == "(":
            round_open.append(len(out))
        elif token == "[":
            square_open.append(len(out))
        elif weight is not None and round_open:
            scale(round_open.pop(), _number(weight))
        elif token == ")" and round_open:
            scale(round_open.pop(), UP)
        elif token == "]" and square_open:
            scale(square_open.pop(), DOWN)
        elif weight is not None:
            out.append([token, 1.0])  # ':1.3)' with nothing open: literal text
        elif token in (")", "]"):
            continue  # a stray closing bracket
        else:
            for i, part in enumerate(_BREAK.split(token)):
                if i > 0:
                    out.append([BREAK, -1.0])
                if part:
                    out.append([part, 1.0])
    for start in round_open:
        scale(start, UP)
    for start in square_open:
        scale(start, DOWN)
    return _merge(out)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 1.0  # '(word:.)' is not a number: leave the weight alone


def _merge(items: list[list]) -> list[tuple[str, float]]:
    merged: list[list] = []
    for text, weight in items:
        if merged and weight != -1.0 and merged[-1][1] == weight:
            merged[-1][0] += text
        else:
            merged.append([text, weight])
    if not merged:
        return [("", 1.0)]
    return [(text, weight) for text, weight in merged]


def sections(prompt: str) -> list[list[tuple[str, float]]]:
    """The prompt's fragments, split into the sections that ``BREAK`` separates."""
    result: list[list[tuple[str, float]]] = [[]]
    for text, weight in parse_weights(prompt):
        if weight == -1.0 and text == BREAK:
            result.append([])
        else:
            result[-1].append((text, weight))
    return [s or [("", 1.0)] for s in result]


def is_weighted(prompt: str) -> bool:
    """True when the prompt uses weights, escapes or BREAK (so plain text would change it)."""
    fragments = parse_weights(prompt)
    return any(w != 1.0 for _, w in fragments) or "".join(t for t, _ in fragments) != prompt


def plain_text(prompt: str) -> str:
    """The prompt with the weight syntax removed, for pipelines that cannot weight."""
    return " ".join(
        "".join(text for text, _ in section).strip() for section in sections(prompt)
    ).strip()
