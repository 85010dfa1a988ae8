"""Typed errors that carry a message a person can act on.

Engines raise these; tabs turn them into ``gr.Error`` and the CLI prints the
message and exits with status 2. Every message says what was wrong, where, and
what to do about it.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base class: the message is meant for the user, not a developer.

    ``key`` (with ``params``) names the message in the UI's string tables, so a
    tab can show it in the user's language; the English text is the fallback.
    """

    def __init__(self, message: str = "", *, key: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


class ConfigError(PlaygroundError):
    """The models file (or another settings file) is invalid."""


class InputError(PlaygroundError):
    """Something the user supplied (a file, a value, a prompt) cannot be used."""


class ModelLoadError(PlaygroundError):
    """A configured model could not be loaded."""


class UnknownModelError(PlaygroundError):
    """A model name that is not configured in the models file."""


class OutOfMemoryError(PlaygroundError):
    """A model or job does not fit in the memory that is available."""


class CancelledError(PlaygroundError):
    """A long job was cancelled by the user."""


class DependencyError(PlaygroundError):
    """An optional Python package needed for a feature is missing."""
