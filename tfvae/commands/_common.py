"""Argument types shared by the command modules (not a command itself)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` only where X is a real default.

    Flags (``store_true``/``store_false``) and options whose default is
    ``None`` (decided later, e.g. from the config) or already described in
    their help get no ``(default: ...)``: argparse's own formatter printed
    ``--no-jit (default: True)`` and a second default after ``--out``'s own.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        if (action.default is None or action.default is argparse.SUPPRESS or action.nargs == 0
                or "default" in (action.help or "")):
            return action.help or ""
        return super()._get_help_string(action)
