"""``playground models list|check|download``: what is configured, does it load, fetch it."""

from __future__ import annotations

import argparse
import sys
import time

from playground.commands import add_config_arg, open_registry
from playground.errors import ConfigError

LOCAL_PREFIXES = ("./", "../", "/", "~")  # a source written like this is a folder, not a repo


def register(sub) -> None:
    parser = sub.add_parser("models", help="list and check the configured models")
    inner = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = inner.add_parser("list", help="table of name, task, source, state")
    add_config_arg(listing)
    listing.set_defaults(handler=_list)
    check = inner.add_parser("check", help="validate the models file (and load one model)")
    add_config_arg(check)
    check.add_argument("--load", metavar="NAME", help="also load this model and report it")
    check.set_defaults(handler=_check)
    download = inner.add_parser("download", help="download models from the Hub ahead of use")
    add_config_arg(download)
    which = download.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", help="the model to download")
    which.add_argument("--all", action="store_true", help="every model with a Hub source")
    download.set_defaults(handler=_download)


def _list(args: argparse.Namespace) -> int:
    registry = open_registry(args.config)
    rows = [("NAME", "TASK", "SOURCE", "STATE")]
    rows += [(s.name, s.task, s.source, s.state) for s in registry.status()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _check(args: argparse.Namespace) -> int:
    registry = open_registry(args.config)
    problems = check_problems(registry, args.config)
    if problems:
        raise ConfigError("; ".join(problems))
    print(f"{args.config}: OK, {len(registry.names())} models")
    if args.load:
        registry.get(args.load)
        status = next(s for s in registry.status() if s.name == args.load)
        print(
            f"{status.name}: loaded on {status.device}, memory {status.memory}, "
            f"{status.load_seconds:.1f}s"
        )
    return 0


def check_problems(registry, config_path: str) -> list[str]:
    """What ``models check`` refuses beyond the schema: no models, missing local folders."""
    if not registry.names():
        return [f"{config_path}: no models configured. Add an entry under models: (see README)."]
    problems = []
    base_dir = registry.config.base_dir
    for entry in registry.entries():
        source = entry.source or ""
        if source.startswith(LOCAL_PREFIXES) and entry.local_path(base_dir) is None:
            problems.append(
                f"{config_path}: model '{entry.name}': source folder '{source}' does not exist "
                f"(relative paths are read from {base_dir or 'the current folder'}). Fix the "
                "path, or use a Hugging Face repo id such as Qwen/Qwen2.5-0.5B-Instruct."
            )
    return problems


def _download(args: argparse.Namespace) -> int:
    from playground.downloads import DOWNLOADS, listening
    from playground.loaders.hub import cached_snapshot

    registry = open_registry(args.config)
    base_dir = registry.config.base_dir
    entries = (
        [e for e in registry.entries() if e.task != "endpoint" and e.source]
        if args.all
        else [registry.entry(args.name)]
    )
    for entry in entries:
        if entry.task == "endpoint" or entry.local_path(base_dir) is not None:
            print(f"{entry.name}: nothing to download (a local folder or a remote endpoint)")
            continue
        if cached_snapshot(entry) is not None:
            print(f"{entry.name}: already in the Hugging Face cache")
            continue
        with listening(_printer()):
            DOWNLOADS.wait(entry)
        print(f"{entry.name}: downloaded {entry.source}")
    return 0


def _printer(every: float = 1.0):
    """Print a download's progress on stderr, once a second (one line each)."""
    last = {"at": 0.0}

    def show(progress) -> None:
        if time.monotonic() - last["at"] >= every:
            print(f"{progress.name}: {progress.summary()}", file=sys.stderr, flush=True)
            last["at"] = time.monotonic()

    return show
