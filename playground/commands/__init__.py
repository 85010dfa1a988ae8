"""Subcommands of the ``playground`` console command, one module each."""

from __future__ import annotations

import argparse

DEFAULT_CONFIG = "models.yaml"


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help="models file (default: models.yaml)",
    )


def open_registry(config_path: str):
    """Load the models file and build a registry from it (raises ConfigError)."""
    from playground.config import load_config
    from playground.registry import Registry

    return Registry(load_config(config_path))
