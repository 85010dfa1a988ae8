"""Read a fine-tuning dataset, check every record, and turn it into chat messages.

Three forms are understood, in JSON (an array) or JSONL (one record a line):

- Alpaca: ``{"instruction", "input" (optional), "output", "system" (optional)}``
- ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}]}``
- Messages: ``{"messages": [{"role": "user"|"assistant"|"system", "content": ...}]}``

and CSV with a column mapping (which column is the instruction, input, output,
system). Every problem is reported with its record number, line and field, so a
person can fix the file without guessing; nothing trains on a file with errors.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import InputError

FORMATS = ("auto", "alpaca", "sharegpt", "messages", "csv")

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

# CSV headers recognised without a mapping: target field -> accepted column names.
CSV_GUESSES = {
    "instruction": ("instruction", "prompt", "question", "query", "input_text", "指令", "问题"),
    "input": ("input", "context", "输入"),
    "output": ("output", "response", "answer", "completion", "target", "回答", "输出"),
    "system": ("system", "system_prompt", "系统"),
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
            raise InputError(
                f"{self.source or 'dataset'}: {len(self.issues)} problem(s) found; fix them and "
                f"upload again:\n{shown}{extra}"
            )
        if not self.records:
            raise InputError(f"{self.source or 'dataset'}: no records found; the file is empty.")


@dataclass
class ColumnMap:
    """Which CSV column feeds which field; None means 'guess from the header'."""

    instruction: str | None = None
    input: str | None = None
    output: str | None = None
    system: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


# ---------------------------------------------------------------- reading


def load_dataset(
    path: str | Path,
    *,
    format: str = "auto",
    columns: ColumnMap | dict | None = None,
) -> ParsedDataset:
    """Read and check a dataset file; never raises for bad records (they become issues)."""
    path = Path(path)
    if format not in FORMATS:
        raise InputError(f"unknown dataset format '{format}'; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    data = path.read_bytes()
    if isinstance(columns, dict):
        columns = ColumnMap(**{k: v or None for k, v in columns.items()})
    suffix = path.suffix.lower()
    if format == "csv" or (format == "auto" and suffix in (".csv", ".tsv")):
        parsed = parse_csv(
            data, columns or ColumnMap(), delimiter="\t" if suffix == ".tsv" else ","
        )
    else:
        parsed = parse_json_bytes(data, format=format, jsonl=_looks_jsonl(data, suffix))
    parsed.source = path.name
    parsed.sha256 = hashlib.sha256(data).hexdigest()
    return parsed


def _looks_jsonl(data: bytes, suffix: str) -> bool:
    """JSONL unless the file is one JSON value (an array, or an object such as {"data": [...]})."""
    if suffix == ".jsonl":
        return True
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"[":
        return False
    if head == b"{":
        try:
            json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return True
        return False
    return True


def _decode_lines(data: bytes) -> tuple[list[tuple[int, str]], list[Issue]]:
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


def parse_json_bytes(data: bytes, *, format: str = "auto", jsonl: bool = True) -> ParsedDataset:
    """Parse JSONL (one record a line) or a JSON array of records."""
    lines, issues = _decode_lines(data)
    raw: list[tuple[int, int | None, Any]] = []  # (record number, line, value)
    if jsonl:
        number = 0
        for line_no, text in lines:
            if text is not None and not text.strip():
                continue
            number += 1
            if text is None:
                issues[_issue_index(issues, line_no)].record = number
                continue
            try:
                raw.append((number, line_no, json.loads(text)))
            except json.JSONDecodeError as exc:
                issues.append(
                    Issue(
                        number,
                        line_no,
                        None,
                        "bad json",
                        f"{exc.msg} at column {exc.colno}; each line must be one JSON object.",
                    )
                )
    else:
        if issues:  # a JSON array with undecodable bytes cannot be parsed record by record
            return ParsedDataset([], issues, format, total=0)
        text = "\n".join(t for _, t in lines)
        raw, more = _split_json_array(text)
        issues.extend(more)
    detected = format if format != "auto" else _detect_format([v for _, _, v in raw])
    records = []
    for number, line_no, value in raw:
        record, problems = to_record(value, detected, number, line_no)
        issues.extend(problems)
        if record is not None and not problems:
            records.append(record)
    issues.sort(key=lambda i: (i.record or 0, i.line or 0))
    total = max([n for n, _, _ in raw] + [i.record or 0 for i in issues] + [0])
    return ParsedDataset(records, issues, detected, total=total)


def _issue_index(issues: list[Issue], line_no: int) -> int:
    return next(i for i, issue in enumerate(issues) if issue.line == line_no)


def _split_json_array(text: str) -> tuple[list[tuple[int, int, Any]], list[Issue]]:
    """Walk a JSON array element by element, remembering the line each starts on."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos >= len(text):
        return [], []
    if text[pos] == "{":  # a single object, or {"data": [...]}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [
                Issue(None, exc.lineno, None, "bad json", f"{exc.msg} at column {exc.colno}")
            ]
        items = (
            value.get("data")
            if isinstance(value, dict) and isinstance(value.get("data"), list)
            else [value]
        )
        return [(i + 1, None, v) for i, v in enumerate(items)], []
    if text[pos] != "[":
        line = text.count("\n", 0, pos) + 1
        return [], [
            Issue(None, line, None, "bad json", "expected a JSON array '[...]' or JSONL lines")
        ]
    out, pos, number = [], pos + 1, 0
    while True:
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == "]":
            return out, []
        number += 1
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return out, [
                Issue(
                    number,
                    exc.lineno,
                    None,
                    "bad json",
                    f"{exc.msg} at column {exc.colno}; records after this one were not read",
                )
            ]
        out.append((number, line, value))
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "]":
            return out, []
        else:
            line = text.count("\n", 0, pos) + 1
            return out, [
                Issue(number, line, None, "bad json", "expected ',' or ']' after this record")
            ]


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _detect_format(values: list[Any]) -> str:
    for value in values:
        if isinstance(value, dict):
            if "conversations" in value:
                return "sharegpt"
            if "messages" in value:
                return "messages"
            if "instruction" in value or "output" in value:
                return "alpaca"
    return "alpaca"


