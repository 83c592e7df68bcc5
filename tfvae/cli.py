"""The ``tfvae`` command line: ``tfvae COMMAND --help`` documents each command.

The commands live in :mod:`tfvae.commands`, one module each.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tfvae.commands import command_names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfvae",
        description="Train, evaluate, plot and export autoencoders and VAEs (TensorFlow, Keras 3, TFP).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_names():
        importlib.import_module(f"tfvae.commands.{name}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfvae`` script; returns the exit status.

    Errors a user can fix (:class:`tfvae.errors.TfvaeError`, a missing file)
    are printed as one ``tfvae: error: ...`` line with exit status 2.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    from tfvae.errors import TfvaeError

    try:
        return args.handler(args)
    except (TfvaeError, FileNotFoundError) as error:
        print(f"tfvae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
