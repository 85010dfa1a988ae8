"""App shell details: strings in two languages, a broken tab does not take the app down."""

from __future__ import annotations

import gradio as gr
import pytest

import app
import tabs
from tabs.common import ui_errors
from tabs.i18n import FOLDER, load_strings


def test_every_string_has_english_and_chinese():
    table = load_strings()
    assert set(table["en"]) == set(table["zh"])
    assert len(table["en"]) >= 10
    for key, english in table["en"].items():
        assert table["zh"][key].strip(), key
        assert english.strip(), key


def test_every_tab_has_its_strings_file():
    names = {p.stem for p in FOLDER.glob("*.yaml")}
    assert "app" in names


def _markdown_texts(demo) -> list[str]:
    return [str(b.value) for b in demo.blocks.values() if isinstance(b, gr.Markdown)]


def test_tab_with_missing_package_shows_why_and_others_work(tiny_models, tmp_path, monkeypatch):
    broken = [("chat", "tabs.chat", ["surely_not_installed_pkg"])] + tabs.TABS[1:]
    monkeypatch.setattr(tabs, "TABS", broken)
    args = app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    demo = app.build_app(args)
    texts = _markdown_texts(demo)
    assert any("pip install surely_not_installed_pkg" in t for t in texts)
    api = demo.get_api_info()["named_endpoints"]
    assert "/models_status" in api


def test_tab_that_raises_while_building_shows_error(tiny_models, tmp_path, monkeypatch):
    import tabs.image

    def explode(ctx):
        raise RuntimeError("widget factory broke")

    monkeypatch.setattr(tabs.image, "build", explode)
    args = app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    demo = app.build_app(args)
    assert any("widget factory broke" in t for t in _markdown_texts(demo))


def test_owner_is_the_login_else_a_signed_token_never_a_client_string(tmp_path):
    from playground.users import AnonymousIds
    from tabs.identity import COOKIE, TOKEN_HEADER, Identity

    identity = Identity.create(tmp_path)
    token = identity.new_token()

    class Req:
        username = None
        session_hash = "abc"

    def user(token, username=None, how="cookie"):
        req = Req()
        req.username = username
        req.headers = {"cookie": f"{COOKIE}={token}"} if how == "cookie" else {TOKEN_HEADER: token}
        return identity.current_user(req)

    mine = user(token)
    assert mine.anonymous and mine.key == f"anon-{mine.id}" and user(token).key == mine.key
    assert user(token, how="header").key == mine.key
    # A plain id, a re-signed id with another key, a tampered token: each a fresh stranger.
    forged = AnonymousIds(b"another key").issue()
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    for bad in ("b1", mine.id, f"anon-{mine.id}", forged, tampered, {"id": mine.id}):
        for how in ("cookie", "header"):
            other = user(bad, how=how)
            assert other.key != mine.key and other.anonymous
    assert user(token, "alice").key == "user-alice"


def test_ui_errors_turns_engine_errors_into_gradio_errors():
    from playground.errors import InputError

    @ui_errors
    def handler():
        raise InputError("the file is empty; upload a PDF with text")

    @ui_errors
    def streamer():
        yield 1
        raise InputError("stream broke")

    with pytest.raises(gr.Error, match="file is empty"):
        handler()
    gen = streamer()
    assert next(gen) == 1
    with pytest.raises(gr.Error, match="stream broke"):
        next(gen)


def test_translated_strings_are_never_glued_into_other_text(tiny_models, tmp_path):
    """An I18n key formatted into an f-string shows raw JSON to the user instead of text."""
    import re

    whole = re.compile(r'^__i18n__\{"__type__": "translation_metadata", "key": "[^"]+"\}$')
    args = app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    demo = app.build_app(args)
    glued = [
        (type(block).__name__, attr, value[:80])
        for block in demo.blocks.values()
        for attr in ("value", "label", "info", "placeholder")
        if isinstance(value := getattr(block, attr, None), str)
        and "__i18n__" in value
        and not whole.match(value)
    ]
    assert glued == []


def test_every_string_key_used_in_the_tabs_exists():
    """A key missing from tabs/i18n/*.yaml would show its raw name in the UI."""
    import re

    pattern = re.compile(r"""(?:\bt|i18n|\btr|\btext)\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
    table = load_strings()["en"]
    used = set()
    for path in FOLDER.parent.rglob("*.py"):  # every tab module, packages included
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    for path in [FOLDER.parent.parent / "app.py"]:
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert len(used) > 50
    # "finetune.state." + state: a prefix; the keys it completes to must exist.
    missing = sorted(
        k
        for k in used
        if (not any(t.startswith(k) for t in table) if k.endswith(".") else k not in table)
    )
    assert missing == []