# ---------------------------------------------------------------- records


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
    return _alpaca_record(value, number, line)


def _alpaca_record(value: dict, number: int, line: int | None) -> tuple[Record | None, list[Issue]]:
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


# ---------------------------------------------------------------- CSV


def parse_csv(data: bytes, columns: ColumnMap, *, delimiter: str = ",") -> ParsedDataset:
    """CSV with a header row; ``columns`` says which column is which (guessed when empty)."""
    lines, issues = _decode_lines(data)
    bad = {i.line for i in issues}
    text = "\n".join(t for n, t in lines if n not in bad and t is not None)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    mapping, problems = _resolve_columns(header, columns)
    if problems:
        return ParsedDataset([], issues + problems, "csv")
    # Map rows back to file lines, skipping undecodable lines (already reported).
    good_lines = [n for n, t in lines if n not in bad and t is not None]
    records, number = [], 0
    for row in reader:
        number += 1
        line = good_lines[reader.line_num - 1] if reader.line_num - 1 < len(good_lines) else None
        value = {name: (row.get(col) or "") for name, col in mapping.items() if col}
        if None in row:  # more cells than header columns
            issues.append(
                Issue(
                    number,
                    line,
                    None,
                    "wrong type",
                    f"this row has {len(header) + len(row[None])} cells but the header has {len(header)}",
                )
            )
            continue
        record, found = _alpaca_record(value, number, line)
        issues.extend(found)
        if record is not None:
            records.append(record)
    for issue in issues:  # undecodable lines: give them the record number they would have had
        if issue.kind == "bad encoding" and issue.record is None and issue.line:
            issue.record = max(issue.line - 1, 1)
    issues.sort(key=lambda i: (i.record or 0, i.line or 0))
    return ParsedDataset(records, issues, "csv", total=number + len(bad))


def _resolve_columns(
    header: list[str], columns: ColumnMap
) -> tuple[dict[str, str | None], list[Issue]]:
    lower = {h.strip().lower(): h for h in header}
    mapping, issues = {}, []
    for name, wanted in columns.as_dict().items():
        if wanted:
            if wanted not in header:
                issues.append(
                    Issue(
                        None,
                        1,
                        name,
                        "missing field",
                        f"column '{wanted}' is not in the header ({', '.join(header)})",
                    )
                )
            mapping[name] = wanted
        else:
            mapping[name] = next((lower[g] for g in CSV_GUESSES[name] if g in lower), None)
    for name in ("instruction", "output"):
        if not mapping.get(name) and not issues:
            issues.append(
                Issue(
                    None,
                    1,
                    name,
                    "missing field",
                    f"no column for '{name}'; pick one in the column mapping "
                    f"(header: {', '.join(header) or 'empty'})",
                )
            )
    return mapping, issues


def csv_header(path: str | Path) -> list[str]:
    """The header row of a CSV file, for the column-mapping dropdowns."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        return next(csv.reader(handle), [])


# ---------------------------------------------------------------- split and mix


def split_records(
    records: list[Record], val_ratio: float, seed: int = 42
) -> tuple[list[Record], list[Record]]:
    """Shuffle with ``seed`` and hold out ``val_ratio`` of the records (at least 1 when > 0)."""
    if val_ratio <= 0 or len(records) < 4:
        return list(records), []
    order = list(records)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * val_ratio))
    return order[n_val:], order[:n_val]


GENERAL_DATA = Path(__file__).parent / "data" / "general.jsonl"


def general_records() -> list[Record]:
    """The small bundled set of general instructions (English and Chinese)."""
    parsed = load_dataset(GENERAL_DATA)
    return parsed.records


def mix_general(records: list[Record], share: float, seed: int = 42) -> list[Record]:
    """Add general instruction records so they make up ``share`` of the result (limits forgetting)."""
    if share <= 0 or not records:
        return list(records)
    share = min(share, 0.5)
    pool = general_records()
    want = round(len(records) * share / (1 - share))
    rng = random.Random(seed)
    extra = (
        [pool[i % len(pool)] for i in rng.sample(range(max(want, len(pool))), want)] if want else []
    )
    mixed = list(records) + [Record(r.messages, -r.number) for r in extra]
    rng.shuffle(mixed)
    return mixed


def write_jsonl(records: Iterable[Record], path: str | Path) -> None:
    """Save records as messages JSONL (the job's own copy of its data)."""
    from playground.storage import atomic_write_text

    text = "".join(json.dumps({"messages": r.messages}, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(path, text)


def preview_rows(records: list[Record], limit: int = 5) -> list[list[str]]:
    """Rows for a preview table: record number, prompt, reply (shortened)."""
    rows = []
    for r in records[:limit]:
        user = next((m["content"] for m in r.messages if m["role"] == "user"), "")
        reply = next((m["content"] for m in reversed(r.messages) if m["role"] == "assistant"), "")
        turns = sum(1 for m in r.messages if m["role"] == "assistant")
        rows.append([str(r.number), _short(user), _short(reply), str(turns)])
    return rows


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass
class TokenStats:
    """Token counts per record with the base model's tokenizer."""

    records: int = 0
    min: int = 0
    mean: float = 0.0
    max: int = 0
    p95: int = 0
    truncated: int = 0
    max_length: int = 0
    lengths: list[int] = field(default_factory=list, repr=False)
