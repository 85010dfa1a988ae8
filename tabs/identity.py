"""The one door for identity: every handler turns its request into a User here.

- With logins on, the user is ``request.username`` (Gradio checked the password).
- Without logins, the server issues a signed anonymous token
  (``playground.users.AnonymousIds``) in an HttpOnly cookie (``IdentityCookie``),
  which the browser -- and ``gradio_client``, which keeps the cookies of its
  first response -- sends with every request; it is verified on every event.
  A script or MCP client may instead send a token from ``/identity_new`` in the
  ``X-Playground-Identity`` header. A missing, forged or malformed token gets
  a fresh identity that owns nothing.
- No event input, API parameter or MCP tool argument carries identity, and the
  session hash (client-chosen) is never used for it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

import gradio as gr

from playground.errors import InputError
from playground.users import LOCAL, AnonymousIds, User, fresh_anonymous

COOKIE = "playground-identity"
TOKEN_HEADER = "x-playground-identity"
_RESOLVED = "_playground_user"  # cache on the gr.Request: one identity per event
COOKIE_MAX_AGE = 400 * 86400  # the longest browsers keep a cookie; --anonymous-ttl prunes data


@dataclass
class Identity:
    """Server-side identity settings: the signing key and who is an admin."""

    ids: AnonymousIds
    admins: frozenset[str] = field(default_factory=frozenset)
    local_admin: bool = False  # a local run without logins: its user is the admin

    @classmethod
    def create(cls, data_dir: Path, admins=(), local_admin: bool = False) -> Identity:
        return cls(AnonymousIds.for_data_dir(data_dir), frozenset(admins), local_admin)

    def current_user(self, request: gr.Request | None) -> User:
        """Who sent ``request``: the login, the verified anonymous token, or nobody known."""
        if request is None:
            return LOCAL
        cached = getattr(request, "__dict__", {}).get(_RESOLVED)
        if cached is not None:
            return cached
        user = self._resolve(request)
        request.__dict__[_RESOLVED] = user
        return user

    def _resolve(self, request: gr.Request) -> User:
        username = getattr(request, "username", None)
        if username:
            return User(id=username, name=username, is_admin=username in self.admins)
        headers = getattr(request, "headers", None) or {}
        token = headers.get(TOKEN_HEADER) or token_from_cookies(headers.get("cookie", ""))
        anon_id = self.ids.verify(token)
        if anon_id is None:
            # No genuine token (an API client, or a forged one): a fresh id that
            # owns nothing yet. The session hash is client-chosen, so never used.
            user = fresh_anonymous()
        else:
            user = User(id=anon_id, name="anonymous", anonymous=True)
        if self.local_admin:
            user = User(user.id, user.name, is_admin=True, anonymous=user.anonymous)
        return user

    def new_token(self) -> str:
        """A fresh anonymous identity token; send it back as the X-Playground-Identity header."""
        return self.ids.issue()


def identity_of(request: gr.Request | None) -> Identity | None:
    """The Identity of the app that received ``request`` (set by ``app.build_app``)."""
    starlette_request = getattr(request, "__dict__", {}).get("request")
    app = getattr(starlette_request, "app", None) if starlette_request is not None else None
    blocks = app.get_blocks() if hasattr(app, "get_blocks") else None
    return getattr(blocks, "identity", None)


# No app found (a hand-made request): a key nobody knows, so every caller is new.
_NO_KEY = Identity(AnonymousIds(secrets.token_bytes(32)))


def current_user(request: gr.Request | None, client_id: Any = None) -> User:
    """THE rule: who sent this event. Every handler asks this and nothing else.

    ``client_id`` (the tabs' old identity input, now a page-ready marker) is
    ignored on purpose: nothing an event carries picks the owner.
    """
    del client_id
    return (identity_of(request) or _NO_KEY).current_user(request)


def token_from_cookies(header: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:  # a malformed Cookie header is simply "no token"
        return None
    return jar[COOKIE].value if COOKIE in jar else None


class IdentityCookie:
    """ASGI middleware: give every visitor without a genuine token a fresh signed one.

    The token is injected into the request itself too, so the very first
    request already has the identity later ones will have. With logins on,
    the login is the identity and nothing is set.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        app = scope.get("app")
        identity = None
        if scope["type"] == "http" and getattr(app, "auth", None) is None:
            identity = getattr(app.get_blocks(), "identity", None) if app else None
        headers = dict(scope.get("headers") or [])
        cookie = headers.get(b"cookie", b"").decode("latin-1")
        if identity is None or identity.ids.verify(token_from_cookies(cookie)):
            return await self.app(scope, receive, send)
        token = identity.ids.issue()
        cookie = f"{cookie}; {COOKIE}={token}" if cookie.strip() else f"{COOKIE}={token}"
        kept = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        scope = dict(scope, headers=[*kept, (b"cookie", cookie.encode("latin-1"))])
        secure = scope.get("scheme") == "https" or headers.get(b"x-forwarded-proto") == b"https"
        # In a Space's iframe the cookie is third-party: SameSite=None; Secure; Partitioned.
        extra = "; SameSite=None; Secure; Partitioned" if secure else "; SameSite=Lax"
        set_cookie = f"{COOKIE}={token}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly{extra}"
        # Gradio's MCP bridge is ONE gradio_client for every MCP caller: it must not keep
        # a cookie, or all anonymous MCP callers would share one identity.
        shared_client = headers.get(b"x-gradio-user") == b"mcp"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start" and not shared_client:
                message = dict(message, headers=[*message.get("headers", []),
                                                 (b"set-cookie", set_cookie.encode())])  # fmt: skip
            await send(message)

        return await self.app(scope, receive, send_with_cookie)


def require_admin(user: User, action: str) -> None:
    if not user.is_admin:
        raise InputError(
            f"Only an administrator can {action}: it affects everyone on this server. "
            "Ask whoever runs it (they start the app with --admin YOUR_LOGIN).",
            key="errors.tabs.admin_only",
            action=action,
        )
