"""``playground models list|check``: what is configured, and does it load."""

from __future__ import annotations

import argparse

from playground.commands import add_config_arg, open_registry


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
    print(f"{args.config}: OK, {len(registry.names())} models")
    if args.load:
        registry.get(args.load)
        status = next(s for s in registry.status() if s.name == args.load)
        print(
            f"{status.name}: loaded on {status.device}, memory {status.memory}, "
            f"{status.load_seconds:.1f}s"
        )
    return 0
