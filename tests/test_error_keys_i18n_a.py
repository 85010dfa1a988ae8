"""Errors of the agents, RAG and fine-tune engines reach the user in their language.

Every error raised in ``playground/agents``, ``playground/rag`` and
``playground/finetune`` (but ``engine.py``, which is not part of this set) names
its message in the string tables with ``key=`` and passes the values the
message shows; the English text in the tables is the code's text, so English
output does not change.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

import gradio as gr
import pytest

import playground.errors
from playground.errors import PlaygroundError
from tabs.common import user_error
from tabs.i18n import load_strings

ZH = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"}, session_hash="zh")
EN = gr.Request(headers={"accept-language": "en-US"}, session_hash="en")

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(
    path
    for folder in ("agents", "rag", "finetune")
    for path in (ROOT / "playground" / folder).rglob("*.py")
    if path != ROOT / "playground" / "finetune" / "engine.py"
)


# ---------------------------------------------------------------- the static check


def error_classes(trees: list[ast.Module]) -> set[str]:
    """The names of playground.errors' classes, and of subclasses the files define."""
    names = {
        name
        for name, value in vars(playground.errors).items()
        if isinstance(value, type) and issubclass(value, PlaygroundError)
    }
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    grown = True
    while grown:
        before = len(names)
        names |= {c.name for c in classes if any(_name(base) in names for base in c.bases)}
        grown = len(names) > before
    return names


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def error_calls(path: Path, classes: set[str] | None = None) -> list[ast.Call]:
    """Every call that builds one of the error classes in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes = classes or error_classes([tree])
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _name(node.func) in classes
    ]


def keys_of(call: ast.Call) -> tuple[list[str], str | None]:
    """The keys a call can use (both branches of ``a if c else b``), or a key prefix."""
    value = next(k.value for k in call.keywords if k.arg == "key")
    branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
    if all(isinstance(b, ast.Constant) and isinstance(b.value, str) for b in branches):
        return [b.value for b in branches], None
    if isinstance(value, ast.JoinedStr) and isinstance(value.values[0], ast.Constant):
        return [], value.values[0].value  # f"errors.x.setting_{name}": one key per name
    raise AssertionError(f"line {call.lineno}: a key must be a string (or a ... if ... else ...)")


def english_template(call: ast.Call) -> str | None:
    """The code's English text with ``{param}`` for every value it shows.

    None when the text shows something that is not passed as a param (another
    error's text, a message built elsewhere): the runtime tests cover those.
    """
    params = {k.arg: ast.unparse(k.value) for k in call.keywords if k.arg != "key"}
    message = call.args[0] if call.args else None
    if isinstance(message, ast.Constant) and not params:
        return message.value
    if not isinstance(message, ast.JoinedStr):
        return None
    pieces = []
    for part in message.values:
        if isinstance(part, ast.Constant):
            pieces.append(part.value.replace("{", "{{").replace("}", "}}"))
            continue
        shown = ast.unparse(part.value)
        wanted = {-1: {shown, f"str({shown})"}, 115: {f"str({shown})"}, 114: {f"repr({shown})"}}
        param = next((p for p, v in params.items() if v in wanted[part.conversion]), None)
        if param is None:
            return None
        spec = "".join(c.value for c in part.format_spec.values) if part.format_spec else ""
        pieces.append("{" + param + (":" + spec if spec else "") + "}")
    return "".join(pieces)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def problems_in(path: Path, strings: dict[str, dict[str, str]], classes: set[str]) -> list[str]:
    """What is wrong with the error calls in ``path``: no key, a key missing, a text that differs."""
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return [
        problem
        for call in error_calls(path, classes)
        for problem in call_problems(f"{where}:{call.lineno}", call, strings)
    ]


def call_problems(where: str, call: ast.Call, strings: dict[str, dict[str, str]]) -> list[str]:
    """What is wrong with one error call (``where`` is its file and line)."""
    if not any(k.arg == "key" for k in call.keywords):
        return [f"{where}: no key="]
    found = []
    params = {k.arg for k in call.keywords} - {"key"}
    keys, prefix = keys_of(call)
    if prefix is not None:
        keys = [key for key in strings["en"] if key.startswith(prefix)]
        found += [f"{where}: no key starts with {prefix}"] if not keys else []
    for key in keys:
        if key not in strings["en"]:
            found.append(f"{where}: {key} is not in the string tables")
            continue
        for lang in ("en", "zh"):
            if not placeholders(strings[lang][key]) <= params:
                found.append(f"{where}: {key} ({lang}) shows a value not passed")
    template = english_template(call)
    text = strings["en"].get(keys[0]) if len(keys) == 1 else None
    if None not in (template, text) and text != template:
        found.append(f"{where}: {keys[0]} en text is not the code's text")
    return found


def test_every_error_names_an_existing_message_with_its_values():
    strings = load_strings()
    classes = error_classes([ast.parse(p.read_text(encoding="utf-8")) for p in FILES])
    assert "NotTextError" in classes and "InputError" in classes
    assert sum(len(error_calls(p, classes)) for p in FILES) > 100
    found = [problem for path in FILES for problem in problems_in(path, strings, classes)]
    assert not found, "\n".join(found)


def test_english_tables_say_what_the_code_says_everywhere():
    """In every module of the app, a keyed error's English table text is the code's text.

    (Only the text: which raises need a key is the business of the per-package checks.)
    """
    strings = load_strings()
    files = sorted((ROOT / "playground").rglob("*.py")) + sorted((ROOT / "tabs").rglob("*.py"))
    classes = error_classes([ast.parse(p.read_text(encoding="utf-8")) for p in files])
    calls = [
        (f"{path.relative_to(ROOT)}:{call.lineno}", call)
        for path in files
        for call in error_calls(path, classes)
        if any(k.arg == "key" and isinstance(k.value, ast.Constant) for k in call.keywords)
    ]
    found = [
        problem
        for where, call in calls
        for problem in call_problems(where, call, strings)
        if "not the code's text" in problem
    ]
    assert len(calls) > 200 and not found, "\n".join(found)


def test_the_static_check_finds_a_missing_key_and_a_changed_text(tmp_path):
    """The check above would fail: a raise without key=, an unknown key, other English."""
    strings = load_strings()
    path = tmp_path / "broken.py"
    path.write_text(
        "from playground.errors import InputError\n"
        "raise InputError('give the collection a name.')\n"
        "raise InputError('nope', key='errors.rag.no_such_key')\n"
        "raise InputError(f'there is no collection {name}.', key='errors.rag.no_collection',"
        " name=name)\n",
        encoding="utf-8",
    )
    found = problems_in(path, strings, error_classes([]))
    assert len(found) == 3
    assert "no key=" in found[0] and "not in the string tables" in found[1]
    assert "not the code's text" in found[2]


# ---------------------------------------------------------------- the real errors


class NoModels:
    """A registry with no models at all."""

    def names(self, *tasks):
        return []

    def entries(self, *tasks):
        return []


class OneEmbedder(NoModels):
    def names(self, *tasks):
        return ["mini-embed"] if "embedding" in tasks else []


def raised(call, *args, **kwargs) -> PlaygroundError:
    with pytest.raises(PlaygroundError) as caught:
        call(*args, **kwargs)
    return caught.value


def chinese(exc: PlaygroundError, *shown: str) -> str:
    """The Chinese message (it must be Chinese and show ``shown``); English is unchanged."""
    assert exc.key, f"no key on {exc!r}"
    assert user_error(exc, EN).message == str(exc)
    message = user_error(exc, ZH).message
    assert message != str(exc) and any("\u4e00" <= ch <= "\u9fff" for ch in message), message
    for value in shown:
        assert value in message, (value, message)
    return message


def test_agent_record_errors_in_chinese(tmp_path):
    from playground.agents.record import Agent, AgentSettings, check_name, picture_suffix

    assert "请为智能体命名" in chinese(raised(check_name, "   "))
    chinese(raised(check_name, "x" * 61), "60")
    chinese(raised(AgentSettings.from_dict, {"k": 50}, "agent.json: settings"), "50", "settings")
    chinese(raised(AgentSettings.from_dict, {"colour": 1}), "colour")
    chinese(raised(Agent.from_dict, [], tmp_path), "list")
    chinese(raised(Agent.from_dict, {"format": 99}, tmp_path), "99")
    chinese(raised(Agent.from_dict, {"name": "Ada"}, tmp_path), "'model'")
    assert "无法读取该图片" in chinese(raised(picture_suffix, b"not an image"))


def test_agent_store_talk_and_share_errors_in_chinese(tmp_path):
    from playground.agents import Agent, AgentStore, chat_model_for, import_agent
    from playground.agents.archive import check_files, check_member, read_manifest
    from playground.agents.talk import _first_voice_model
    from playground.chat import Role

    store = AgentStore.for_owner(tmp_path, "alice")
    assert "还没有任何智能体" in chinese(raised(store.get, "Bob"), "'Bob'")
    no_documents = chinese(raised(store._check_collection, "notes"), "'notes'")
    assert "还没有任何文档集" in no_documents
    missing = tmp_path / "missing.zip"
    chinese(raised(import_agent, None, tmp_path, "alice", missing), str(missing))
    (tmp_path / "notes.zip").write_text("not a zip", encoding="utf-8")
    zh = chinese(raised(import_agent, None, tmp_path, "alice", tmp_path / "notes.zip"), "notes.zip")
    assert "playground agent export" in zh
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    chinese(raised(read_manifest, tmp_path / "manifest.json", "ada.zip"), "ada.zip", "JSON")
    chinese(raised(check_member, "../../etc/passwd", "ada.zip"), "ada.zip", "'../../etc/passwd'")
    chinese(raised(check_files, {"files": {"role.json": "0"}}, tmp_path), "role.json")
    agent = Agent(name="Ada", role=Role(id="r", name="R"), model="gone", folder=tmp_path)
    chinese(raised(chat_model_for, NoModels(), agent, "alice"), "'Ada'", "'gone'")
    assert "声音克隆模型" in chinese(raised(_first_voice_model, NoModels()))


def test_rag_settings_and_file_errors_in_chinese(tmp_path):
    from playground.rag import ChunkSettings, SearchSettings, parse_file
    from playground.rag.ingest import _check_size

    chinese(raised(ChunkSettings, chunk_size=10), "10", "100")
    chinese(raised(ChunkSettings, chunk_size=1000, overlap=900), "900", "499")
    chinese(raised(SearchSettings, mode="fuzzy"), "'fuzzy'", "hybrid")
    chinese(raised(SearchSettings, k=0), "0")
    binary = bytes(range(256)) * 4
    (tmp_path / "blob.xyz").write_bytes(binary)
    chinese(raised(parse_file, tmp_path / "blob.xyz"), "blob.xyz", "'.xyz'", ".pdf")
    (tmp_path / "blob").write_bytes(binary)
    assert "没有扩展名" in chinese(raised(parse_file, tmp_path / "blob"), "blob")
    (tmp_path / "binary.txt").write_bytes(b"\x01\x02\x03\x04" * 100)
    assert "不是文本文件" in chinese(raised(parse_file, tmp_path / "binary.txt"), "binary.txt")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    assert "文件为空" in chinese(raised(parse_file, tmp_path / "empty.txt"), "empty.txt")
    chinese(raised(parse_file, tmp_path / "gone.txt"), "gone.txt", str(tmp_path))
    chinese(raised(_check_size, tmp_path / "binary.txt", "binary.txt", 1e-6), "0.0 MB", "1e-06")


def test_rag_collection_and_embedding_errors_in_chinese(tmp_path):
    from playground.rag import Collection, CollectionStore, embedder_for
    from playground.rag.embedder import EmbeddingInfo, _resolve_name, _resolve_recorded
    from playground.rag.store import _check_name

    store = CollectionStore.for_owner(tmp_path, "alice")
    assert "上传文件即可创建" in chinese(raised(store.open, "notes"), "'notes'")
    assert "请为文档集命名" in chinese(raised(_check_name, " "))
    chinese(raised(Collection.open, tmp_path), str(tmp_path), "manifest.json")
    assert "task: embedding" in chinese(raised(embedder_for, NoModels()))
    nowhere = str(tmp_path / "nowhere")
    assert "没有向量模型" in chinese(raised(_resolve_name, NoModels(), nowhere), nowhere)
    chinese(raised(_resolve_name, OneEmbedder(), nowhere), nowhere, "mini-embed")
    recorded = EmbeddingInfo(name="e5", source="org/e5-small")
    chinese(raised(_resolve_recorded, NoModels(), recorded), "'e5'", "org/e5-small")
    recorded = EmbeddingInfo(name="e5")
    assert "来源未知" in chinese(raised(_resolve_recorded, NoModels(), recorded), "'e5'")


RULES = [
    ("rank", 0),
    ("alpha", 0),
    ("dropout", 1.0),
    ("learning_rate", 2.0),
    ("epochs", 0),
    ("batch_size", 0),
    ("grad_accum", 0),
    ("max_length", 8),
    ("val_ratio", 0.9),
    ("mix_general", 0.9),
    ("precision", "fp8"),
]


@pytest.mark.parametrize(("setting", "value"), RULES)
def test_every_training_setting_rule_in_chinese(setting, value):
    from playground.finetune.settings import TrainSettings

    exc = raised(TrainSettings(**{setting: value}).checked)
    assert exc.key == f"errors.finetune.setting_{setting}"
    chinese(exc, f"'{setting}' = {value!r}")


@pytest.mark.parametrize("device", ["cuda:0", "cpu"])
def test_a_run_that_does_not_fit_in_chinese(device):
    from playground.finetune.settings import TrainSettings, ensure_fits, estimate

    sizes = {"params": 10**9, "hidden": 2048, "layers": 24, "vocab": 32000}
    est = estimate(TrainSettings(), n_records=10, mean_tokens=100, device=device,
                   available_bytes=10**9, **sizes)  # fmt: skip
    zh = chinese(raised(ensure_fits, est), device, "1.0 GB")
    assert ("QLoRA" in zh) == device.startswith("cuda")


def test_finetune_data_and_job_errors_in_chinese(tmp_path):
    from types import SimpleNamespace

    from playground.finetune.dataset import load_dataset
    from playground.finetune.job_files import read_config
    from playground.finetune.jobs import job_dir_for, new_job_id
    from playground.finetune.records import Issue, ParsedDataset
    from playground.finetune.render import render
    from playground.finetune.settings import TrainSettings

    chinese(raised(TrainSettings.from_dict, {"colour": 1}), "colour")
    chinese(raised(load_dataset, tmp_path / "data.jsonl", format="csvish"), "'csvish'", "alpaca")
    chinese(raised(load_dataset, tmp_path / "data.jsonl"), "data.jsonl")
    issue = Issue(record=3, line=3, field="output", kind="empty output", message="write a reply")
    one = ParsedDataset(records=[], issues=[issue], format="alpaca", source="data.jsonl")
    chinese(raised(one.raise_for_issues), "data.jsonl", "1 个问题", "record 3")
    many = ParsedDataset(records=[], issues=[issue] * 12, format="alpaca", source="data.jsonl")
    assert "另有 2 个" in chinese(raised(many.raise_for_issues), "12 个问题")
    assert "文件为空" in chinese(
        raised(ParsedDataset([], [], "alpaca").raise_for_issues), "dataset"
    )
    chinese(raised(job_dir_for, tmp_path, "alice", "../etc"), "'../etc'")
    job_id = new_job_id()
    chinese(raised(job_dir_for, tmp_path, "alice", job_id), job_id)
    chinese(raised(read_config, tmp_path), str(tmp_path), "config.json")
    assert "对话模板" in chinese(raised(render, SimpleNamespace(chat_template=None), []))
