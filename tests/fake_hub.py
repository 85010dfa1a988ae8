"""A tiny local stand-in for the Hugging Face Hub, for download tests (127.0.0.1 only).

It answers the two routes ``huggingface_hub`` uses to download a model:
``GET /api/models/{repo}/revision/{rev}`` (the file list with sizes) and
``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` (metadata headers, then bytes).
A repo can be gated (401 + ``X-Error-Code: GatedRepo``) or missing (404), and
``hold`` pauses the largest file of a repo until ``release()`` (the smaller
ones come through), so a test can look at a download in the middle.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.gated: set[str] = set()
        self.gets: Counter[str] = Counter()  # file downloads served, by "repo/file"
        self.hold = threading.Event()  # set: pause each repo's largest file until release()
        self._go = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_folder(self, repo: str, folder: Path) -> None:
        self.repos[repo] = {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }

    def release(self) -> None:
        self._go.set()

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._go.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                if path.startswith("/api/models/"):
                    repo, _, _rev = path[len("/api/models/") :].partition("/revision/")
                    return self._info(repo, body)
                parts = path.strip("/").split("/")
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._file("/".join(parts[:2]), "/".join(parts[4:]), body)
                self._error(404, "EntryNotFound", "no such route")

            def _refused(self, repo: str) -> bool:
                if repo in hub.gated:
                    self._error(401, "GatedRepo", f"Access to model {repo} is restricted.")
                    return True
                if repo not in hub.repos:
                    self._error(404, "RepoNotFound", f"Repository {repo} not found")
                    return True
                return False

            def _info(self, repo: str, body: bool) -> None:
                if self._refused(repo):
                    return
                files = hub.repos[repo]
                data = json.dumps(
                    {
                        "id": repo,
                        "sha": COMMIT,
                        "siblings": [{"rfilename": n, "size": len(b)} for n, b in files.items()],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _file(self, repo: str, name: str, body: bool) -> None:
                if self._refused(repo):
                    return
                data = hub.repos[repo].get(name)
                if data is None:
                    return self._error(404, "EntryNotFound", f"{name} not found")
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.end_headers()
                if not body:
                    return
                hub.gets[f"{repo}/{name}"] += 1
                largest = max(hub.repos[repo].values(), key=len)
                if hub.hold.is_set() and data is largest:
                    hub._go.wait(60)
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str) -> None:
                data = json.dumps({"error": message}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

        return Handler


@contextmanager
def app_on_hub(models: list[dict], repos: dict[str, Path], tmp_path: Path, monkeypatch) -> Iterator:
    """The whole app on ``models``, with ``repos`` (repo id: folder) served by a fake Hub.

    The HF cache starts empty, so each repo's first use downloads it. Yields
    ``(hub, demo, url)``.
    """
    import yaml
    from conftest import launch_app
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 60)  # the tests hold a file back
    config = tmp_path / "models.yaml"
    config.write_text(yaml.safe_dump({"models": models}))
    with FakeHub() as hub:
        for repo, folder in repos.items():
            hub.add_folder(repo, folder)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        demo, url = launch_app(config, tmp_path / "data")
        try:
            yield hub, demo, url
        finally:
            hub.release()
            demo.close()
