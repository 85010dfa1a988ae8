"""What every tab shares: the app context, who the user is, and error handling."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from playground.errors import InputError, PlaygroundError
from playground.registry import Registry


@dataclass
class Settings:
    """Launch settings the tabs may need (from app.py flags)."""

    workshop: bool = False
    max_file_size_mb: int = 200
    heavy_concurrency: int = 1
    light_concurrency: int = 8
    zerogpu: bool = False
    user_quota_bytes: int = 2_000_000_000  # --user-quota: disk per user


@dataclass
class AppContext:
    """Handed to every tab's ``build``: the registry, data dir, strings and shared components."""

    registry: Registry
    data_dir: Path
    i18n: gr.I18n
    settings: Settings = field(default_factory=Settings)
    client_id: Any = None  # a gr.State page marker (set on load); NOT identity, see tabs.identity
    tabs: Any = None  # the gr.Tabs, so a tab can switch to another
    shared: dict[str, Any] = field(default_factory=dict)  # components other tabs may wire to

    def t(self, key: str) -> Any:
        """A translated UI string (resolved in the browser's language)."""
        return self.i18n(key)

    def check_quota(self, owner: str, adding: int = 0) -> None:
        """Refuse new data once ``owner``'s folder holds --user-quota (QuotaError)."""
        from playground.quota import check_quota

        check_quota(self.data_dir, owner, self.settings.user_quota_bytes, adding)

    @property
    def heavy(self) -> dict[str, Any]:
        """Event options for model-bound work: serialised per device."""
        return {"concurrency_id": "heavy", "concurrency_limit": self.settings.heavy_concurrency}

    @property
    def light(self) -> dict[str, Any]:
        return {"concurrency_limit": self.settings.light_concurrency}


def owner_of(request: gr.Request | None, client_id: str | None = None) -> str:
    """The storage key of whoever sent ``request`` (see ``tabs.identity.current_user``).

    ``client_id`` is ignored: identity comes from the login or the signed
    cookie/header the request carries, never from an event's inputs.
    """
    from tabs.identity import current_user

    return current_user(request, client_id).key


def session_key(request: gr.Request | None) -> str:
    """The browser session a request comes from (one page load), within its user.

    Prefixed by the login so that knowing someone's session hash is not enough
    to stop their generation (Stop events carry no identity token).
    """
    session = getattr(request, "session_hash", None) or "local"
    return f"{getattr(request, 'username', None) or ''}:{session}"


class StopFlags:
    """What a Stop button sets: one Event per running generation, keyed by session."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    @contextmanager
    def running(self, key: str) -> Iterator[threading.Event]:
        """Register a fresh Event for ``key`` while the block runs."""
        event = threading.Event()
        with self._lock:
            self._events[key] = event
        try:
            yield event
        finally:
            with self._lock:
                if self._events.get(key) is event:
                    del self._events[key]

    def stop(self, key: str) -> bool:
        """Set the running generation's Event; False when nothing runs for ``key``."""
        with self._lock:
            event = self._events.get(key)
        if event is None:
            return False
        event.set()
        return True


def ui_errors(fn):
    """Turn engine errors into messages the user sees (``gr.Error``), keeping UI state."""

    def convert(exc: Exception) -> Exception:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, InputError):
            return gr.Error(str(exc), title="Check your input")
        if isinstance(exc, PlaygroundError):
            return gr.Error(str(exc))
        return exc

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                converted = convert(exc)
                if converted is exc:
                    raise
                raise converted from exc

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            converted = convert(exc)
            if converted is exc:
                raise
            raise converted from exc

    return wrapper
