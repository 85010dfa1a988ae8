"""End to end through real clients: the app on the tiny models, driven by `gradio_client`.

Every tab's main endpoint (chat reply, document index + ask, dataset validate +
short fine-tune, image, voice), 8 concurrent sessions on Chat and Documents
(each gets its own answer and sees only its own collection), the "Use via
API" names and docstrings, and the same tools over MCP.

These need every tab; a tab that is not built in this checkout fails its test
with a message naming it (they all run after the tab branches are merged).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

MAIN_ENDPOINTS = {
    "chat": ["/chat"],
    "rag": ["/rag_index", "/rag_search", "/rag_ask"],
    "finetune": ["/finetune_validate", "/finetune_start"],
    "image": ["/image_generate"],
    "voice": ["/voice_check", "/voice_clone"],
}


def _text(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def _choices(update) -> list[str]:
    return [c[0] if isinstance(c, (list, tuple)) else c for c in update.get("choices", [])]


@pytest.fixture(scope="module")
def api(launched_app):
    from gradio_client import Client

    client = Client(launched_app.url, verbose=False)
    return client.view_api(return_format="dict", print_info=False)["named_endpoints"]


def need(api: dict, tab: str) -> None:
    missing = [e for e in MAIN_ENDPOINTS[tab] if e not in api]
    if missing:
        pytest.fail(f"the {tab} tab is not built in this checkout: no endpoint {missing}")


def client_for(launched_app):
    from gradio_client import Client

    return Client(launched_app.url, verbose=False)


# ------------------------------------------------------------------ API page


def test_main_endpoints_have_clean_names_and_docstrings(api):
    for tab, endpoints in MAIN_ENDPOINTS.items():
        need(api, tab)
        for name in endpoints:
            description = (api[name].get("description") or "").strip()
            assert len(description) > 20, f"{name} has no docstring for the API page"
    private = [n for n in api if n.startswith("/lambda") or n.startswith("/_")]
    assert not private, f"unnamed endpoints show on the API page: {private}"


# ------------------------------------------------------------------ every tab


def test_chat_reply(launched_app, api):
    need(api, "chat")
    history, *_rest = client_for(launched_app).predict(
        message="Hello from the end-to-end test",
        max_new_tokens=12,
        seed=3,
        api_name="/chat",
    )
    assert _text(history[-2]) == "Hello from the end-to-end test"
    assert history[-1]["role"] == "assistant" and _text(history[-1])


def test_documents_index_and_ask(launched_app, api, tmp_path):
    from gradio_client import handle_file

    need(api, "rag")
    doc = tmp_path / "handbook.md"
    doc.write_text("# Returns\nItems can be returned within 30 days.\n", encoding="utf-8")
    client = client_for(launched_app)
    status, *_ = client.predict(
        files=[handle_file(str(doc))],
        collection="Handbook",
        api_name="/rag_index",
    )
    assert "handbook.md" in status or "1 file" in status
    history, sources, raw, _, _ = client.predict(
        question="How long can items be returned?",
        collection="Handbook",
        model="tiny-chat",
        k=2,
        api_name="/rag_ask",
    )
    assert history[-1]["role"] == "assistant" and _text(history[-1])
    assert raw and raw[0]["source"] == "handbook.md"


def _by_label(api: dict, name: str, values: dict) -> list:
    """Positional arguments for an endpoint, matched by parameter name or label key.

    The Fine-tune handlers take ``*args``, so their parameters are only
    distinguishable by their components' labels (``finetune.data``...).
    """
    args = []
    for p in api[name]["parameters"]:
        label = p.get("label")
        key = label.get("key") if isinstance(label, dict) else label
        if p["parameter_name"] in values:
            args.append(values[p["parameter_name"]])
        elif key in values:
            args.append(values[key])
        else:
            args.append(p.get("parameter_default") if p.get("parameter_has_default") else None)
    return args


def test_finetune_validate_and_short_run(launched_app, api, tmp_path):
    import json

    from gradio_client import handle_file

    need(api, "finetune")
    rows = [
        {"instruction": f"Repeat the word {w}.", "output": w}
        for w in ["apple", "river", "stone", "cloud", "green", "light"] * 4
    ]
    data = tmp_path / "tiny.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    client = client_for(launched_app)
    values = {
        "finetune.base": "tiny-chat",
        "finetune.data": handle_file(str(data)),
        "finetune.adv.max_steps": 4,
        "finetune.adv.batch_size": 4,
        "finetune.name": "e2e-run",
    }
    out = client.predict(*_by_label(api, "/finetune_validate", values),
                         api_name="/finetune_validate")  # fmt: skip
    assert "24" in str(out[0]), out[0]  # the records were counted
    started = client.predict(*_by_label(api, "/finetune_start", values),
                             api_name="/finetune_start")  # fmt: skip
    job = started[0]["value"] if isinstance(started[0], dict) else started[0]
    assert job
    deadline = time.time() + 300
    state = ""
    while time.time() < deadline:
        listing = client.predict(*_by_label(api, "/finetune_jobs", values),
                                 api_name="/finetune_jobs")  # fmt: skip
        table = listing["data"] if isinstance(listing, dict) else listing
        state = next((str(r[3]) for r in table if r[0] == job), "")
        if state in ("completed", "failed", "cancelled"):
            break
        time.sleep(2)
    assert state == "completed", f"fine-tune job {job} ended as '{state}'"


def test_image_generate(launched_app, api):
    need(api, "image")
    gallery, status, _preview, _info = client_for(launched_app).predict(
        model_name="tiny-image",
        prompt_text="a red apple on a table",
        negative_text="",
        width=64,
        height=64,
        steps=2,
        seed=7,
        api_name="/image_generate",
    )
    assert gallery and Path(gallery[0]["image"]).stat().st_size > 0


def _spoken_clip(folder: Path) -> tuple[Path, str]:
    """A clear reference recording: the repo's speech fixture (no speech synthesiser needed)."""
    from tests.voice_clips import GOOD_TEXT, make_clips

    return make_clips(folder)["good"], GOOD_TEXT


