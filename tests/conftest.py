"""Shared fixtures: tiny offline models, a registry over them, and a launched app."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """Path of a models.yaml pointing at tiny random models of every task (built once)."""
    from playground.testing import make_tiny

    return make_tiny(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_config(tiny_models):
    from playground.config import load_config

    return load_config(tiny_models)


@pytest.fixture
def registry(tiny_config):
    """A fresh registry over the tiny models (nothing loaded yet)."""
    from playground.registry import Registry

    return Registry(tiny_config)


@pytest.fixture(scope="session")
def shared_registry(tiny_config):
    """One registry for the whole session, so tiny models load once."""
    from playground.registry import Registry

    return Registry(tiny_config)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_tabs_built(demo) -> None:
    """Fail when a tab shows "unavailable" although its packages are installed."""
    assert not demo.tab_failures, f"tabs failed to build: {demo.tab_failures}"


def launch_app(models: Path, data_dir: Path, *, argv: tuple[str, ...] = (), **launch_kwargs):
    """Build the whole app on ``models`` and launch it on a free local port.

    ``argv`` adds app flags (``--admin``, ``--workshop``, ...). Launched like
    ``app.main`` does: the data folder is not served, MCP sits behind the login.
    Returns ``(demo, url)``; the caller closes ``demo``.
    """
    import app

    args = app.parse_args(["--config", str(models), "--data-dir", str(data_dir), *argv])
    demo = app.build_app(args)
    check_tabs_built(demo)
    launch_kwargs = {**app.security_launch_kwargs(demo), **launch_kwargs}
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        i18n=demo.i18n_strings,
        quiet=True,
        **launch_kwargs,
    )
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def launched_app(tiny_models, tmp_path_factory):
    """The whole app launched on the tiny models (once per session).

    Yields a namespace with ``url``, ``demo``, ``registry`` and ``data_dir``.
    """
    from types import SimpleNamespace

    data_dir = tmp_path_factory.mktemp("app-data")
    demo, url = launch_app(tiny_models, data_dir)
    yield SimpleNamespace(url=url, demo=demo, registry=demo.registry, data_dir=data_dir)
    demo.close()


@pytest.fixture(scope="session")
def app_url(launched_app) -> str:
    return launched_app.url
