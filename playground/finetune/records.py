"""Fine-tuning records and their problems: one checked record becomes chat messages.

``to_record`` checks one parsed value (Alpaca, ShareGPT or messages form) and
turns it into a ``Record``, or reports every ``Issue`` with its record number,
line and field. ``decode_lines`` splits a file's bytes into lines, reporting
the ones that are not UTF-8. The readers of whole files are in
``playground.finetune.dataset`` (JSON, JSONL) and ``playground.finetune.csv_dataset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playground.errors import InputError

ROLE_ALIASES = {
    "system": "system",
    "user": "user",
    "human": "user",
    "prompt": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
}


@dataclass
class Issue:
    """One problem in the file: where it is and what to do."""

    record: int | None  # 1-based record number (None: the whole file)
    line: int | None  # 1-based line in the file, where known
    field: str | None
    kind: str  # missing field | empty output | wrong type | unknown role | bad encoding | bad json | ...
    message: str

    def __str__(self) -> str:
        where = []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where) or "file"
        return f"{prefix}: {self.kind}: {self.message}"


@dataclass
class Record:
    """One training example as chat messages (roles: system, user, assistant)."""

    messages: list[dict[str, str]]
    number: int  # 1-based record number in the source file
    line: int | None = None


@dataclass
class ParsedDataset:
    """The result of reading a file: good records, problems, and the detected form."""

    records: list[Record]
    issues: list[Issue]
    format: str
    source: str = ""
    sha256: str = ""
    total: int = 0  # records seen, valid or not

    @property
    def ok(self) -> bool:
        return not self.issues and bool(self.records)

    def raise_for_issues(self, limit: int = 10) -> None:
        """Raise an ``InputError`` listing the first problems, if there are any."""
        if self.issues:
            shown = "\n".join(f"- {i}" for i in self.issues[:limit])
            more = len(self.issues) - limit
            extra = f"\n... and {more} more" if more > 0 else ""
            source = self.source or "dataset"
            raise InputError(
                f"{source}: {len(self.issues)} problem(s) found; fix them and "
                f"upload again:\n{shown}{extra}",
                key="errors.finetune.dataset_problems_more"
                if more > 0
                else "errors.finetune.dataset_problems",
                source=source,
                count=len(self.issues),
                problems=shown,
                more=more,
            )
        if not self.records:
            source = self.source or "dataset"
            raise InputError(
                f"{source}: no records found; the file is empty.",
                key="errors.finetune.no_records",
                source=source,
            )


def decode_lines(data: bytes) -> tuple[list[tuple[int, str]], list[Issue]]:
    """Split into (line number, text) pairs; a line that is not UTF-8 becomes an issue."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines, issues = [], []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append((number, raw.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError as exc:
            issues.append(
                Issue(
                    None,
                    number,
                    None,
                    "bad encoding",
                    f"byte {exc.start + 1} of this line is not UTF-8 "
                    f"({raw[exc.start : exc.start + 1]!r}); save the file as UTF-8.",
                )
            )
            lines.append((number, None))  # keeps record numbering honest
    return lines, issues


def to_record(
    value: Any, form: str, number: int, line: int | None
) -> tuple[Record | None, list[Issue]]:
    """Check one parsed record and turn it into chat messages."""
    if not isinstance(value, dict):
        return None, [
            Issue(
                number,
                line,
                None,
                "wrong type",
                f"a record must be a JSON object, got {_type(value)}",
            )
        ]
    if form in ("sharegpt", "messages"):
        return _conversation_record(value, number, line)
    return alpaca_record(value, number, line)


