"""Who a request belongs to, and what that person may see and use.

The UI resolves a :class:`User` once per event (``tabs.identity``); engines and
storage receive that object (or its ``key``), never a string a client sent.
Model visibility lives here too, so that "another user's adapter behaves like
a name that does not exist" is one rule, used by every tab, the API and MCP.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from playground.errors import UnknownModelError

_ANON_ID = re.compile(r"^[0-9a-f]{24}$")
TOKEN_PREFIX = "v1"


@dataclass(frozen=True)
class User:
    """The person behind a request: a login, or a server-signed anonymous id."""

    id: str
    name: str
    is_admin: bool = False
    anonymous: bool = False

    @property
    def key(self) -> str:
        """The owner key storage uses (``DATA/users/<safe key>/...``)."""
        return f"anon-{self.id}" if self.anonymous else f"user-{self.id}"


# Direct calls with no request at all (unit tests, notebooks): the local operator.
LOCAL = User(id="local", name="local", is_admin=True)


class AnonymousIds:
    """Issue and check anonymous ids signed with a key that stays on the server.

    A token is ``v1.<id>.<hmac>``; only the server can make the HMAC, so a
    client can keep and send back its own token but never invent another
    one. The key file lives in the data folder, which is never served.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_data_dir(cls, data_dir: str | Path) -> AnonymousIds:
        from playground.storage import atomic_write_bytes

        path = Path(data_dir) / ".identity-key"
        if not path.exists():
            atomic_write_bytes(path, secrets.token_bytes(32))
            path.chmod(0o600)
        return cls(path.read_bytes())

    def _sign(self, anon_id: str) -> str:
        mac = hmac.new(self._key, f"{TOKEN_PREFIX}.{anon_id}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def issue(self) -> str:
        anon_id = secrets.token_hex(12)
        return f"{TOKEN_PREFIX}.{anon_id}.{self._sign(anon_id)}"

    def verify(self, token: object) -> str | None:
        """The anonymous id inside a genuine token; None for anything else."""
        if not isinstance(token, str):
            return None
        prefix, _, rest = token.partition(".")
        anon_id, _, mac = rest.partition(".")
        if prefix != TOKEN_PREFIX or not _ANON_ID.match(anon_id):
            return None
        return anon_id if hmac.compare_digest(mac, self._sign(anon_id)) else None


def fresh_anonymous() -> User:
    """A new throw-away identity, for a caller that presented no valid token."""
    return User(id=secrets.token_hex(12), name="anonymous", anonymous=True)


# ----------------------------------------------------------------- models


def visible_names(registry, user: User, *tasks: str) -> list[str]:
    """Shared models plus ``user``'s own adapters (admins see every row)."""
    return [e.name for e in registry.entries(*tasks) if e.visible_to(user.key)]


def visible_entry(registry, user: User, name: str):
    """The entry ``user`` may use; another user's adapter is "not configured".

    The message is the same for a name that exists elsewhere and one that
    exists nowhere, and lists only what this user may pick, so nobody can
    learn another user's adapter names by trying them.
    """
    if name in registry.names():
        entry = registry.entry(name)
        if entry.visible_to(user.key):
            return entry
    known = ", ".join(visible_names(registry, user)) or "(none)"
    raise UnknownModelError(
        f"model '{name}' is not configured. Models you can use: {known}. "
        "Pick one of these (a fine-tuned adapter is offered only to whoever trained it).",
        key="errors.users.unknown_model",
        name=name,
        known=known,
    )
