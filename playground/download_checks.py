"""Where model files go, whether they fit, and why a download failed.

Every failure is a message a user can act on, with a key for their language: a full disk, a gated repo (401: accept the terms, then ``hf auth login``), a
missing repo or revision (404) and being offline each get their own message.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from playground.config import ModelEntry
from playground.device import format_bytes
from playground.errors import ModelLoadError

SPACE_MARGIN = 1.05  # keep a little room beyond the files themselves


def endpoint() -> str:
    """The Hub to download from: ``$HF_ENDPOINT`` (read now, so tests can point it elsewhere)."""
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def check_space(entry: ModelEntry, needed: int) -> None:
    folder = cache_dir()
    probe = next((p for p in [folder, *folder.parents] if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free
    if needed * SPACE_MARGIN > free:
        raise ModelLoadError(
            _disk_full(entry, needed, free),
            key="errors.disk_full",
            name=entry.name,
            needed=format_bytes(needed),
            free=format_bytes(free),
        )


def _disk_full(entry: ModelEntry, needed: int, free: int | None) -> str:
    have = f", {format_bytes(free)} free" if free is not None else ""
    return (
        f"'{entry.name}': not enough disk space to download {entry.source} "
        f"({format_bytes(needed)} needed{have} in {cache_dir()}). Free some space, or set "
        "HF_HOME to a folder on a bigger disk, and try again."
    )


def with_errors(entry: ModelEntry, call):
    """Run a Hub call; turn each kind of failure into its own ``ModelLoadError``."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    repo, rev = entry.source, f" --revision {entry.revision}" if entry.revision else ""
    try:
        return _with_repo_errors(entry, call)
    except OfflineModeIsEnabled:
        raise ModelLoadError(
            _offline(entry, "HF_HUB_OFFLINE is set", rev),
            key="errors.offline",
            name=entry.name,
            repo=repo,
        ) from None
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", "?")
        raise ModelLoadError(
            f"'{entry.name}': the Hub answered HTTP {status} for {repo} ({exc}). Try again later.",
            key="errors.download.http_status",
            name=entry.name,
            status=str(status),
            repo=repo,
            detail=str(exc),
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ModelLoadError(
                _disk_full(entry, 0, None),
                key="errors.download.disk_full_while_writing",
                name=entry.name,
                repo=repo,
                needed=format_bytes(0),
                cache=str(cache_dir()),
            ) from None
        raise ModelLoadError(
            f"'{entry.name}': downloading {repo} failed ({exc}). Check that {cache_dir()} is "
            "writable, or set HF_HOME to a folder that is.",
            key="errors.download.failed",
            name=entry.name,
            repo=repo,
            detail=str(exc),
            cache=str(cache_dir()),
        ) from exc
    except Exception as exc:  # httpx connection errors and timeouts: offline
        if type(exc).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            reason = f"the Hub at {endpoint()} cannot be reached ({type(exc).__name__})"
            raise ModelLoadError(
                _offline(entry, reason, rev), key="errors.offline", name=entry.name, repo=repo
            ) from None
        raise


def _with_repo_errors(entry: ModelEntry, call):
    """Run a Hub call; a gated repo, a missing repo or revision get their own message."""
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = entry.source
    try:
        return call()
    except GatedRepoError:
        raise ModelLoadError(
            f"'{entry.name}': {repo} is gated. Accept its terms on https://huggingface.co/{repo}, "
            "then log in with `hf auth login` (or set HF_TOKEN) and try again.",
            key="errors.gated",
            name=entry.name,
            repo=repo,
        ) from None
    except RevisionNotFoundError:
        raise ModelLoadError(
            f"'{entry.name}': {repo} has no revision '{entry.revision}'. Fix revision: in the "
            "models file.",
            key="errors.download.no_revision",
            name=entry.name,
            repo=repo,
            revision=str(entry.revision),
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"'{entry.name}': the Hub has no repo '{repo}' (404, or it is private). Check the "
            "spelling of source: in the models file, or log in with `hf auth login`.",
            key="errors.repo_missing",
            name=entry.name,
            repo=repo,
        ) from None


def _offline(entry: ModelEntry, reason: str, rev: str) -> str:
    return (
        f"'{entry.name}': {entry.source} is not in the local Hugging Face cache and {reason}. "
        f"On a machine with internet run `hf download {entry.source}{rev}` to fetch it into "
        "the cache, or download it anywhere and set source: to that local folder in the "
        "models file."
    )