def alpaca_record(value: dict, number: int, line: int | None) -> tuple[Record | None, list[Issue]]:
    issues = []
    for name in ("instruction", "output"):
        if name not in value:
            issues.append(
                Issue(
                    number,
                    line,
                    name,
                    "missing field",
                    f"Alpaca records need '{name}' (have: {', '.join(value) or 'nothing'})",
                )
            )
    for name in ("instruction", "input", "output", "system"):
        if name in value and value[name] is not None and not isinstance(value[name], str):
            issues.append(
                Issue(
                    number,
                    line,
                    name,
                    "wrong type",
                    f"must be text (a string), got {_type(value[name])}",
                )
            )
    if issues:
        return None, issues
    output = value["output"] or ""
    if not output.strip():
        return None, [
            Issue(
                number,
                line,
                "output",
                "empty output",
                "the answer is empty; write the reply the model should learn, or drop the record",
            )
        ]
    prompt = (value.get("instruction") or "").strip()
    extra = (value.get("input") or "").strip()
    if extra:
        prompt = f"{prompt}\n\n{extra}" if prompt else extra
    if not prompt:
        return None, [
            Issue(
                number,
                line,
                "instruction",
                "empty instruction",
                "both 'instruction' and 'input' are empty",
            )
        ]
    messages = []
    if (value.get("system") or "").strip():
        messages.append({"role": "system", "content": value["system"].strip()})
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
    return Record(messages, number, line), []


def _conversation_record(
    value: dict, number: int, line: int | None
) -> tuple[Record | None, list[Issue]]:
    key = "conversations" if "conversations" in value else "messages"
    if key not in value:
        return None, [
            Issue(
                number,
                line,
                "messages",
                "missing field",
                "multi-turn records need 'conversations' (ShareGPT) or 'messages'",
            )
        ]
    turns = value[key]
    if not isinstance(turns, list):
        return None, [
            Issue(number, line, key, "wrong type", f"must be a list of turns, got {_type(turns)}")
        ]
    issues, messages = [], []
    if isinstance(value.get("system"), str) and value["system"].strip():
        messages.append({"role": "system", "content": value["system"].strip()})
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            issues.append(
                Issue(
                    number,
                    line,
                    where,
                    "wrong type",
                    f"a turn must be an object, got {_type(turn)}",
                )
            )
            continue
        role_key = "from" if "from" in turn else "role"
        text_key = "value" if "value" in turn else "content"
        if role_key not in turn:
            issues.append(
                Issue(
                    number,
                    line,
                    f"{where}.role",
                    "missing field",
                    "each turn needs 'role' (or 'from')",
                )
            )
            continue
        if text_key not in turn:
            issues.append(
                Issue(
                    number,
                    line,
                    f"{where}.content",
                    "missing field",
                    "each turn needs 'content' (or 'value')",
                )
            )
            continue
        role, text = turn[role_key], turn[text_key]
        if not isinstance(text, str):
            issues.append(
                Issue(
                    number,
                    line,
                    f"{where}.{text_key}",
                    "wrong type",
                    f"must be text (a string), got {_type(text)}",
                )
            )
            continue
        mapped = ROLE_ALIASES.get(str(role).lower()) if isinstance(role, str) else None
        if mapped is None:
            issues.append(
                Issue(
                    number,
                    line,
                    f"{where}.{role_key}",
                    "unknown role",
                    f"'{role}' is not a role; use system, user/human or assistant/gpt",
                )
            )
            continue
        if mapped == "assistant" and not text.strip():
            issues.append(
                Issue(
                    number,
                    line,
                    f"{where}.{text_key}",
                    "empty output",
                    "an assistant turn is empty; write the reply or remove the turn",
                )
            )
            continue
        messages.append({"role": mapped, "content": text})
    if issues:
        return None, issues
    if not any(m["role"] == "assistant" for m in messages):
        return None, [
            Issue(
                number,
                line,
                key,
                "empty output",
                "the conversation has no assistant turn, so there is nothing to learn",
            )
        ]
    if not any(m["role"] == "user" for m in messages):
        return None, [
            Issue(number, line, key, "missing field", "the conversation has no user turn")
        ]
    return Record(messages, number, line), []


def _type(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "text",
        bool: "true/false",
        type(None): "null",
    }.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)
