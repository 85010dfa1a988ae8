"""Read a fine-tuning dataset, check every record, and turn it into chat messages.

Three forms are understood, in JSON (an array) or JSONL (one record a line):

- Alpaca: ``{"instruction", "input" (optional), "output", "system" (optional)}``
- ShareGPT: ``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}]}``
- Messages: ``{"messages": [{"role": "user"|"assistant"|"system", "content": ...}]}``

and CSV with a column mapping (which column is the instruction, input, output,
system). Every problem is reported with its record number, line and field, so a
person can fix the file without guessing; nothing trains on a file with errors.

This module reads files and JSON; one record's checks are in
``playground.finetune.records`` and CSV in ``playground.finetune.csv_dataset``
(their names are importable from here too).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import InputError
from playground.finetune.csv_dataset import CSV_GUESSES, ColumnMap, csv_header, parse_csv
from playground.finetune.records import (
    ROLE_ALIASES,
    Issue,
    ParsedDataset,
    Record,
    decode_lines,
    to_record,
)

__all__ = [
    "CSV_GUESSES",
    "FORMATS",
    "GENERAL_DATA",
    "ROLE_ALIASES",
    "ColumnMap",
    "Issue",
    "ParsedDataset",
    "Record",
    "TokenStats",
    "csv_header",
    "general_records",
    "load_dataset",
    "mix_general",
    "parse_csv",
    "parse_json_bytes",
    "preview_rows",
    "split_records",
    "to_record",
    "write_jsonl",
]

FORMATS = ("auto", "alpaca", "sharegpt", "messages", "csv")


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
        raise InputError(
            f"unknown dataset format '{format}'; use one of {', '.join(FORMATS)}",
            key="errors.finetune.unknown_format",
            name=format,
            formats=", ".join(FORMATS),
        )
    if not path.exists():
        raise InputError(
            f"{path}: file not found", key="errors.finetune.file_not_found", path=str(path)
        )
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


def parse_json_bytes(data: bytes, *, format: str = "auto", jsonl: bool = True) -> ParsedDataset:
    """Parse JSONL (one record a line) or a JSON array of records."""
    lines, issues = decode_lines(data)
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
