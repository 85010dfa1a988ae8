"""MCP behind the same login as the UI.

Gradio mounts its MCP server (``/gradio_api/mcp/...``) as a sub-application
without its login check, so with ``--auth`` anyone could list the tools and
read their schemas. This ASGI middleware refuses MCP requests that carry
neither the UI's login cookie nor valid ``Authorization: Basic`` credentials.
A Basic login is turned into a login cookie on the request, because Gradio
forwards the MCP request's headers to the tool's endpoint, which checks the
login again and uses it as the identity (``request.username``).

Gradio runs queued tools through one internal ``gradio_client`` that cannot
open an app with logins (it has none); it is given a login of its own
(``BRIDGE_USER``, owning nothing), and each call still carries the caller's
cookie, which takes precedence over the bridge's.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from http.cookies import SimpleCookie

MCP_PATH = "/gradio_api/mcp"
BRIDGE_USER = "mcp-bridge (internal)"  # has no folder, is no admin; ":" can't occur in logins


class McpLoginGate:
    def __init__(self, app) -> None:
        self.app = app
        self._tokens: dict[str, str] = {}  # login -> the cookie token minted for Basic auth

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or MCP_PATH not in scope.get("path", ""):
            return await self.app(scope, receive, send)
        gradio_app = scope.get("app")
        if getattr(gradio_app, "auth", None) is None:
            return await self.app(scope, receive, send)  # no logins: MCP is as open as the UI
        _let_bridge_log_in(gradio_app)
        headers = dict(scope.get("headers") or [])
        if self._cookie_user(gradio_app, headers):
            return await self.app(scope, receive, send)
        user = self._basic_user(gradio_app, headers.get(b"authorization", b""))
        if user is None:
            return await _refuse(send)
        cookie = f"access-token-{gradio_app.cookie_id}={self._token_for(gradio_app, user)}"
        kept = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        scope = dict(scope, headers=[*kept, (b"cookie", cookie.encode())])
        return await self.app(scope, receive, send)

    @staticmethod
    def _cookie_user(gradio_app, headers: dict[bytes, bytes]) -> str | None:
        jar = SimpleCookie()
        jar.load(headers.get(b"cookie", b"").decode("latin-1"))
        for name in (
            f"access-token-{gradio_app.cookie_id}",
            f"access-token-unsecure-{gradio_app.cookie_id}",
        ):
            if name in jar and jar[name].value in gradio_app.tokens:
                return gradio_app.tokens[jar[name].value]
        return None

    @staticmethod
    def _basic_user(gradio_app, header: bytes) -> str | None:
        scheme, _, encoded = header.decode("latin-1").partition(" ")
        if scheme.lower() != "basic" or not isinstance(gradio_app.auth, dict):
            return None
        try:
            user, sep, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = gradio_app.auth.get(user)
        if not sep or expected is None:
            return None
        return user if hmac.compare_digest(password.encode(), str(expected).encode()) else None

    def _token_for(self, gradio_app, user: str) -> str:
        token = self._tokens.get(user)
        if token is None or gradio_app.tokens.get(token) != user:
            token = secrets.token_urlsafe(16)
            gradio_app.tokens[token] = user
            self._tokens[user] = token
        return token


def _let_bridge_log_in(gradio_app) -> None:
    """Give Gradio's MCP loop-back client a login (it is built lazily, once)."""
    server = getattr(gradio_app.get_blocks(), "mcp_server_obj", None)
    if server is None or getattr(server, "_playground_bridge", False):
        return
    original = server._get_or_create_client

    def create_client():
        if server._client_instance is not None or not server.local_url:
            return original()
        from gradio_client import Client

        token = secrets.token_urlsafe(16)
        gradio_app.tokens[token] = BRIDGE_USER
        cookies = {f"access-token-{gradio_app.cookie_id}": token}
        server._client_instance = Client(
            server.local_url,
            download_files=False,
            verbose=False,
            analytics_enabled=False,
            ssl_verify=False,
            _skip_components=False,
            headers={"x-gradio-user": "mcp"},
            httpx_kwargs={"cookies": cookies},
        )
        return server._client_instance

    server._get_or_create_client = create_client
    server._playground_bridge = True


async def _refuse(send) -> None:
    body = json.dumps(
        {
            "error": "Not authenticated",
            "detail": "This server needs a login for MCP too: send the UI's login cookie, "
            "or an 'Authorization: Basic <base64 of USER:PASS>' header.",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Basic realm="AIGC Playground"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
