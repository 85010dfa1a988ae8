"""Errors a user sees: in their language, one log line for expected ones, never a bare "Error"."""

from __future__ import annotations

import json
import logging

import gradio as gr
import pytest

from playground.chat.cards import import_card
from playground.errors import InputError, ModelLoadError
from tabs.common import ui_errors, user_error

ZH = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"}, session_hash="zh")
EN = gr.Request(headers={"accept-language": "en-US"}, session_hash="en")


def test_engine_error_with_a_key_speaks_the_users_language():
    exc = ModelLoadError("english text", key="errors.gated", name="m", repo="org/m")
    assert "需要授权" in user_error(exc, ZH).message and "org/m" in user_error(exc, ZH).message
    assert user_error(exc, EN).message.startswith("'m': org/m is gated")


def test_unknown_model_in_chinese(registry):
    with pytest.raises(Exception) as caught:
        registry.get("no-such-model")
    assert "未配置模型 'no-such-model'" in user_error(caught.value, ZH).message


def test_expected_error_logs_one_line_without_traceback(caplog):
    @ui_errors
    def handler(request: gr.Request = None):
        raise InputError("type a question first.", key="errors.type_question")

    with (
        caplog.at_level(logging.INFO, logger="playground.ui"),
        pytest.raises(gr.Error, match="请先输入问题"),
    ):
        handler(request=ZH)
    records = [r for r in caplog.records if r.name == "playground.ui"]
    assert len(records) == 1 and records[0].exc_info is None


def test_unexpected_error_keeps_its_traceback_and_is_never_a_bare_error(caplog):
    @ui_errors
    def handler(history, request: gr.Request = None):
        return history[0]["content"]  # a malformed history: a KeyError in our code

    with caplog.at_level(logging.INFO, logger="playground.ui"), pytest.raises(gr.Error) as caught:
        handler([{"role": "user"}], request=EN)
    assert caught.value.message and "KeyError" in caught.value.message
    assert any(r.exc_info for r in caplog.records if r.name == "playground.ui")


def test_role_card_nested_100000_deep_is_an_input_error():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputError, match="nested too deeply"):
        import_card(deep, name="deep.json")
    with pytest.raises(InputError, match="a JSON object"):
        import_card(json.dumps([1]), name="list.json")


def _raw_call(app, api_name: str, data: list) -> dict:
    """One event sent as the browser sends it (no client-side upload or checks); its result."""
    import httpx

    dep = next(d for d in app.demo.config["dependencies"] if d.get("api_name") == api_name)
    with httpx.Client(base_url=app.url, timeout=60) as http:
        http.get("/")  # the identity cookie, as a page load sets it
        join = {"data": data, "fn_index": dep["id"], "session_hash": "raw-call-1"}
        http.post("gradio_api/queue/join", json=join).raise_for_status()
        with http.stream(
            "GET", "gradio_api/queue/data", params={"session_hash": "raw-call-1"}
        ) as s:
            for line in s.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event never completed")


def test_inputs_gradio_refuses_reach_the_user_with_a_reason(launched_app):
    """A forged file path, or a value of the wrong shape, is refused before any handler runs."""
    forged = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
    result = _raw_call(launched_app, "voice_check", ["tiny-voice", forged, "", "", None])
    assert result["success"] is False
    assert "not uploaded" in (result["output"].get("error") or "")
    result = _raw_call(launched_app, "voice_check", ["tiny-voice", "/etc/passwd", "", "", None])
    assert result["success"] is False and "meta" in (result["output"].get("error") or "")


def test_a_string_defined_in_two_files_is_refused(tmp_path):
    """Every ``tabs/i18n/*.yaml`` file loads into one table: a key defined twice is an error."""
    from tabs.i18n import load_strings

    (tmp_path / "a.yaml").write_text("x.hello: {en: Hello, zh: 你好}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("x.hello: {en: Hi, zh: 嗨}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="b.yaml: string 'x.hello' is already defined"):
        load_strings(tmp_path)


def test_messages_the_tabs_raise_speak_chinese():
    """The tabs' own checks (an empty message, no clip yet...) carry keys like the engines'."""
    import ast
    from pathlib import Path

    import playground.errors
    from tabs.i18n import load_strings

    ENGINE_ERRORS = {n for n in dir(playground.errors) if n.endswith("Error")}  # noqa: N806
    strings, unkeyed = load_strings(), []
    for path in sorted(Path("tabs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call, name = node.exc, ast.unparse(node.exc.func)
            if name == "gr.Error":  # must carry a translated text
                first = call.args[0] if call.args else None
                if not (isinstance(first, ast.Call) and ast.unparse(first.func) == "tr"):
                    unkeyed.append(f"{path}:{node.lineno} gr.Error without tr()")
            elif name in ENGINE_ERRORS:
                key = next((k.value for k in call.keywords if k.arg == "key"), None)
                known = not isinstance(key, ast.Constant) or key.value in strings["zh"]
                if key is None or not known:  # a key passed on (job.error_key) is the engine's
                    unkeyed.append(f"{path}:{node.lineno} {name} without a known key")
    assert unkeyed == []
    message = user_error(InputError("type a message first", key="errors.tabs.type_message"), ZH)
    assert message.message == "请先输入消息"
