"""``tfvae configs``: list the experiment configs and the registered models."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from tfvae.commands.train import TRAINING_DIRS
    from tfvae.registry import MODELS

    print("models:", ", ".join(MODELS.names()))
    for directory in TRAINING_DIRS:
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                print(f"config: {path}")
            break
    return 0


def register(commands) -> None:
    parser = commands.add_parser("configs", help="list the experiment configs and the registered models")
    parser.set_defaults(handler=run)
