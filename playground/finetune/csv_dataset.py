"""Fine-tuning datasets from CSV: a header row and a map of which column is which."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path

from playground.finetune.records import Issue, ParsedDataset, alpaca_record, decode_lines

# CSV headers recognised without a mapping: target field -> accepted column names.
CSV_GUESSES = {
    "instruction": ("instruction", "prompt", "question", "query", "input_text", "指令", "问题"),
    "input": ("input", "context", "输入"),
    "output": ("output", "response", "answer", "completion", "target", "回答", "输出"),
    "system": ("system", "system_prompt", "系统"),
}


@dataclass
class ColumnMap:
    """Which CSV column feeds which field; None means 'guess from the header'."""

    instruction: str | None = None
    input: str | None = None
    output: str | None = None
    system: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def parse_csv(data: bytes, columns: ColumnMap, *, delimiter: str = ",") -> ParsedDataset:
    """CSV with a header row; ``columns`` says which column is which (guessed when empty)."""
    lines, issues = decode_lines(data)
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
        record, found = alpaca_record(value, number, line)
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
