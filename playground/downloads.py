"""Model downloads you can watch: one background download per repo, with progress.

A Hub model is fetched file by file with ``huggingface_hub.hf_hub_download``
in a thread of its own, so that whoever asked (a tab, the Models panel, the
CLI) can watch it -- percent, bytes of total, speed, time left -- and nobody
else waits behind it. Asking for a model that is already downloading joins
that download instead of starting another. Every failure gets its own message:
a full disk, a gated repo, a missing repo or revision, being offline.
"""

# Just over 400 lines: each of those failures is a message with its key and params
# for the user's language (issue 16); they stay next to the downloads they explain.

from __future__ import annotations

import contextvars
import errno
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playground.config import ModelEntry
from playground.device import format_bytes
from playground.errors import ModelLoadError

log = logging.getLogger(__name__)

DOWNLOADING, DONE, FAILED = "downloading", "done", "failed"
SPACE_MARGIN = 1.05  # keep a little room beyond the files themselves

Listener = Callable[["Progress"], None]
_listener: contextvars.ContextVar[Listener | None] = contextvars.ContextVar(
    "download_listener", default=None
)
_max_wait: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "download_max_wait", default=None
)


@dataclass
class Progress:
    """Where one model's download stands (a snapshot; safe to hand to the UI)."""

    name: str
    repo: str
    state: str = DOWNLOADING
    done_bytes: int = 0
    total_bytes: int = 0
    started_at: float = field(default_factory=time.time)
    error: str | None = None
    error_key: str | None = None  # the error's message key, for the UI's language
    params: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def percent(self) -> int:
        return int(100 * self.done_bytes / self.total_bytes) if self.total_bytes else 0

    @property
    def speed(self) -> float:
        """Bytes per second since the download started."""
        elapsed = max(time.time() - self.started_at, 1e-6)
        return self.done_bytes / elapsed

    @property
    def seconds_left(self) -> float | None:
        left = self.total_bytes - self.done_bytes
        return left / self.speed if self.speed > 0 and left >= 0 else None

    def values(self) -> dict[str, str | int]:
        """The figures a message shows, already formatted (for ``{percent}``, ``{done}``...)."""
        return {
            "name": self.name,
            "percent": self.percent,
            "done": format_bytes(self.done_bytes),
            "total": format_bytes(self.total_bytes),
            "speed": f"{format_bytes(int(self.speed))}/s",
            "left": format_seconds(self.seconds_left),
        }

    def summary(self) -> str:
        """One line in English, e.g. ``downloading 43%, 1.2 GB of 2.9 GB, 12 MB/s, 2 min left``."""
        if self.state == FAILED:
            return f"download failed: {self.error}"
        if self.state == DONE:
            return f"downloaded {format_bytes(self.total_bytes)}"
        v = self.values()
        return (
            f"downloading {v['percent']}%, {v['done']} of {v['total']}, "
            f"{v['speed']}, {v['left']} left"
        )


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


@contextmanager
def listening(listener: Listener, *, max_wait: float | None = None) -> Iterator[None]:
    """While the block runs, downloads this thread waits for report to ``listener``.

    With ``max_wait``, a wait gives up after that many seconds with a "still
    downloading" error while the download itself goes on: a UI event then frees
    its queue slot instead of holding everyone behind a multi-GB download.
    """
    token, wait_token = _listener.set(listener), _max_wait.set(max_wait)
    try:
        yield
    finally:
        _listener.reset(token)
        _max_wait.reset(wait_token)


class Downloads:
    """The downloads of this process, one per (repo, revision)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str | None], Progress] = {}
        self._done: dict[tuple[str, str | None], threading.Event] = {}

    def progress(self, entry: ModelEntry) -> Progress | None:
        """The current (or last) download of this entry's repo, if any."""
        with self._lock:
            return self._jobs.get(_key(entry))

    def start(self, entry: ModelEntry) -> Progress:
        """Start downloading ``entry`` in the background; join the download already running."""
        key = _key(entry)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state == DOWNLOADING:
                return job  # a finished one runs again: cached files cost a metadata call
            job = Progress(name=entry.name, repo=entry.source or "")
            self._jobs[key] = job
            self._done[key] = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(entry, job, self._done[key]), daemon=True, name=f"dl-{key[0]}"
        )
        thread.start()
        return job

    def wait(self, entry: ModelEntry, *, poll: float = 0.5) -> Path:
        """Block until the entry's download ends; report progress to the thread's listener."""
        job = self.start(entry)
        done = self._done[_key(entry)]
        listener, max_wait, since = _listener.get(), _max_wait.get(), time.monotonic()
        while not done.wait(poll):
            if listener is not None:
                listener(job)
            if max_wait is not None and time.monotonic() - since > max_wait:
                raise _still_downloading(job)
        if listener is not None:
            listener(job)
        if job.state == FAILED:
            raise ModelLoadError(job.error or "download failed", key=job.error_key, **job.params)
        return Path(job.path or "")

    def _run(self, entry: ModelEntry, job: Progress, done: threading.Event) -> None:
        try:
            job.path = str(fetch(entry, job))
            job.state = DONE
            log.info("downloaded %s (%s)", entry.source, format_bytes(job.total_bytes))
        except ModelLoadError as exc:
            job.error, job.error_key, job.params = str(exc), exc.key, exc.params
            job.state = FAILED
            log.warning("download of %s failed: %s", entry.source, exc)
        except Exception as exc:  # an unexpected library error: keep its traceback in the log
            job.error, job.state = f"{type(exc).__name__}: {exc}", FAILED
            log.exception("download of %s failed", entry.source)
        finally:
            done.set()


