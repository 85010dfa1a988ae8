"""``playground testing make-tiny DIR``: tiny random models for offline runs."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    parser = sub.add_parser("testing", help="tools for tests and offline demos")
    inner = parser.add_subparsers(dest="testing_command", metavar="ACTION", required=True)
    tiny = inner.add_parser(
        "make-tiny", help="build tiny random models into DIR and write DIR/models.yaml"
    )
    tiny.add_argument("dir", metavar="DIR")
    tiny.set_defaults(handler=_make_tiny)


def _make_tiny(args: argparse.Namespace) -> int:
    from playground.testing import make_tiny

    path = make_tiny(args.dir)
    print(f"wrote {path}\nrun the app on it: python app.py --config {path}")
    return 0
