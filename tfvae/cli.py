"""The ``tfvae`` command line: ``tfvae COMMAND --help`` documents each command.

The commands live in :mod:`tfvae.commands`, one module each.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import warnings

from tfvae.commands import command_names
from tfvae.commands._native_logs import quiet_native_logs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfvae",
        description="Train, evaluate, plot and export autoencoders and VAEs (TensorFlow, Keras 3, TFP).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_names():
        importlib.import_module(f"tfvae.commands.{name}").register(commands)
    for command in commands.choices.values():
        command.add_argument(
            "--verbose",
            action="store_true",
            help="also show TensorFlow's native log lines (hidden by default unless TF_CPP_MIN_LOG_LEVEL is set)",
        )
    return parser


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """tfvae's own warnings as one ``tfvae: warning: ...`` line; others as Python prints them."""
    if os.path.abspath(filename).startswith(_PACKAGE_DIR):
        return f"tfvae: warning: {message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfvae`` script; returns the exit status.

    Errors a user can fix (:class:`tfvae.errors.TfvaeError`, a file that is
    missing or cannot be read or written, a full disk:
    :class:`tfvae.errors.DiskWriteError` names the path and the space) are printed as one
    ``tfvae: error: ...`` line with exit status 2, without a traceback;
    Ctrl-C exits with status 130 and SIGTERM (what a scheduler sends before
    it kills a job) with 143, each after the same clean-up: the run's lock is
    released and nothing half-written is left, so ``--resume`` continues from
    the last checkpoint; ``tfvae: interrupted`` / ``tfvae: terminated`` is
    printed on a line of its own (after a progress bar's unfinished line).
    tfvae's warnings (a checkpoint skipped, a
    stale lock taken over) are printed as ``tfvae: warning: ...`` lines.
    TensorFlow's native start-up log lines are hidden unless ``--verbose``
    is given or ``TF_CPP_MIN_LOG_LEVEL`` is set
    (:func:`tfvae.commands._native_logs.quiet_native_logs`).
    """
    args = build_parser().parse_args(argv)
    from tfvae.errors import TfvaeError

    previous = warnings.formatwarning
    warnings.formatwarning = _format_warning
    previous_sigterm = _handle_sigterm()
    try:
        with quiet_native_logs(verbose=args.verbose):
            return args.handler(args)
    except (TfvaeError, OSError) as error:
        print(f"tfvae: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"{_line_start()}tfvae: terminated (SIGTERM); the last checkpoint is kept: continue with --resume",
              file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"{_line_start()}tfvae: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is (as Ctrl-C raises ``KeyboardInterrupt``), so the same clean-up runs."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def _handle_sigterm():
    """Turn SIGTERM into :class:`Terminated` while a command runs; returns the handler to restore (None: not set)."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _line_start() -> str:
    """A newline when a terminal may hold a progress bar's unfinished line, else nothing."""
    return "\n" if sys.stdout.isatty() or sys.stderr.isatty() else ""


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    return " ".join(str(error).split("\n")) if str(error) else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
