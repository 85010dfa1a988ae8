"""The ``playground`` console command: the same engines as the app, from a shell.

Each subcommand lives in ``playground.commands.<name>`` with a
``register(subparsers)`` function; heavy imports happen inside the handlers.
Errors a person can act on print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from playground.errors import PlaygroundError

COMMANDS = ["models", "chat", "rag", "finetune", "image", "voice", "agent", "spaces", "testing"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playground",
        description="AIGC Playground from the command line: models, chat, rag, finetune, "
        "image, voice.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"playground.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"playground.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Errors are printed once below; library warnings only with -v.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