def test_voice_check_and_clone(launched_app, api, tmp_path):
    from gradio_client import handle_file

    need(api, "voice")
    clip, text = _spoken_clip(tmp_path)
    client = client_for(launched_app)
    report, cleaned, _transcript = client.predict(
        audio=handle_file(str(clip)),
        transcript=text,
        api_name="/voice_check",
    )
    assert cleaned, report
    status, audio = client.predict(
        saved="",
        cleaned=handle_file(cleaned),
        upload=None,
        transcript=text,
        text="Hello there.",
        consent=True,
        seed=1,
        steps=2,
        api_name="/voice_clone",
    )
    assert audio and Path(audio).stat().st_size > 1000, status


# ------------------------------------------------------------------ many users


def test_eight_concurrent_sessions_chat_and_documents(launched_app, api, tmp_path):
    """8 sessions at once: each gets its own reply and sees only its own collection."""
    from gradio_client import handle_file

    need(api, "chat")
    need(api, "rag")
    sessions = 8
    results: dict[int, dict] = {}
    errors: list[str] = []
    gate = threading.Barrier(sessions)

    def session(i: int) -> None:
        try:
            client = client_for(launched_app)
            doc = tmp_path / f"notes-{i}.txt"
            doc.write_text(f"The secret code of session {i} is CODE{i}X.\n", encoding="utf-8")
            gate.wait(timeout=120)
            client.predict(files=[handle_file(str(doc))], collection="notes",
                           api_name="/rag_index")  # fmt: skip
            history, *_ = client.predict(message=f"Hello, I am session {i}", max_new_tokens=8,
                                         seed=i, api_name="/chat")  # fmt: skip
            history2, *_ = client.predict(message=f"Session {i} again", history=history,
                                          max_new_tokens=8, seed=i,
                                          api_name="/chat")  # fmt: skip
            _html, hits = client.predict(question="secret code", collection="notes", k=5,
                                         api_name="/rag_search")  # fmt: skip
            listing = client.predict(name="notes", api_name="/rag_collections")
            results[i] = {"history": history2, "hits": hits, "listing": listing}
        except Exception as exc:  # collected and reported below
            errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, "\n".join(errors)
    assert sorted(results) == list(range(sessions)), "a session's work was lost"
    for i, r in results.items():
        users = [_text(m) for m in r["history"] if m["role"] == "user"]
        assert users == [f"Hello, I am session {i}", f"Session {i} again"]
        assert r["history"][-1]["role"] == "assistant" and _text(r["history"][-1])
        assert r["hits"], f"session {i} found nothing in its own collection"
        assert {h["source"] for h in r["hits"]} == {f"notes-{i}.txt"}
        assert f"CODE{i}X" in r["hits"][0]["text"]
        collections, documents, _pick = r["listing"]
        assert _choices(collections) == ["notes"]
        assert [row[0] for row in documents["data"]] == [f"notes-{i}.txt"]


# ------------------------------------------------------------------ MCP


def test_mcp_tools_cover_every_tab(tiny_models, tmp_path):
    import httpx

    from tests.conftest import launch_app

    demo, url = launch_app(tiny_models, tmp_path, mcp_server=True)
    try:
        schema = httpx.get(f"{url}gradio_api/mcp/schema", timeout=60).json()
    finally:
        demo.close()
    tools = {t["meta"]["endpoint_name"]: t for t in schema}
    for endpoint in ["chat", "rag_search", "rag_ask", "image_generate", "voice_clone"]:
        assert endpoint in tools, f"MCP has no tool for {endpoint}; tools: {sorted(tools)}"
        assert tools[endpoint]["description"], f"MCP tool {endpoint} has no description"
