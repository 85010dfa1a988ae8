"""Model downloads you can watch: one background download per repo, with progress.

A Hub model is fetched file by file with ``huggingface_hub.hf_hub_download``
in a thread of its own, so that whoever asked (a tab, the Models panel, the
CLI) can watch it -- percent, bytes of total, speed, time left -- and nobody
else waits behind it. Asking for a model that is already downloading joins
that download instead of starting another. Every failure gets its own message:
a full disk, a gated repo, a missing repo or revision, being offline.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playground.config import ModelEntry
from playground.device import format_bytes
from playground.download_checks import cache_dir, check_space, endpoint, with_errors
from playground.errors import ModelLoadError

log = logging.getLogger(__name__)

DOWNLOADING, DONE, FAILED = "downloading", "done", "failed"
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


def fetch(entry: ModelEntry, job: Progress) -> Path:
    """Download the entry's files into the HF cache, updating ``job``; the snapshot folder."""
    from huggingface_hub import hf_hub_download

    files = with_errors(entry, lambda: _plan(entry))
    job.total_bytes = sum(size for _, size in files)
    check_space(entry, job.total_bytes)
    bar = _bar_class(job)
    path = None
    for filename, size in files:
        before = job.done_bytes
        path = with_errors(
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

    sizes = dict(with_errors(entry, lambda: _plan(entry)))
    folder = partial_dir(entry)
    folder.mkdir(parents=True, exist_ok=True)
    for filename in filter_repo_objects(list(sizes), allow_patterns=patterns):
        with_errors(
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
