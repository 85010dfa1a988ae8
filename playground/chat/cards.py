"""Role cards: export a role as JSON, import ours or SillyTavern-style character cards.

An exported card is a valid SillyTavern "chara_card_v2" (so other tools can
read it) whose ``data.extensions.aigc_playground`` holds the exact sections,
so importing it back gives the identical role. Character cards from other
tools (V1 fields, V2/V3 ``data`` blocks, or a PNG with the JSON embedded) are
mapped onto the sections:

    name -> name               description, personality -> role
    scenario -> context        system_prompt -> task
    first_mes -> first message mes_example -> examples (few-shot pairs)
    post_history_instructions -> constraints
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from typing import Any

from playground.chat.roles import Example, Role, slugify
from playground.errors import InputError

EXTENSION = "aigc_playground"
CARD_VERSION = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Fields that mark a JSON object as a character card (V1 and Pygmalion-style names).
CHARACTER_FIELDS = {
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "system_prompt",
    "char_name",
    "char_persona",
    "world_scenario",
    "char_greeting",
    "example_dialogue",
}


def export_card(role: Role) -> dict[str, Any]:
    """A JSON-ready card for ``role`` (SillyTavern V2 layout plus our exact sections)."""
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": role.name,
            "description": role.role,
            "personality": "",
            "scenario": role.context,
            "first_mes": role.first_message,
            "mes_example": _format_examples(role.examples),
            "system_prompt": role.system_prompt(),
            "post_history_instructions": "",
            "creator_notes": role.description,
            "alternate_greetings": [],
            "tags": [],
            "creator": "AIGC Playground",
            "character_version": "",
            "extensions": {EXTENSION: {"version": CARD_VERSION, "role": role.to_dict()}},
        },
    }


def export_card_json(role: Role) -> str:
    return json.dumps(export_card(role), ensure_ascii=False, indent=2) + "\n"


def import_card(source: str | bytes | dict[str, Any], *, name: str = "card") -> Role:
    """A role from a card: JSON text/bytes, a parsed dict, or PNG bytes with an embedded card.

    Raises ``InputError`` saying what is wrong when the card cannot be used.
    """
    data = source if isinstance(source, dict) else _parse(source, name)
    if not isinstance(data, dict):
        raise InputError(
            f"{name}: a role card is a JSON object, got a JSON {type(data).__name__}",
            key="errors.card.not_object",
            name=name,
            kind=type(data).__name__,
        )
    block = data.get("data") if isinstance(data.get("data"), dict) else None
    extensions = (block if block is not None else data).get("extensions")
    ours = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
    if isinstance(ours, dict):
        if not isinstance(ours.get("role"), dict):
            raise InputError(
                f"{name}: the aigc_playground block has no 'role' object",
                key="errors.card.no_role_block",
                name=name,
            )
        role = Role.from_dict(ours["role"], where=name)
        role.preset = False
        return role
    if block is not None and str(data.get("spec", "")).startswith("chara_card"):
        return character_to_role(block, name=name)
    if ("name" in data or "char_name" in data) and CHARACTER_FIELDS & set(data):
        return character_to_role(data, name=name)
    keys = ", ".join(sorted(data)[:10]) or "none"
    raise InputError(
        f"{name}: not a role card. Expected a card exported from this app or a character card "
        f"with 'name' and fields such as description, personality, scenario, first_mes; found "
        f"keys: {keys}",
        key="errors.card.not_a_card",
        name=name,
        keys=keys,
    )


def character_to_role(card: dict[str, Any], *, name: str = "card") -> Role:
    """Map SillyTavern / Pygmalion character-card fields onto role sections."""
    char = _text(card, name, "name", "char_name").strip()
    if not char:
        raise InputError(
            f"{name}: the character card has no name ('name' is empty)",
            key="errors.card.no_name",
            name=name,
        )

    def fill(text: str) -> str:
        text = text.replace("{{original}}", "").replace("<BOT>", char).replace("<USER>", "the user")
        return re.sub(
            r"\{\{char\}\}", char, re.sub(r"\{\{user\}\}", "the user", text, flags=re.I), flags=re.I
        ).strip()

    description = fill(_text(card, name, "description", "char_persona"))
    personality = fill(_text(card, name, "personality"))
    role_text = f"You are {char}."
    if description:
        role_text += f"\n{description}"
    if personality:
        role_text += f"\nPersonality: {personality}"
    constraints = fill(_text(card, name, "post_history_instructions"))
    all_text = " ".join([char, description, personality, _text(card, name, "first_mes")])
    return Role.from_dict(
        {
            "id": slugify(char),
            "name": char,
            "description": fill(_text(card, name, "creator_notes"))[:300],
            "language": "zh" if re.search(r"[\u4e00-\u9fff]", all_text) else "en",
            "role": role_text,
            "context": fill(_text(card, name, "scenario", "world_scenario")),
            "task": fill(_text(card, name, "system_prompt")),
            "first_message": fill(_text(card, name, "first_mes", "char_greeting")),
            "examples": [
                {"input": e.input, "output": e.output}
                for e in parse_example_dialogue(
                    _text(card, name, "mes_example", "example_dialogue"), char
                )
            ],
            "constraints": [line for line in constraints.splitlines() if line.strip()],
        },
        where=name,
    )


def parse_example_dialogue(text: str, char: str = "") -> list[Example]:
    """``<START>`` blocks of ``{{user}}: ...`` / ``{{char}}: ...`` lines as few-shot pairs."""
    speaker = re.compile(
        r"^\s*(\{\{user\}\}|<USER>|You|\{\{char\}\}|<BOT>"
        + (f"|{re.escape(char)}" if char else "")
        + r")\s*:\s?(.*)$",
        re.I,
    )
    pairs: list[Example] = []
    for block in re.split(r"<START>", text, flags=re.I):
        turns: list[list[str]] = []  # [who, text]
        for line in block.splitlines():
            match = speaker.match(line)
            if match:
                who = "user" if match.group(1).lower() in ("{{user}}", "<user>", "you") else "char"
                turns.append([who, match.group(2)])
            elif turns and line.strip():
                turns[-1][1] += "\n" + line.strip()
        pending = None
        for who, said in turns:
            if who == "user":
                pending = said.strip()
            elif pending is not None:
                pairs.append(Example(pending, said.replace("{{char}}", char).strip()))
                pending = None
    return pairs


def _format_examples(examples: list[Example]) -> str:
    return "\n".join(
        f"<START>\n{{{{user}}}}: {e.input}\n{{{{char}}}}: {e.output}" for e in examples
    )


def _text(card: dict[str, Any], name: str, *keys: str) -> str:
    for key in keys:
        value = card.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(
                f"{name}: character-card field '{key}' must be text, got {type(value).__name__}",
                key="errors.card.field_not_text",
                name=name,
                field=key,
                kind=type(value).__name__,
            )
        return value
    return ""


def _parse(source: str | bytes, name: str) -> Any:
    if isinstance(source, bytes):
        if source.startswith(PNG_SIGNATURE):
            source = _png_card_text(source, name)
        else:
            try:
                source = source.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InputError(
                    f"{name}: not UTF-8 text; a role card is a .json (or .png) file",
                    key="errors.card.not_utf8",
                    name=name,
                ) from None
    if not source.strip():
        raise InputError(f"{name}: the card is empty", key="errors.card.empty", name=name)
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "Export the card again, or check it in a JSON validator.",
            key="errors.card.bad_json",
            name=name,
            line=exc.lineno,
            column=exc.colno,
            reason=exc.msg,
        ) from None
    except RecursionError:  # e.g. [[[[...]]]] 100,000 deep: no real card looks like that
        raise InputError(
            f"{name}: the JSON is nested too deeply to be a role card. Export the card again.",
            key="errors.card.too_deep",
            name=name,
        ) from None


def _png_card_text(data: bytes, name: str) -> str:
    """The card JSON embedded in a PNG's ``chara``/``ccv3`` text chunk (base64)."""
    pos, found = len(PNG_SIGNATURE), {}
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1").lower()] = value
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            found[key.decode("latin-1").lower()] = zlib.decompress(rest[1:])
    raw = found.get("ccv3") or found.get("chara")
    if raw is None:
        raise InputError(
            f"{name}: this PNG has no embedded character card ('chara' text chunk)",
            key="errors.card.png_no_card",
            name=name,
        )
    try:
        return base64.b64decode(raw).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise InputError(
            f"{name}: the PNG's character card is not valid base64 JSON",
            key="errors.card.png_bad_base64",
            name=name,
        ) from None
