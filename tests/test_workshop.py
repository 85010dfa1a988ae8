"""A room of people on one app: --workshop preset, logins from the environment, --mcp."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

import app
from playground import zerogpu
from tests.conftest import free_port


def test_workshop_settings(tmp_path):
    plain = app.launch_settings(app.parse_args([]))
    assert (plain.max_file_size_mb, plain.heavy_concurrency, plain.light_concurrency) == (200, 1, 8)
    room = app.launch_settings(app.parse_args(["--workshop"]))
    assert room.workshop and room.max_file_size_mb == app.WORKSHOP_MAX_FILE_MB
    assert room.heavy_concurrency == 1  # one GPU: model-bound work one at a time
    assert room.light_concurrency == 16
    explicit = app.launch_settings(app.parse_args(["--workshop", "--max-file-size", "500"]))
    assert explicit.max_file_size_mb == 500
    zero = app.launch_settings(app.parse_args([]), zerogpu=True)
    assert zero.zerogpu and zero.heavy_concurrency == app.ZEROGPU_HEAVY_CONCURRENCY


def test_workshop_queue_is_bounded(tiny_models, tmp_path):
    args = app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path), "--workshop"])
    demo = app.build_app(args)
    assert demo._queue.max_size == app.WORKSHOP_QUEUE_SIZE
    assert demo.settings.workshop
    plain = app.build_app(
        app.parse_args(["--config", str(tiny_models), "--data-dir", str(tmp_path)])
    )
    assert plain._queue.max_size is None


def test_models_to_preload(registry, monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert app.models_to_preload(app.parse_args([]), registry) == []
    assert app.models_to_preload(app.parse_args(["--preload", "tiny-reranker"]), registry) == [
        "tiny-reranker"
    ]
    room = app.models_to_preload(app.parse_args(["--workshop"]), registry)
    assert room == [registry.names("chat")[0], registry.names("embedding")[0]]
    # on ZeroGPU the defaults load at start-up too (weights must not load inside a GPU call)
    monkeypatch.setattr(zerogpu, "on_zerogpu", lambda: True)
    on_zero = app.models_to_preload(app.parse_args([]), registry)
    assert on_zero[:2] == room
    assert set(on_zero[2:]) <= set(registry.names("text-to-image"))


def test_auth_from_environment(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_AUTH", "alice:pw1, bob:p:w2")
    assert app.read_auth(app.parse_args(["--auth", "carol:x"])) == [
        ("carol", "x"),
        ("alice", "pw1"),
        ("bob", "p:w2"),
    ]
    monkeypatch.setenv("PLAYGROUND_AUTH", "nocolon")
    from playground.errors import ConfigError

    with pytest.raises(ConfigError, match="PLAYGROUND_AUTH"):
        app.read_auth(app.parse_args([]))


def test_mcp_without_package_is_a_clear_error(monkeypatch):
    real = app.importlib.util.find_spec
    monkeypatch.setattr(
        app.importlib.util, "find_spec", lambda name, *a: None if name == "mcp" else real(name, *a)
    )
    from playground.errors import ConfigError

    with pytest.raises(ConfigError, match="pip install"):
        app._check_mcp(app.parse_args(["--mcp"]))
    app._check_mcp(app.parse_args([]))


@pytest.fixture(scope="module")
def workshop_app(tiny_models, tmp_path_factory):
    """`python app.py --workshop --mcp` with two logins from $PLAYGROUND_AUTH."""
    port = free_port()
    data = tmp_path_factory.mktemp("workshop-data")
    env = {**os.environ, "PLAYGROUND_AUTH": "alice:pw1,bob:pw2"}
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--config", str(tiny_models), "--port", str(port),
         "--data-dir", str(data), "--workshop", "--mcp", "--max-file-size", "1"],
        cwd=app.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited: {proc.stdout.read()}")
        try:
            urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            time.sleep(1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_workshop_app_preloads_defaults_and_requires_login(workshop_app):
    from gradio_client import Client

    client = Client(workshop_app, auth=("bob", "pw2"), verbose=False)
    table, _, _ = client.predict(api_name="/models_status")
    states = {row[0]: row[2] for row in table["data"]}
    assert states["tiny-chat"] == "loaded"  # before anyone asked for it
    assert states["tiny-embedding"] == "loaded"
    assert states["tiny-reranker"] == "not loaded"
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain error on 401
        Client(workshop_app, auth=("bob", "wrong"), verbose=False)


def test_workshop_app_enforces_upload_limit(workshop_app):
    import httpx

    with httpx.Client(base_url=workshop_app, timeout=30) as http:
        assert http.post("/login", data={"username": "alice", "password": "pw1"}).status_code == 200
        big = http.post("/gradio_api/upload", files={"files": ("big.bin", b"x" * (2 << 20))})
        assert big.status_code == 413
        assert "maximum" in big.text.lower()
        small = http.post("/gradio_api/upload", files={"files": ("small.txt", b"hello")})
        assert small.status_code == 200


def test_mcp_server_lists_named_endpoints_as_tools(workshop_app):
    import httpx

    # MCP sits behind the same logins as the UI (the schema too).
    assert httpx.get(workshop_app + "gradio_api/mcp/schema", timeout=30).status_code == 401
    schema = httpx.get(
        workshop_app + "gradio_api/mcp/schema", auth=("alice", "pw1"), timeout=30
    ).json()
    endpoints = {tool["meta"]["endpoint_name"] for tool in schema}
    assert {"models_status", "models_load", "models_unload"} <= endpoints
    load = next(t for t in schema if t["meta"]["endpoint_name"] == "models_load")
    assert "tiny-chat" in load["inputSchema"]["properties"]["name"]["enum"]
