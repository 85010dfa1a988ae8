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
    # Chat replies share the model's continuous-batching loop, so many run at once.
    chat_concurrency: int = 32
    max_queued_per_user: int = 2  # model-bound requests one user may have waiting


@dataclass
class AppContext:
    """Handed to every tab's ``build``: the registry, data dir, strings and shared components."""

    registry: Registry
    data_dir: Path
    i18n: gr.I18n
    settings: Settings = field(default_factory=Settings)
    client_id: Any = None  # gr.BrowserState holding an anonymous, stable browser id
    tabs: Any = None  # the gr.Tabs, so a tab can switch to another
    shared: dict[str, Any] = field(default_factory=dict)  # components other tabs may wire to

    def t(self, key: str) -> Any:
        """A translated UI string (resolved in the browser's language)."""
        return self.i18n(key)

    @property
    def heavy(self) -> dict[str, Any]:
        """Event options for image, voice, training and loads: one at a time on the device.

        "heavy" is the one shared queue of the models' device (the registry keeps
        its models on one device).
        """
        return {"concurrency_id": "heavy", "concurrency_limit": self.settings.heavy_concurrency}

    @property
    def chat(self) -> dict[str, Any]:
        """Event options for chat replies (Chat, Compare, Documents answers, prompt assistant).

        They do not take the device slot: each reply is one request in the model's
        decode loop (``playground.chat.service``). On ZeroGPU there is no loop (each
        call borrows a GPU), so chat goes through the heavy queue there.
        """
        if self.settings.zerogpu:
            return self.heavy
        return {"concurrency_id": "chat", "concurrency_limit": self.settings.chat_concurrency}

    @property
    def light(self) -> dict[str, Any]:
        return {"concurrency_limit": self.settings.light_concurrency}


def owner_of(request: gr.Request | None, client_id: str | None = None) -> str:
    """Who owns this request's data: the logged-in user, else the browser, else the session."""
    if request is not None and getattr(request, "username", None):
        return f"user-{request.username}"
    if client_id:
        return f"anon-{client_id}"
    session = getattr(request, "session_hash", None) if request is not None else None
    return f"session-{session or 'local'}"


def session_key(request: gr.Request | None) -> str:
    """The browser session a request comes from (one page load)."""
    return getattr(request, "session_hash", None) or "local"


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
