"""Engine errors of chat, image, voice, loaders, registry, downloads... in the user's language.

Each error a user can meet is raised for real and shown through ``user_error``:
in Chinese with its values filled in, in English exactly as the code wrote it.
An AST check keeps every such raise keyed, with a text for each key.
"""

from __future__ import annotations

import ast
import errno
import re
import string
import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from playground.errors import PlaygroundError
from tabs.common import user_error
from tabs.i18n import FOLDER, load_strings

ZH = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"}, session_hash="zh")
EN = gr.Request(headers={"accept-language": "en-US"}, session_hash="en")
ROOT = Path(__file__).resolve().parent.parent
OWN_TABLE = FOLDER / "errors_i18n_b.yaml"
PACKAGES = ("chat", "image", "voice", "loaders")
MODULES = (
    "registry registry_memory downloads download_checks remote_embedding users quota storage device"
    " zerogpu faults"
)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def own_files() -> list[Path]:
    playground = ROOT / "playground"
    files = [p for package in PACKAGES for p in sorted((playground / package).rglob("*.py"))]
    return files + [playground / f"{name}.py" for name in MODULES.split()]


def shown(exc: Exception) -> tuple[str, str]:
    """What a Chinese and an English browser show for ``exc``."""
    return user_error(exc, ZH).message, user_error(exc, EN).message


def check_translated(exc: Exception, *values: object) -> str:
    """Assert ``exc`` reads in Chinese with ``values`` in it and in English as its own text."""
    zh, en = shown(exc)
    assert isinstance(exc, PlaygroundError) and exc.key, exc
    assert CHINESE.search(zh), zh
    for value in values:
        assert str(value) in zh, (value, zh)
    assert en == str(exc)
    return zh


# ---------------------------------------------------------------- the AST check


def error_classes() -> set[str]:
    """Names of playground.errors classes and of their subclasses defined in playground/."""
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in (ROOT / "playground").rglob("*.py")]
    known = {"PlaygroundError"}
    while True:
        found = {
            node.name
            for tree in trees
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(
                getattr(base, "id", getattr(base, "attr", None)) in known for base in node.bases
            )
        }
        if found <= known:
            return known
        known |= found


def error_calls(path: Path, classes: set[str]) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in classes
    ]


def key_names(node: ast.expr) -> list[str] | None:
    """The key or keys a ``key=`` argument names (an ``a if c else b`` gives both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        both = [key_names(node.body), key_names(node.orelse)]
        return None if None in both else both[0] + both[1]
    return None


def fields(text: str) -> set[str]:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return {re.split(r"[.\[]", name)[0] for name in names}


def skeleton(text: str) -> str:
    """The text with every placeholder as ``{}`` (literal braces unescaped)."""
    return "".join(
        literal + ("{}" if name is not None else "")
        for literal, name, _, _ in string.Formatter().parse(text)
    )


def code_skeleton(node: ast.expr) -> str | None:
    """The message an error's first argument builds, with ``{}`` for each computed part."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [
            code_skeleton(value) if isinstance(value, ast.Constant) else "{}"
            for value in node.values
        ]
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "a: " + ", ".join(b)
        parts = [
            "{}" if isinstance(side, ast.Call) else code_skeleton(side)
            for side in (node.left, node.right)
        ]
        return None if None in parts else "".join(parts)
    return None  # a message built elsewhere (a helper's return value): the tests below check it


def problems_in(path: Path, classes: set[str], tables: dict, own: set[str]) -> list[str]:
    problems = []
    for call in error_calls(path, classes):
        where = f"{path.name}:{call.lineno}"
        kwargs = {k.arg: k.value for k in call.keywords if k.arg}
        splat = any(k.arg is None for k in call.keywords)
        if "key" not in kwargs:
            problems.append(f"{where}: no key=")
            continue
        if "message" in kwargs:
            problems.append(f"{where}: a param named 'message'")
        keys = key_names(kwargs["key"])
        if keys is None:  # passing another error's key on: only with its params (**exc.params)
            if not splat:
                problems.append(f"{where}: key= is not a string and no **params pass one on")
            continue
        problems += key_problems(where, keys, kwargs, splat, tables)
        built = code_skeleton(call.args[0]) if call.args else None
        texts = [skeleton(tables["en"].get(key, "")) for key in keys]
        if set(keys) <= own and built is not None and built not in texts:
            problems.append(f"{where}: the en text of {' / '.join(keys)} is not the code's")
    return problems


