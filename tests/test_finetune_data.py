"""Fine-tune datasets: every form parsed, every problem reported with its record number."""

from __future__ import annotations

import json

import pytest

from playground.errors import InputError
from playground.finetune.dataset import (
    general_records,
    load_dataset,
    mix_general,
    preview_rows,
    split_records,
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


ALPACA = [
    {"instruction": "Add the numbers", "input": "2 and 3", "output": "5"},
    {"instruction": "翻译：你好", "output": "Hello", "system": "You translate."},
]


def test_alpaca_jsonl_and_json_array_give_the_same_messages(tmp_path):
    a = load_dataset(write(tmp_path, "a.jsonl", jsonl(ALPACA)))
    b = load_dataset(write(tmp_path, "b.json", json.dumps(ALPACA, ensure_ascii=False, indent=2)))
    assert a.ok and b.ok and a.format == b.format == "alpaca"
    assert [r.messages for r in a.records] == [r.messages for r in b.records]
    assert a.records[0].messages == [
        {"role": "user", "content": "Add the numbers\n\n2 and 3"},
        {"role": "assistant", "content": "5"},
    ]
    assert a.records[1].messages[0] == {"role": "system", "content": "You translate."}
    assert [r.line for r in b.records] == [2, 7]  # where each array element starts
    assert len(a.sha256) == 64


def test_sharegpt_conversations_multi_turn(tmp_path):
    rows = [
        {
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Hello!"},
                {"from": "human", "value": "Bye"},
                {"from": "gpt", "value": "Goodbye."},
            ]
        }
    ]
    parsed = load_dataset(write(tmp_path, "s.jsonl", jsonl(rows)))
    assert parsed.ok and parsed.format == "sharegpt"
    roles = [m["role"] for m in parsed.records[0].messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]


def test_messages_form_and_data_wrapper(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}]
    parsed = load_dataset(write(tmp_path, "m.json", json.dumps({"data": rows})))
    assert parsed.ok and parsed.format == "messages"
    assert parsed.records[0].messages[1] == {"role": "assistant", "content": "A"}


def test_csv_with_guessed_and_mapped_columns(tmp_path):
    guessed = load_dataset(
        write(tmp_path, "g.csv", 'question,answer\n"What, exactly?",Yes\nWhy,Because\n')
    )
    assert guessed.ok and guessed.format == "csv"
    assert guessed.records[0].messages[0]["content"] == "What, exactly?"
    mapped = load_dataset(
        write(tmp_path, "m.csv", "q,ctx,a\nSum,1 2,3\n"),
        columns={"instruction": "q", "input": "ctx", "output": "a"},
    )
    assert mapped.ok
    assert mapped.records[0].messages == [
        {"role": "user", "content": "Sum\n\n1 2"},
        {"role": "assistant", "content": "3"},
    ]
    missing = load_dataset(write(tmp_path, "x.csv", "foo,bar\n1,2\n"))
    assert not missing.ok and missing.issues[0].kind == "missing field"
    assert "column" in missing.issues[0].message


def test_every_problem_has_its_record_number_line_and_field(tmp_path):
    lines = [
        json.dumps({"instruction": "ok", "output": "fine"}),  # record 1: good
        json.dumps({"instruction": "no answer"}),  # 2: missing field
        json.dumps({"instruction": "blank", "output": "   "}),  # 3: empty output
        json.dumps({"instruction": ["a", "list"], "output": "x"}),  # 4: wrong type
        "{not json",  # 5: bad json
        "",  # blank lines are skipped, not counted
        json.dumps({"instruction": "still ok", "output": "yes"}),  # 6: good
    ]
    data = ("\n".join(lines) + "\n").encode() + b'{"instruction": "caf\xe9", "output": "x"}\n'  # 7
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    parsed = load_dataset(path)
    found = {(i.record, i.kind, i.field) for i in parsed.issues}
    assert found == {
        (2, "missing field", "output"),
        (3, "empty output", "output"),
        (4, "wrong type", "instruction"),
        (5, "bad json", None),
        (7, "bad encoding", None),
    }
    lines_of = {i.record: i.line for i in parsed.issues}
    assert lines_of[5] == 5 and lines_of[7] == 8
    assert [r.number for r in parsed.records] == [1, 6]
    assert not parsed.ok
    with pytest.raises(InputError, match=r"record 2, line 2, field 'output': missing field"):
        parsed.raise_for_issues()


def test_unknown_role_and_conversation_problems(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "wizard", "content": "boo"}]},
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": "not a list"},
        {"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "x"}]},
        ["not", "an", "object"],
    ]
    parsed = load_dataset(write(tmp_path, "c.jsonl", jsonl(rows)))
    by_record = {i.record: (i.kind, i.field) for i in parsed.issues}
    assert by_record[1] == ("unknown role", "messages[1].role")
    assert by_record[2] == ("empty output", "messages")
    assert by_record[3] == ("wrong type", "messages")
    assert by_record[4] == ("wrong type", "conversations[0].value")
    assert by_record[5] == ("wrong type", None)
    assert "wizard" in str(parsed.issues[0])


def test_bad_json_array_reports_where_it_stops(tmp_path):
    text = '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]'
    parsed = load_dataset(write(tmp_path, "broken.json", text))
    assert len(parsed.records) == 1
    assert parsed.issues[0].kind == "bad json" and parsed.issues[0].record == 2
    assert parsed.issues[0].line == 3


def test_split_mix_and_preview():
    records = general_records()
    assert len(records) >= 20
    assert any("北京" in r.messages[-1]["content"] for r in records)  # Chinese and English
    train, val = split_records(records, 0.2, seed=1)
    assert len(val) == 6 and len(train) + len(val) == len(records)
    assert split_records(records, 0.2, seed=1) == (train, val)  # same seed, same split
    mixed = mix_general(records[:10], 0.2, seed=0)
    assert len(mixed) == 10 + round(10 * 0.2 / 0.8)
    rows = preview_rows(records, limit=3)
    assert len(rows) == 3 and rows[0][0] == "1"
