"""AIGC Playground: chat, documents, fine-tune, image and voice in one Gradio app.

    python app.py [--config models.yaml] [--host H] [--port P] [--share]
                  [--auth USER:PASS] [--auth-file FILE] [--admin USER] [--data-dir DIR]

``import app`` is cheap: the UI is built only by ``main()`` or on first access
to ``app.demo`` (which Hugging Face Spaces and ``gradio app.py`` look for).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path

from playground import zerogpu
from playground.errors import ConfigError, PlaygroundError

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("playground.app")
WORKSHOP_QUEUE_SIZE = 200  # beyond this, new requests are told the queue is full
WORKSHOP_MAX_FILE_MB = 50
ZEROGPU_HEAVY_CONCURRENCY = 4  # each ZeroGPU call gets its own GPU slice


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="AIGC Playground web app")
    p.add_argument(
        "--config",
        default=os.environ.get("PLAYGROUND_CONFIG", str(ROOT / "models.yaml")),
        help="models file (default: models.yaml next to app.py)",
    )
    p.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to listen on (0.0.0.0 for every interface)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
        help="port to listen on (default 7860, or $GRADIO_SERVER_PORT)",
    )
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    p.add_argument(
        "--auth",
        metavar="USER:PASS",
        action="append",
        default=[],
        help="require this login (repeat for more users)",
    )
    p.add_argument(
        "--auth-file", metavar="FILE", help="file of USER:PASS lines, one login per line"
    )
    p.add_argument(
        "--admin",
        metavar="USER",
        action="append",
        # A Space has no command line: PLAYGROUND_ADMINS="alice,bob" (a secret or variable)
        default=[
            a.strip() for a in os.environ.get("PLAYGROUND_ADMINS", "").split(",") if a.strip()
        ],
        help="this login may unload and preload models for everyone (repeatable); "
        "a local run without logins is its own admin unless admins are named",
    )
    p.add_argument(
        "--user-quota",
        type=float,
        default=float(os.environ.get("PLAYGROUND_USER_QUOTA_GB", 2)),
        metavar="GB",
        help="disk each user may fill with uploads, collections, jobs and outputs (default 2)",
    )
    p.add_argument(
        "--anonymous-ttl",
        type=float,
        default=float(os.environ.get("PLAYGROUND_ANONYMOUS_TTL_DAYS", 7)),
        metavar="DAYS",
        help="remove anonymous visitors' data untouched this long (default 7; 0 keeps it)",
    )
    p.add_argument(
        "--data-dir",
        default=os.environ.get("PLAYGROUND_DATA", str(ROOT / "data")),
        help="where chats, documents, jobs, images and voices are kept "
        "(default: data/ next to app.py, or $PLAYGROUND_DATA)",
    )
    p.add_argument(
        "--max-file-size",
        type=int,
        default=None,
        metavar="MB",
        help="largest upload accepted, in MB (default 200; 50 with --workshop)",
    )
    p.add_argument(
        "--workshop",
        action="store_true",
        help="settings for a room of people on one GPU (queue limits, preloading)",
    )
    p.add_argument(
        "--preload",
        action="append",
        default=[],
        metavar="NAME",
        help="load this model at start-up (repeatable)",
    )
    p.add_argument("--mcp", action="store_true", help="also serve the tools over MCP")
    return p.parse_args(argv)


def read_auth(args: argparse.Namespace) -> list[tuple[str, str]] | None:
    """Logins from --auth, --auth-file and $PLAYGROUND_AUTH; ConfigError on a malformed line."""
    pairs = []
    lines = [(f"--auth {a}", a) for a in args.auth]
    # A Space secret: PLAYGROUND_AUTH="alice:pw1,bob:pw2"
    env = os.environ.get("PLAYGROUND_AUTH", "")
    lines += [("$PLAYGROUND_AUTH", a.strip()) for a in env.split(",") if a.strip()]
    if args.auth_file:
        path = Path(args.auth_file)
        if not path.exists():
            raise ConfigError(f"--auth-file {path}: file not found")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                lines.append((f"{path}:{n}", line.strip()))
    for where, value in lines:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            raise ConfigError(f"{where}: expected USER:PASS, got '{value}'")
        pairs.append((user, password))
    return pairs or None


def build_app(args: argparse.Namespace | None = None):
    """Build the Blocks app (imports gradio; loads no model weights)."""
    import gradio as gr

    from playground.config import load_config
    from playground.registry import Registry
    from tabs import TABS
    from tabs import models as models_tab
    from tabs.common import AppContext
    from tabs.i18n import build_i18n
    from tabs.identity import Identity
    from tabs.queue_limits import limit_queued_per_user

    args = args or parse_args([])
    zero = zerogpu.setup()  # before anything touches torch/CUDA
    config = load_config(args.config)
    registry = Registry(config)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = launch_settings(args, zerogpu=zero)
    identity = Identity.create(data_dir, args.admin, local_admin=_is_local_admin(args))
    start_cleanup(data_dir, args.anonymous_ttl)
    _recover_collections(data_dir)
    i18n = build_i18n()
    tab_failures: dict[str, str] = {}
    with gr.Blocks(title="AIGC Playground") as demo:
        # Not identity (that is the login or the signed cookie, see tabs.identity): a
        # per-page marker set on load, whose change tells tabs to fill their lists.
        client_id = gr.State(None)
        ctx = AppContext(
            registry=registry, data_dir=data_dir, i18n=i18n, settings=settings, client_id=client_id
        )
        # One translated string per component: the browser translates a whole value.
        gr.Markdown(i18n("app.header"))
        with gr.Tabs() as tabs:
            ctx.tabs = tabs
            for tab_id, module_name, needs in TABS:
                with gr.Tab(i18n(f"tab.{tab_id}"), id=tab_id):
                    if tab_id == "finetune" and not zerogpu.training_allowed():
                        gr.Markdown(f"### {zerogpu.TRAINING_DISABLED}")
                        continue
                    failure = _build_tab(gr, ctx, module_name, needs)
                    if failure:
                        tab_failures[tab_id] = failure
            with gr.Tab(i18n("tab.models"), id="models"):
                models_tab.build(ctx)
        # Scripts without a login: a fresh signed id to send as X-Playground-Identity.
        gr.api(identity.new_token, api_name="identity_new")
        # Queued: Gradio fires a gr.State's .change (the tabs' "page ready") only for
        # queued events; with queue=False their lists stayed empty until focused.
        demo.load(_page_marker, None, client_id, api_visibility="private",
                  concurrency_limit=settings.light_concurrency)  # fmt: skip
    demo.queue(
        default_concurrency_limit=settings.light_concurrency,
        max_size=WORKSHOP_QUEUE_SIZE if args.workshop else None,
    )
    limit_queued_per_user(demo, settings.max_queued_per_user, groups=("heavy", "chat"))
    demo.registry = registry
    demo.identity = identity  # tabs.identity.current_user finds it through the request
    demo.settings = settings
    # Tabs that failed to build although their packages are installed: the user sees
    # "unavailable", the tests see this (it must stay empty).
    demo.tab_failures = tab_failures
    if zero:
        log.info("ZeroGPU: GPU-wrapped events %s", zerogpu.wrap_heavy_events(demo))
    demo.i18n_strings = i18n
    return demo


def launch_settings(args: argparse.Namespace, *, zerogpu: bool = False):
    """Queue and upload limits from the flags.

    Image, voice, training and loads ("heavy") share one queue slot per device
    -- the registry keeps its models on one device, so that is one at a time.
    Chat replies do not take that slot: they are requests in the chat model's
    continuous-batching loop, so up to ``chat_concurrency`` run at once. Light
    events (listing, saving, switching) run in parallel. On ZeroGPU each call
    borrows its own GPU, so heavy events may overlap there (and chat joins them).
    """
    from tabs.common import Settings

    max_mb = args.max_file_size or (WORKSHOP_MAX_FILE_MB if args.workshop else 200)
    return Settings(
        workshop=args.workshop,
        max_file_size_mb=max_mb,
        heavy_concurrency=ZEROGPU_HEAVY_CONCURRENCY if zerogpu else 1,
        light_concurrency=16 if args.workshop else 8,
        zerogpu=zerogpu,
        user_quota_bytes=int(args.user_quota * 1e9),
    )


def models_to_preload(args: argparse.Namespace, registry) -> list[str]:
    """--preload names, plus (with --workshop or on ZeroGPU) each default model.

    The default of a task is its first entry in the models file (what the tabs
    select first): chat and embedding, and text-to-image on ZeroGPU, where
    weights must be loaded at start-up rather than inside a GPU call.
    """
    names = list(args.preload)
    tasks = []
    if args.workshop or zerogpu.on_zerogpu():
        tasks = ["chat", "embedding"]
    if zerogpu.on_zerogpu():
        tasks.append("text-to-image")
    for task in tasks:
        first = next(iter(registry.names(task)), None)
        if first and first not in names:
            names.append(first)
    return names


def _check_mcp(args: argparse.Namespace) -> None:
    if args.mcp and importlib.util.find_spec("mcp") is None:
        raise ConfigError(
            '--mcp needs the MCP server package: pip install "mcp>=1.21,<2" '
            '(or pip install "gradio[mcp]"), then start the app again.'
        )


def _build_tab(gr, ctx, module_name: str, needs: list[str]) -> str | None:
    """Build one tab; if it cannot be built, show why in its place and carry on.

    Returns why the tab failed although its packages are installed (a bug, not a
    missing extra), else None.
    """
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        gr.Markdown(
            f"### {ctx.t('tab.unavailable')}\nMissing Python package(s): "
            f"`{', '.join(missing)}`. Install with `pip install {' '.join(missing)}` "
            "and restart the app. The other tabs work."
        )
        return None
    try:
        importlib.import_module(module_name).build(ctx)
    except Exception as exc:  # one broken tab must not take the app down
        log.exception("tab %s failed to build", module_name)
        gr.Markdown(f"### {ctx.t('tab.unavailable')}\n`{type(exc).__name__}: {exc}`")
        return f"{type(exc).__name__}: {exc}"
    return None


def _page_marker() -> str:
    import secrets

    return secrets.token_hex(4)


def _is_local_admin(args: argparse.Namespace) -> bool:
    """A run only this machine can reach, without logins or named admins: its user is admin."""
    if args.admin or args.share or os.environ.get("SPACE_ID"):
        return False
    try:
        if read_auth(args):
            return False
    except ConfigError:
        return False
    return args.host in ("127.0.0.1", "localhost", "::1")


def _recover_collections(data_dir: Path) -> None:
    """Finish or undo collection swaps a crash interrupted, and drop stale staging folders."""
    from playground.rag.store import recover_all

    repaired = recover_all(data_dir)
    if repaired:
        log.info("repaired %d collection folder(s) after an interrupted write", len(repaired))


def start_cleanup(data_dir: Path, ttl_days: float) -> None:
    """Remove stale anonymous data now, then once a day in a daemon thread."""
    import threading

    from playground.quota import remove_stale_anonymous

    if ttl_days <= 0:
        return
    removed = remove_stale_anonymous(data_dir, ttl_days)
    if removed:
        log.info("removed %d anonymous folder(s) untouched for %g days", removed, ttl_days)

    def daily() -> None:
        while not stop.wait(24 * 3600):
            remove_stale_anonymous(data_dir, ttl_days)

    stop = threading.Event()
    threading.Thread(target=daily, name="anonymous-ttl", daemon=True).start()


def security_launch_kwargs(demo) -> dict:
    """What ``launch`` needs: signed anonymous cookies, MCP behind the UI's login, real messages.

    ``show_error``: an input Gradio refuses before any handler runs (a file path
    that was not uploaded, a malformed file or history value) reaches the user
    with Gradio's reason instead of a bare "Error" (``error: null``). Handlers'
    own errors are already messages (``tabs.common.ui_errors``), so no traceback
    or internal detail is shown by this.
    """
    from starlette.middleware import Middleware

    from tabs.identity import IdentityCookie
    from tabs.mcp_gate import McpLoginGate

    middleware = [Middleware(IdentityCookie), Middleware(McpLoginGate)]
    return {"app_kwargs": {"middleware": middleware}, "show_error": True}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        auth = read_auth(args)
        _check_mcp(args)
        demo = build_app(args)
        for name in models_to_preload(args, demo.registry):
            log.info("preloading %s", name)
            demo.registry.get(name)
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        auth=auth,
        max_file_size=f"{demo.settings.max_file_size_mb}mb",
        i18n=demo.i18n_strings,
        mcp_server=args.mcp or None,
        # The data folder is NOT an allowed path: files leave only as event outputs.
        footer_links=["api", "gradio", "settings"],
        **security_launch_kwargs(demo),
    )
    return 0


def __getattr__(name: str):
    # `app.demo` is built on first access, so `import app` stays cheap.
    if name == "demo":
        demo = build_app()
        globals()["demo"] = demo
        return demo
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())
