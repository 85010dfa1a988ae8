"""Strangers on one server: every way one user could reach another's data, tried.

Two launches on the tiny models: one with two logins (alice is the admin,
bob is not; MCP on), one without logins. Alice (or an anonymous browser)
makes data through the endpoints and it is also planted where a tab would
write it; then bob, a client with no login, and forged/replayed identities
try the file route, every listing, model use, MCP, Hub push and Unload.
Every attempt must fail.
"""

from __future__ import annotations

import base64
import json
from contextlib import AsyncExitStack
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tabs.identity import COOKIE
from tests.conftest import launch_app

LOGINS = {"alice": "alice-pw-7", "bob": "bob-pw-9"}
SECRET_NAMES = ["alice-lora", "alice-secret-notes", "alice-voice", "alice-role", "alice-job"]


def _client(url, user=None, headers=None, cookies=None):
    from gradio_client import Client

    auth = (user, LOGINS[user]) if user else None
    kwargs = {"cookies": cookies} if cookies else {}
    return Client(url, auth=auth, headers=headers, verbose=False, httpx_kwargs=kwargs)


def _plant(data_dir: Path, owner_folder: str, tiny_config) -> dict[str, Path]:
    """What a user's tabs leave on disk, at the paths the tabs use."""
    import numpy as np

    from playground.chat.roles import Role, save_user_role
    from playground.storage import atomic_write_json, atomic_write_text
    from playground.voice import Reference
    from playground.voice.audio import Audio
    from playground.voice.voices import VoiceLibrary

    home = data_dir / "users" / owner_folder
    job = home / "finetune" / "20260101-000000-abcdef"
    atomic_write_json(job / "config.json", {"id": job.name, "name": "alice-job", "base": "x"})
    atomic_write_json(job / "status.json", {"state": "completed"})
    atomic_write_text(job / "data" / "train.jsonl", '{"instruction": "alice secret"}\n')
    base = tiny_config.get("tiny-chat")
    manifest = {"name": "alice-lora", "base": "tiny-chat", "dataset": "d", "train_loss": 1.0}
    atomic_write_json(job / "adapter" / "manifest.json", {**manifest, "source": base.source})
    atomic_write_text(home / "images" / "img-1.png", "not really a png")
    atomic_write_text(home / "voice-work" / "reference.wav", "wav bytes")
    save_user_role(home / "roles", Role(id="alice-role", name="alice-role", role="secret"))
    samples = np.zeros(16000, dtype=np.float32)
    VoiceLibrary(home / "voices").save(
        "alice-voice", Reference(Audio(samples, 16000), "hi"), consent=True, by="alice"
    )
    return {
        "train": job / "data" / "train.jsonl",
        "manifest": job / "adapter" / "manifest.json",
        "image": home / "images" / "img-1.png",
        "reference": home / "voice-work" / "reference.wav",
        "voice": next((home / "voices").glob("*/reference.wav")),
        "key": data_dir / ".identity-key",
    }