def key_problems(where: str, keys: list[str], kwargs: dict, splat: bool, tables: dict) -> list:
    problems = []
    for key in keys:
        if key not in tables["en"] or key not in tables["zh"]:
            problems.append(f"{where}: key {key} has no text")
            continue
        missing = (fields(tables["en"][key]) | fields(tables["zh"][key])) - set(kwargs)
        if missing and not splat:
            problems.append(f"{where}: {key} uses {sorted(missing)}, not passed")
    return problems


def test_every_error_raised_in_these_files_has_a_key_with_texts():
    classes = error_classes()
    assert {"InputError", "QuotaError", "ServiceClosedError"} <= classes
    tables = load_strings()
    own = set(load_strings_of(OWN_TABLE))
    problems = [p for path in own_files() for p in problems_in(path, classes, tables, own)]
    assert not problems, "\n".join(problems)
    assert len([c for path in own_files() for c in error_calls(path, classes)]) > 100


def test_the_check_finds_a_raise_without_a_key(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text(
        "raise InputError('no key here')\n"
        "raise InputError('x {a}', key='errors.no.such.key', a=1)\n"
        "raise InputError(f'{name}: the card is empty', key='errors.card.empty')\n",
        encoding="utf-8",
    )
    tables = load_strings()
    found = problems_in(broken, error_classes(), tables, set(tables["en"]))
    assert len(found) == 3, found


def load_strings_of(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_own_table_is_chinese_and_keeps_every_placeholder():
    for key, texts in load_strings_of(OWN_TABLE).items():
        assert key.startswith("errors."), key
        assert CHINESE.search(texts["zh"]), key
        assert fields(texts["zh"]) <= fields(texts["en"]), key


# ---------------------------------------------------------------- chat


def test_role_card_errors_in_chinese():
    from playground.chat.cards import import_card

    with pytest.raises(PlaygroundError) as caught:
        import_card("[1, 2]", name="list.json")
    assert "角色卡应为 JSON 对象" in check_translated(caught.value, "list.json", "list")
    with pytest.raises(PlaygroundError) as caught:
        import_card('{"name": ', name="cut.json")
    check_translated(caught.value, "cut.json", "第 1 行")
    with pytest.raises(PlaygroundError) as caught:
        import_card({"name": 3, "description": "d"}, name="odd.json")
    check_translated(caught.value, "odd.json", "'name'", "int")


def test_role_errors_in_chinese(tmp_path):
    from playground.chat.roles import Role, delete_user_role, load_role

    with pytest.raises(PlaygroundError) as caught:
        Role.from_dict({"name": "x", "colour": "red"}, where="mine.json")
    check_translated(caught.value, "mine.json", "colour", "未知字段")
    with pytest.raises(PlaygroundError) as caught:
        load_role("no-such-role")
    check_translated(caught.value, "no-such-role", "预设角色")
    with pytest.raises(PlaygroundError) as caught:
        delete_user_role(tmp_path, "Not An Id")
    check_translated(caught.value, "Not An Id")


def test_conversation_and_settings_errors_in_chinese():
    from playground.chat.prompt import check_messages
    from playground.chat.settings import GenerationSettings

    with pytest.raises(PlaygroundError) as caught:
        check_messages([])
    check_translated(caught.value)
    with pytest.raises(PlaygroundError) as caught:
        check_messages([{"role": "robot", "content": "hi"}])
    check_translated(caught.value, "第 1 条", "robot", "system, user, assistant")
    with pytest.raises(PlaygroundError) as caught:
        GenerationSettings(temperature=9).validated()
    check_translated(caught.value, "temperature", "0.0", "5.0", "9")
    with pytest.raises(PlaygroundError) as caught:
        GenerationSettings.from_options({"colour": 1})
    check_translated(caught.value, "colour", "max_new_tokens")


def test_chat_with_a_model_that_is_not_a_chat_model(registry):
    from playground.chat.engine import stream_chat

    with pytest.raises(PlaygroundError) as caught:
        next(iter(stream_chat(registry, "tiny-image", [{"role": "user", "content": "hi"}])))
    check_translated(caught.value, "tiny-image", "text-to-image", "tiny-chat")


def test_endpoint_errors_in_chinese():
    import httpx
    import openai

    from playground.chat.remote import _explain

    entry = SimpleNamespace(api_key_env="MY_KEY")
    endpoint = SimpleNamespace(
        name="api", base_url="http://127.0.0.1:9/v1", timeout=30, entry=entry, api_model="m1"
    )
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    timeout = _explain(openai.APITimeoutError(request=request), endpoint)
    check_translated(timeout, "api", "http://127.0.0.1:9/v1", "30 秒")
    response = httpx.Response(401, request=request)
    refused = _explain(openai.AuthenticationError("no", response=response, body=None), endpoint)
    check_translated(refused, "MY_KEY", "拒绝了 API 密钥")
    response = httpx.Response(503, request=request)
    busy = _explain(openai.APIStatusError("busy", response=response, body=None), endpoint)
    check_translated(busy, "HTTP 503", "busy")


def test_service_and_generation_failures_in_chinese():
    from playground.chat.plain import _explain_generation_error
    from playground.chat.service import ServiceClosedError

    closed = ServiceClosedError(
        "this model is being unloaded; load it again and retry", key="errors.chat.service_closed"
    )
    check_translated(closed)
    oom = _explain_generation_error("tiny-chat", RuntimeError("CUDA out of memory. Tried 2 GiB"))
    check_translated(oom, "tiny-chat", "CUDA out of memory")
    broken = _explain_generation_error("tiny-chat", ValueError("bad shape"))
    check_translated(broken, "tiny-chat", "ValueError", "bad shape")


# ---------------------------------------------------------------- image


def test_image_request_errors_in_chinese(registry):
    from playground.image.request import ImageRequest, check_size, resolve

    with pytest.raises(PlaygroundError) as caught:
        resolve(registry, ImageRequest(model="tiny-image", prompt="  "))
    check_translated(caught.value, "提示词为空")
    with pytest.raises(PlaygroundError) as caught:
        resolve(registry, ImageRequest(model="tiny-image", prompt="a cat", steps=0))
    check_translated(caught.value, "steps", "0")
    with pytest.raises(PlaygroundError) as caught:
        resolve(registry, ImageRequest(model="tiny-image", prompt="a cat", scheduler="Fast"))
    check_translated(caught.value, "'Fast'", "调度器")
    with pytest.raises(PlaygroundError) as caught:
        check_size(None, 100, 64, "tiny-image", multiple=64)
    check_translated(caught.value, "width 100", "64", "128")


def test_png_parameter_errors_in_chinese(tmp_path):
    from playground.image.params import parse_parameters, read_parameters

    with pytest.raises(PlaygroundError) as caught:
        parse_parameters("a cat\nwritten by hand")
    check_translated(caught.value, "'Steps:'/'Seed:'")
    text_file = tmp_path / "notes.png"
    text_file.write_text("not a picture", encoding="utf-8")
    with pytest.raises(PlaygroundError) as caught:
        read_parameters(text_file)
    check_translated(caught.value, "notes.png", "不是图像文件")


def test_prompt_assistant_empty_description_in_chinese():
    from playground.image.assistant import suggest_prompt

    with pytest.raises(PlaygroundError) as caught:
        suggest_prompt("  ", lambda messages: "")
    check_translated(caught.value, "描述")
    with pytest.raises(PlaygroundError) as caught:
        suggest_prompt("a cat on a roof", lambda messages: "")
    check_translated(caught.value, "空回答")


# ---------------------------------------------------------------- voice


def test_audio_errors_in_chinese(tmp_path):
    from playground.voice.audio import read_audio

    with pytest.raises(PlaygroundError) as caught:
        read_audio(tmp_path / "gone.wav")
    check_translated(caught.value, "gone.wav", "找不到文件")
    with pytest.raises(PlaygroundError) as caught:
        read_audio(b"this is not a recording")
    zh = check_translated(caught.value, "上传的文件")
    assert "the upload" not in zh


def test_voice_choice_and_library_errors_in_chinese(registry, tmp_path):
    from playground.voice.families import check_cancel, family_of
    from playground.voice.lineup import pick_voice_model
    from playground.voice.voices import VoiceLibrary

    with pytest.raises(PlaygroundError) as caught:
        family_of("bark", where="'v': ")
    check_translated(caught.value, "'v'", "bark", "vibevoice")
    stop = threading.Event()
    stop.set()
    with pytest.raises(PlaygroundError) as caught:
        check_cancel(stop, 2, 5)
    check_translated(caught.value, "已取消", "5", "2")
    with pytest.raises(PlaygroundError) as caught:
        pick_voice_model(registry, "Bonjour, comment allez-vous aujourd'hui ?", chosen="tiny-voice")
    check_translated(caught.value, "tiny-voice", "French")
    with pytest.raises(PlaygroundError) as caught:
        VoiceLibrary(tmp_path).get("Grandpa")
    zh = check_translated(caught.value, "Grandpa", "还没有保存任何声音")
    assert "none yet" not in zh


def test_voice_model_errors_in_chinese(registry):
    from playground.voice.asr import transcribe
    from playground.voice.engine import reference_limits

    with pytest.raises(PlaygroundError) as caught:
        reference_limits(registry, "tiny-chat")
    check_translated(caught.value, "tiny-chat", "声音克隆模型")
    with pytest.raises(PlaygroundError) as caught:
        transcribe(registry, "tiny-voice", None)
    check_translated(caught.value, "tiny-voice", "语音识别模型")


# ---------------------------------------------------------------- loaders, registry


def test_loader_errors_in_chinese(tmp_path):
    from playground.config import ModelEntry
    from playground.loaders import import_optional
    from playground.loaders.hub import local_source

    with pytest.raises(PlaygroundError) as caught:
        import_optional("no_such_package_xyz", purpose="model loaders")
    check_translated(caught.value, "no_such_package_xyz", "pip install")
    entry = ModelEntry(name="local", task="chat", source=str(tmp_path / "missing-folder"))
    with pytest.raises(PlaygroundError) as caught:
        local_source(entry)
    check_translated(caught.value, "missing-folder", "不存在")


def test_registry_errors_in_chinese(registry):
    from playground.registry import _load_error

    with pytest.raises(PlaygroundError) as caught:
        registry.register(registry.entry("tiny-chat"))
    check_translated(caught.value, "tiny-chat", "已经注册")
    failed = _load_error(registry.entry("tiny-chat"), KeyError("lm_head"))
    check_translated(failed, "tiny-chat", "KeyError", "lm_head")
    oom = _load_error(registry.entry("tiny-chat"), RuntimeError("CUDA out of memory"))
    check_translated(oom, "tiny-chat", "内存放不下")
    full = registry._out_of_memory("tiny-chat", 3 * 2**30, "cpu", 2**30)
    zh = check_translated(full, "tiny-chat", "cpu", "3.2 GB", "1.1 GB")
    assert "none" not in zh


# ---------------------------------------------------------------- downloads, users, quota


def test_download_errors_in_chinese():
    from playground.config import ModelEntry
    from playground.download_checks import with_errors as _with_errors

    entry = ModelEntry(name="hub-model", task="chat", source="org/model")

    def failing(error: OSError):
        def call():
            raise error

        return call

    with pytest.raises(PlaygroundError) as caught:
        _with_errors(entry, failing(OSError(errno.EACCES, "Permission denied")))
    check_translated(caught.value, "org/model", "Permission denied", "可写")
    with pytest.raises(PlaygroundError) as caught:
        _with_errors(entry, failing(OSError(errno.ENOSPC, "No space left on device")))
    check_translated(caught.value, "org/model", "磁盘空间不足")


def test_embedding_endpoint_errors_in_chinese():
    from playground.remote_embedding import RemoteEmbeddingModel

    def create(**kwargs):
        return SimpleNamespace(data=[SimpleNamespace(index=0, embedding=[0.0])])

    client = SimpleNamespace(embeddings=SimpleNamespace(create=create))
    endpoint = SimpleNamespace(
        name="embedder", base_url="http://127.0.0.1:9/v1", api_model="e5", timeout=5
    )
    model = RemoteEmbeddingModel(endpoint, client=client)
    with pytest.raises(PlaygroundError) as caught:
        model._request(["one", "two"])
    check_translated(caught.value, "embedder", "2 段文本", "1 个向量")
    failed = model._error(ValueError("bad input"))
    check_translated(failed, "embedder", "ValueError", "bad input")


def test_users_quota_and_zerogpu_errors_in_chinese(registry, tmp_path, monkeypatch):
    from playground import zerogpu
    from playground.quota import check_quota
    from playground.users import User, visible_entry

    with pytest.raises(PlaygroundError) as caught:
        visible_entry(registry, User(id="1", name="ann"), "secret-adapter")
    check_translated(caught.value, "secret-adapter", "tiny-chat")
    (tmp_path / "users" / "user-1").mkdir(parents=True)
    (tmp_path / "users" / "user-1" / "file.bin").write_bytes(b"x" * 2048)
    with pytest.raises(PlaygroundError) as caught:
        check_quota(tmp_path, "user-1", 1024, adding=512)
    check_translated(caught.value, "--user-quota", "新增")
    monkeypatch.setattr(zerogpu, "training_allowed", lambda: False)
    with pytest.raises(PlaygroundError) as caught:
        zerogpu.check_training_allowed()
    check_translated(caught.value, "ZeroGPU", "微调")
