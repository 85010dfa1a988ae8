"""The one door for identity: every handler turns its request into a User here.

- With logins on, the user is ``request.username`` (Gradio checked the password).
- Without logins, the browser keeps a server-signed anonymous token
  (``playground.users.AnonymousIds``) in localStorage and sends it with every
  event; it is verified each time. A missing, forged or malformed token gets a
  fresh throw-away identity, so a client can only ever reach its own data.
- A script without a login may ask ``/identity_new`` for a token and send it
  back in the ``X-Playground-Identity`` header to keep one anonymous identity.
- The token component is hidden from the API and MCP (``skip_api``): no tool
  or endpoint has an identity parameter to fill in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from playground.users import LOCAL, AnonymousIds, User, fresh_anonymous

TOKEN_HEADER = "x-playground-identity"
_RESOLVED = "_playground_user"  # cache on the gr.Request: one identity per event


class IdentityToken(gr.BrowserState):
    """A BrowserState the API and MCP do not see (clients send None for it).

    Its "secret" only obfuscates localStorage (Gradio publishes it in
    /config); the HMAC signature inside the value is what protects it.
    """

    @property
    def skip_api(self) -> bool:
        return True

    @classmethod
    def get_block_name(cls) -> str:
        return "browserstate"  # the same front-end component as BrowserState


@dataclass
class Identity:
    """Server-side identity settings: the signing key and who is an admin."""

    ids: AnonymousIds
    admins: frozenset[str] = field(default_factory=frozenset)
    local_admin: bool = False  # a local run without logins: its user is the admin

    @classmethod
    def create(cls, data_dir: Path, admins=(), local_admin: bool = False) -> Identity:
        return cls(AnonymousIds.for_data_dir(data_dir), frozenset(admins), local_admin)

    def current_user(self, request: gr.Request | None, token: Any = None) -> User:
        """Who sent ``request``: the login, the verified anonymous token, or nobody known."""
        if request is None:
            return LOCAL
        cached = getattr(request, "__dict__", {}).get(_RESOLVED)
        if cached is not None:
            return cached
        user = self._resolve(request, token)
        request.__dict__[_RESOLVED] = user
        return user

    def _resolve(self, request: gr.Request, token: Any) -> User:
        username = getattr(request, "username", None)
        if username:
            return User(id=username, name=username, is_admin=username in self.admins)
        if not token:  # scripts: a token from /identity_new, sent as a header
            token = (getattr(request, "headers", None) or {}).get(TOKEN_HEADER)
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

    def ensure_token(self, token: Any) -> str:
        """The page-load handler: keep a genuine token, replace anything else."""
        return token if self.ids.verify(token) else self.ids.issue()


def identity_of(request: gr.Request | None) -> Identity | None:
    """The Identity of the app that received ``request`` (set by ``app.build_app``)."""
    starlette_request = getattr(request, "__dict__", {}).get("request")
    app = getattr(starlette_request, "app", None) if starlette_request is not None else None
    blocks = app.get_blocks() if hasattr(app, "get_blocks") else None
    return getattr(blocks, "identity", None)


# No app found (a hand-made request): a key nobody knows, so every caller is new.
_NO_KEY = Identity(AnonymousIds(secrets.token_bytes(32)))


def current_user(request: gr.Request | None, token: Any = None) -> User:
    """THE rule: who sent this event. Every handler asks this and nothing else."""
    return (identity_of(request) or _NO_KEY).current_user(request, token)


def require_admin(user: User, action: str) -> None:
    if not user.is_admin:
        raise gr.Error(
            f"Only an administrator can {action}: it affects everyone on this server. "
            "Ask whoever runs it (they start the app with --admin YOUR_LOGIN)."
        )