def _register_adapter(registry, tiny_config, owner_folder: str) -> None:
    from playground.config import ModelEntry

    base = tiny_config.get("tiny-chat")
    registry.register(
        ModelEntry(name="alice-lora", task="chat", source=base.source, base="tiny-chat",
                   owner=owner_folder),
        replace=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def logins_app(tiny_models, tiny_config, tmp_path_factory):
    from playground.storage import safe_name

    data_dir = tmp_path_factory.mktemp("security-logins")
    demo, url = launch_app(
        tiny_models, data_dir, argv=("--admin", "alice"), auth=list(LOGINS.items()), mcp_server=True
    )
    alice = _client(url, "alice")
    doc = data_dir.parent / "alice-notes.txt"
    doc.write_text("The alice secret codeword is heliotrope.\n", encoding="utf-8")
    from gradio_client import handle_file

    alice.predict(files=[handle_file(str(doc))], collection="alice-secret-notes",
                  api_name="/rag_index")  # fmt: skip
    folder = safe_name("user-alice")
    files = _plant(data_dir, folder, tiny_config)
    _register_adapter(demo.registry, tiny_config, folder)
    yield SimpleNamespace(url=url, demo=demo, data_dir=data_dir, files=files, alice=alice)
    demo.close()


@pytest.fixture(scope="module")
def bob(logins_app):
    return _client(logins_app.url, "bob")


def _cookies_for(url: str, user: str) -> httpx.Cookies:
    response = httpx.post(f"{url}login", data={"username": user, "password": LOGINS[user]})
    assert response.status_code == 200, response.text
    return response.cookies


def _no_echo(answer):
    """rag_collections keeps a typed name as the field's value: that is the caller's own input."""
    first, *rest = answer
    return [{k: v for k, v in first.items() if k != "value"}, *rest]


def _leaks(value, data_dir: Path) -> list[str]:
    text = json.dumps(value, default=str)
    found = [name for name in SECRET_NAMES if name in text]
    return found + ([str(data_dir)] if str(data_dir.resolve()) in text else [])


# ------------------------------------------------------------------ files


def test_the_file_route_serves_nothing_from_the_data_folder(logins_app):
    cookies = _cookies_for(logins_app.url, "bob")
    for label, path in logins_app.files.items():
        assert path.exists()
        for cookie_jar in (cookies, None):  # bob, and a client with no login
            r = httpx.get(f"{logins_app.url}gradio_api/file={path}", cookies=cookie_jar)
            assert r.status_code in (401, 403, 404), f"{label}: {r.status_code} served {path}"
            assert "secret" not in r.text and "wav bytes" not in r.text


def test_a_client_without_login_gets_nothing(logins_app):
    for path in ("config", "gradio_api/info", "gradio_api/mcp/schema"):
        r = httpx.get(f"{logins_app.url}{path}")
        assert r.status_code in (401, 403), f"/{path} answered {r.status_code} without a login"
    r = httpx.post(f"{logins_app.url}gradio_api/call/rag_collections", json={"data": [""]})
    assert r.status_code in (401, 403)


# ------------------------------------------------------------------ listings


def test_every_listing_shows_bob_nothing_of_alices(logins_app, bob):
    answers = {
        "rag_collections": bob.predict("", api_name="/rag_collections"),
        "rag_collections_named": _no_echo(
            bob.predict("alice-secret-notes", api_name="/rag_collections")
        ),
        "finetune_jobs": bob.predict(api_name="/finetune_jobs"),
        "models_status": bob.predict(api_name="/models_status"),
        "chat_save_role": bob.predict("en", api_name="/chat_save_role"),
        "config": httpx.get(
            f"{logins_app.url}config", cookies=_cookies_for(logins_app.url, "bob")
        ).json(),
    }
    for name, answer in answers.items():
        assert not _leaks(answer, logins_app.data_dir), (
            f"{name} leaked {_leaks(answer, logins_app.data_dir)}"
        )
    # ...while alice does see hers: the checks above are not vacuous.
    mine = logins_app.alice.predict("alice-secret-notes", api_name="/rag_collections")
    assert "alice-secret-notes" in json.dumps(mine)
    assert "alice-lora" in json.dumps(logins_app.alice.predict(api_name="/models_status"))


def test_every_model_dropdown_refresh_offers_only_shared_and_own(logins_app):
    from playground.users import User
    from tabs.chat import model_choices
    from tabs.models import status_rows
    from tabs.rag import chat_models

    registry = logins_app.demo.registry
    bob = User(id="bob", name="bob")
    ctx = SimpleNamespace(registry=registry)
    assert "alice-lora" not in [v for _, v in model_choices(registry, bob.key)]
    assert "alice-lora" not in chat_models(registry, bob.key)
    assert "alice-lora" not in [row[0] for row in status_rows(ctx, bob)]
    assert "alice-lora" in chat_models(registry, "user-alice")
    for row in status_rows(ctx, bob):
        assert not row[6].startswith("/"), f"a server path reached a non-admin: {row}"


# ------------------------------------------------------------------ using the adapter


def _error_text(call) -> str:
    with pytest.raises(Exception) as info:  # gradio_client raises AppError with the message
        call()
    return str(info.value)


def test_using_alices_adapter_fails_like_a_name_that_does_not_exist(bob):
    tries = {
        "chat": lambda m: bob.predict("hi", [], model=m, api_name="/chat"),
        "rag_ask": lambda m: bob.predict("codeword?", [], "bob-none", m, api_name="/rag_ask"),
        "prompt": lambda m: bob.predict("a cat", m, api_name="/image_prompt_assistant"),
    }
    for name, call in tries.items():
        real = _error_text(lambda c=call: c("alice-lora")).replace("alice-lora", "NAME")
        fake = _error_text(lambda c=call: c("no-such-lora")).replace("no-such-lora", "NAME")
        assert real == fake, f"{name}: another user's adapter is told apart:\n{real}\n{fake}"
        assert "alice-lora" not in fake


def test_the_model_rule_itself_answers_alike_for_hers_and_for_nothing(logins_app):
    """Over the API, Gradio's own dropdown check answers first (above); this is the rule
    behind it, which every handler calls whatever the dropdown allowed in that session."""
    from playground.errors import UnknownModelError
    from playground.users import User, visible_entry

    registry = logins_app.demo.registry
    bob, alice = User(id="bob", name="bob"), User(id="alice", name="alice")
    messages = []
    for name in ("alice-lora", "no-such-lora"):
        with pytest.raises(UnknownModelError) as info:
            visible_entry(registry, bob, name)
        messages.append(str(info.value).replace(name, "NAME"))
    assert messages[0] == messages[1] and "alice-lora" not in messages[1]
    assert visible_entry(registry, alice, "alice-lora").name == "alice-lora"
    with pytest.raises(UnknownModelError) as info:  # the registry's own message, too
        registry.entry("no-such-lora")
    assert "alice-lora" not in str(info.value)


def test_rag_ask_with_alices_adapter_refused_even_with_her_collection_name(logins_app, bob):
    text = _error_text(
        lambda: bob.predict(
            "codeword?", [], "alice-secret-notes", "alice-lora", api_name="/rag_ask"
        )
    )
    assert "heliotrope" not in text


# ------------------------------------------------------------------ admins


def test_a_non_admin_unload_is_refused_and_an_admin_unload_works(logins_app, bob):
    registry = logins_app.demo.registry
    registry.get("tiny-chat")
    for endpoint, args in (("/models_unload", ("tiny-chat",)), ("/models_unload_all", ()),
                           ("/models_load", ("tiny-embedding",))):  # fmt: skip
        text = _error_text(lambda e=endpoint, a=args: bob.predict(*a, api_name=e))
        assert "administrator" in text
    assert registry.is_loaded("tiny-chat")
    logins_app.alice.predict("tiny-chat", api_name="/models_unload")
    assert not registry.is_loaded("tiny-chat")


# ------------------------------------------------------------------ Hub push


def test_push_uses_only_the_users_token_never_the_servers(logins_app, monkeypatch):
    import huggingface_hub

    seen: list[str | None] = []

    class FakeApi:
        def __init__(self, token=None, **_):
            seen.append(token)

        def create_repo(self, *a, **k):
            pass

        def upload_folder(self, *a, **k):
            pass

    monkeypatch.setenv("HF_TOKEN", "hf_SERVER_OWNER_TOKEN")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    alice, job = logins_app.alice, logins_app.files["manifest"].parent.parent.name
    text = _error_text(lambda: alice.predict(job, "alice/x", "", api_name="/finetune_push"))
    assert "your own Hugging Face token" in text and seen == []
    shown = alice.predict(job, "alice/x", "hf_alice_own", api_name="/finetune_push")
    assert seen == ["hf_alice_own"] and "huggingface.co/alice/x" in shown
    # bob cannot push alice's job even with his own token
    bob = _client(logins_app.url, "bob")
    assert "not found" in _error_text(
        lambda: bob.predict(job, "bob/x", "hf_bob", api_name="/finetune_push")
    )
    assert seen == ["hf_alice_own"]


# ------------------------------------------------------------------ MCP


def _mcp(url: str, headers: dict | None, fn):
    import anyio
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def run():
        async with AsyncExitStack() as stack:
            client = streamablehttp_client(f"{url}gradio_api/mcp/", headers=headers)
            read, write, _ = await stack.enter_async_context(client)
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            return await fn(session)

    return anyio.run(run)


def test_mcp_needs_the_login_and_every_schema_is_valid(logins_app):
    from jsonschema import Draft202012Validator

    async def list_tools(session):
        return (await session.list_tools()).tools

    with pytest.raises(Exception):  # noqa: B017 (the 401 surfaces as the client's own error)
        _mcp(logins_app.url, None, list_tools)
    r = httpx.post(f"{logins_app.url}gradio_api/mcp/", json={"jsonrpc": "2.0", "id": 1,
                   "method": "tools/list"}, headers={"accept": "application/json, text/event-stream"})  # fmt: skip
    assert r.status_code == 401
    basic = base64.b64encode(b"bob:" + LOGINS["bob"].encode()).decode()
    wrong = base64.b64encode(b"bob:nope").decode()
    r = httpx.post(
        f"{logins_app.url}gradio_api/mcp/", json={}, headers={"authorization": f"Basic {wrong}"}
    )
    assert r.status_code == 401
    headers = {"authorization": f"Basic {basic}"}
    tools = _mcp(logins_app.url, headers, list_tools)
    assert len(tools) > 20
    for tool in tools:
        Draft202012Validator.check_schema(tool.inputSchema)
        assert "client_id" not in json.dumps(tool.inputSchema), tool.name
    assert "list_mine" in {t.name for t in tools}  # finetune_jobs: tools carry function names

    async def call(session):
        return await session.call_tool("list_mine", {})

    def as_user(user):
        creds = base64.b64encode(f"{user}:{LOGINS[user]}".encode()).decode()
        result = _mcp(logins_app.url, {"authorization": f"Basic {creds}"}, call)
        assert not result.isError, result
        return json.dumps([c.model_dump() for c in result.content])

    assert "alice-job" in as_user("alice")  # the call works, as alice
    assert "alice-job" not in as_user("bob")  # and runs as bob for bob


# ------------------------------------------------------------------ without logins


@pytest.fixture(scope="module")
def open_app(tiny_models, tiny_config, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("security-open")
    # Naming an admin turns off "a local run is its own admin": visitors are plain users.
    demo, url = launch_app(tiny_models, data_dir, argv=("--admin", "nobody"))
    victim = _client(url)  # like a browser: keeps the signed cookie of its first response
    token = victim.cookies[COOKIE]
    doc = data_dir.parent / "victim.txt"
    doc.write_text("alice secret codeword heliotrope\n", encoding="utf-8")
    from gradio_client import handle_file

    victim.predict(files=[handle_file(str(doc))], collection="alice-secret-notes",
                   api_name="/rag_index")  # fmt: skip
    anon_id = demo.identity.ids.verify(token)
    files = _plant(data_dir, f"anon-{anon_id}", tiny_config)
    _register_adapter(demo.registry, tiny_config, f"anon-{anon_id}")
    yield SimpleNamespace(url=url, demo=demo, data_dir=data_dir, token=token, anon_id=anon_id,
                          victim=victim, files=files)  # fmt: skip
    demo.close()


def test_without_logins_the_victim_sees_their_own_data(open_app):
    listing = open_app.victim.predict("", api_name="/rag_collections")
    assert "alice-secret-notes" in json.dumps(listing)


def test_forged_and_replayed_ids_reach_nothing(open_app):
    from playground.users import AnonymousIds

    anon_id = open_app.anon_id
    forged = [
        None,
        anon_id,
        f"anon-{anon_id}",
        f"v1.{anon_id}.{'0' * 64}",
        AnonymousIds(b"guessed key")
        .issue()
        .replace(AnonymousIds(b"guessed key").issue().split(".")[1], anon_id),
        open_app.token[:-2] + "00",
    ]
    attackers = [_client(open_app.url, headers={"x-playground-identity": v}) for v in forged if v]
    attackers += [_client(open_app.url, cookies={COOKIE: v}) for v in forged if v]
    attackers.append(_client(open_app.url))
    for attacker in attackers:
        for answer in (
            attacker.predict("", api_name="/rag_collections"),
            _no_echo(attacker.predict("alice-secret-notes", api_name="/rag_collections")),
            attacker.predict(api_name="/finetune_jobs"),
            attacker.predict(api_name="/models_status"),
        ):
            assert not _leaks(answer, open_app.data_dir), (attacker.cookies, answer)
        # a replayed session hash of the victim's client
        attacker.session_hash = open_app.victim.session_hash
        assert not _leaks(attacker.predict("", api_name="/rag_collections"), open_app.data_dir)
    # the token as a raw positional value (the hidden input), forged
    for value in forged[1:]:
        r = httpx.post(f"{open_app.url}gradio_api/call/rag_collections", json={"data": ["", value]})
        event = r.json()["event_id"]
        body = httpx.get(f"{open_app.url}gradio_api/call/rag_collections/{event}").text
        assert "alice-secret-notes" not in body


def test_without_logins_the_file_route_and_adapter_are_closed(open_app):
    for label, path in open_app.files.items():
        r = httpx.get(f"{open_app.url}gradio_api/file={path}")
        assert r.status_code in (403, 404), f"{label}: served {path}"
    stranger = _client(open_app.url)
    real = _error_text(lambda: stranger.predict("hi", [], model="alice-lora", api_name="/chat"))
    fake = _error_text(lambda: stranger.predict("hi", [], model="nope-lora", api_name="/chat"))
    assert real.replace("alice-lora", "N") == fake.replace("nope-lora", "N")
    text = _error_text(lambda: stranger.predict("tiny-chat", api_name="/models_unload"))
    assert "administrator" in text


def test_a_full_folder_refuses_new_data_naming_the_limit(open_app, tmp_path):
    from gradio_client import handle_file

    settings = open_app.demo.settings  # the tabs read the same Settings object
    saved, settings.user_quota_bytes = settings.user_quota_bytes, 1
    try:
        doc = tmp_path / "more.txt"
        doc.write_text("one more document\n", encoding="utf-8")
        text = _error_text(
            lambda: open_app.victim.predict(
                files=[handle_file(str(doc))], collection="more", api_name="/rag_index"
            )
        )
    finally:
        settings.user_quota_bytes = saved
    assert "(--user-quota)" in text and "deleting" in text