def _still_downloading(job: Progress) -> ModelLoadError:
    v = job.values()
    return ModelLoadError(
        f"'{job.name}' is still downloading ({job.summary()}). It goes on in the background; "
        "try again when the Models panel shows it is done.",
        key="errors.still_downloading",
        **v,
    )


DOWNLOADS = Downloads()  # the HF cache is per process, so are its downloads


def needs_download(entry: ModelEntry, base_dir: Path | None = None) -> bool:
    """True for a Hub model whose files are not in the local cache yet (no network used)."""
    from playground.loaders.hub import cached_snapshot, is_hub_id

    if entry.task == "endpoint" or entry.local_path(base_dir) is not None:
        return False
    if not is_hub_id(entry.source or ""):
        return False  # a missing local folder: loading it says so
    return cached_snapshot(entry) is None


def _key(entry: ModelEntry) -> tuple[str, str | None]:
    return (entry.source or entry.name, entry.revision)


def endpoint() -> str:
    """The Hub to download from: ``$HF_ENDPOINT`` (read now, so tests can point it elsewhere)."""
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def fetch(entry: ModelEntry, job: Progress) -> Path:
    """Download the entry's files into the HF cache, updating ``job``; the snapshot folder."""
    from huggingface_hub import hf_hub_download

    files = _with_errors(entry, lambda: _plan(entry))
    job.total_bytes = sum(size for _, size in files)
    _check_space(entry, job.total_bytes)
    bar = _bar_class(job)
    path = None
    for filename, size in files:
        before = job.done_bytes
        path = _with_errors(
            entry,
            lambda f=filename: hf_hub_download(
                entry.source, f, revision=entry.revision, endpoint=endpoint(), tqdm_class=bar
            ),
        )
        job.done_bytes = before + size  # cached files report no bytes; count them too
    if path is None:
        raise ModelLoadError(
            f"'{entry.name}': {entry.source} has no model files to download.",
            key="errors.download.no_files",
            name=entry.name,
            repo=str(entry.source),
        )
    return _snapshot_folder(Path(path), files[-1][0])


def fetch_files(entry: ModelEntry, patterns: list[str]) -> tuple[Path, dict[str, int]]:
    """Download only the entry's files that match ``patterns`` (small ones: no progress).

    Returns their folder and the size of every file the app would load (from the
    Hub's list), so a caller knows the weights' size without fetching them. The
    folder is not the cache's snapshot: a snapshot with only these files in it
    would pass for a downloaded model (``loaders.hub.cached_snapshot``).
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import filter_repo_objects

    sizes = dict(_with_errors(entry, lambda: _plan(entry)))
    folder = partial_dir(entry)
    folder.mkdir(parents=True, exist_ok=True)
    for filename in filter_repo_objects(list(sizes), allow_patterns=patterns):
        _with_errors(
            entry,
            lambda f=filename: hf_hub_download(
                entry.source, f, revision=entry.revision, endpoint=endpoint(), local_dir=folder
            ),
        )
    return folder, sizes


def partial_dir(entry: ModelEntry) -> Path:
    """Where ``fetch_files`` puts a repo's files: beside the HF cache, per repo and revision."""
    repo = (entry.source or entry.name).replace("/", "--")
    return cache_dir().parent / "playground-partial" / repo / (entry.revision or "main")


def _plan(entry: ModelEntry) -> list[tuple[str, int]]:
    """(file, size) of every file the app would load, from the Hub's file list."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    from playground.loaders.hub import ignore_patterns

    info = HfApi(endpoint=endpoint()).model_info(
        entry.source, revision=entry.revision, files_metadata=True
    )
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    keep = filter_repo_objects(
        list(sizes),
        allow_patterns=entry.options.get("allow_patterns"),
        ignore_patterns=ignore_patterns(entry),
    )
    return [(name, sizes[name]) for name in keep]


def _snapshot_folder(path: Path, filename: str) -> Path:
    # hf_hub_download returns snapshots/<commit>/<filename>; the folder is the snapshot.
    for _ in Path(filename).parts:
        path = path.parent
    return path


def _bar_class(job: Progress):
    """A tqdm class that adds the bytes ``hf_hub_download`` reports to ``job``."""
    from huggingface_hub.utils import tqdm

    class JobBar(tqdm):
        def update(self, n=1):
            job.done_bytes += int(n or 0)
            return super().update(n)

    return JobBar


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _check_space(entry: ModelEntry, needed: int) -> None:
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


def _with_errors(entry: ModelEntry, call):
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
