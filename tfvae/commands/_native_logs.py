"""Keep TensorFlow's C++ start-up chatter out of the terminal.

TensorFlow's native code logs through absl/glog straight to file descriptor
2. ``TF_CPP_MIN_LOG_LEVEL`` hides the lines logged *after* absl is set up,
but a few lines are written before that and ignore it (``WARNING: All log
messages before absl::InitializeLog() ...``, the oneDNN and CUDA-stub
notices), and a machine without a GPU logs ``failed call to cuInit`` at
error level. None of these is something a user can act on.

:func:`quiet_native_logs` hides them for the duration of a command: it sets
``TF_CPP_MIN_LOG_LEVEL=1`` (hide native INFO lines) and routes descriptor 2
through a pipe whose reader thread drops the lines :func:`is_noise` names
and passes everything else through unchanged: Python warnings, tracebacks,
tfvae's own ``tfvae: warning:`` lines and native warnings and errors that
are not on the known-noise list. It does nothing when the user set
``TF_CPP_MIN_LOG_LEVEL`` themselves or asked for ``--verbose``.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import sys
import threading
from collections.abc import Iterator

#: A native (absl/glog) log line: severity letter, MMDD, time, thread id, ``file:line]``.
_NATIVE_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] ")

#: Native warnings and errors that carry no information a user can act on.
_KNOWN_NOISE = re.compile(
    r"failed call to cuInit"
    r"|remapper failed: INVALID_ARGUMENT: Mutation::Apply error"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|oneDNN custom operations are on"
)

_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"

#: How long a partial line (no newline yet) waits for the rest before it is passed on.
_PARTIAL_LINE_WAIT_S = 0.05


def is_noise(line: str) -> bool:
    """Whether a line written to stderr is native start-up chatter to hide.

    Args:
      line: one line, with or without its newline.

    Returns:
      True for absl's pre-initialisation preamble, native INFO lines, and the
      native warnings/errors on the known-noise list; False for everything
      else (Python output, real native warnings and errors).
    """
    text = line.rstrip("\r\n")
    if text == _ABSL_PREAMBLE:
        return True
    match = _NATIVE_LINE.match(text)
    if match is None:
        return False
    return match.group(1) == "I" or _KNOWN_NOISE.search(text) is not None


def wants_native_logs(verbose: bool, environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Whether to show native logs: ``--verbose`` or a user-set ``TF_CPP_MIN_LOG_LEVEL``."""
    return verbose or "TF_CPP_MIN_LOG_LEVEL" in environ


@contextlib.contextmanager
def quiet_native_logs(verbose: bool = False) -> Iterator[None]:
    """Hide TensorFlow's native start-up chatter on stderr inside the block.

    Args:
      verbose: show everything (the block runs untouched).

    Yields:
      Nothing; on exit descriptor 2 is restored and every line that was not
      noise has been written to the real stderr.
    """
    if wants_native_logs(verbose):
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
    try:
        with _filtered_stderr():
            yield
    finally:
        del os.environ["TF_CPP_MIN_LOG_LEVEL"]


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Route descriptor 2 through :func:`_forward` inside the block."""
    try:
        real_stderr = os.dup(2)
    except OSError:  # no descriptor 2 (e.g. a daemon): nothing to filter
        yield
        return
    if os.name == "nt":  # select() does not take pipes on Windows: the log level alone
        os.close(real_stderr)
        yield
        return
    read_end, write_end = os.pipe()
    reader = threading.Thread(target=_forward, args=(read_end, real_stderr), name="tfvae-stderr-filter", daemon=True)
    _flush_stderr()
    os.dup2(write_end, 2)
    os.close(write_end)
    reader.start()
    try:
        yield
    finally:
        _flush_stderr()
        os.dup2(real_stderr, 2)  # closes the pipe's last write end: the reader sees end of file
        reader.join(timeout=5)
        os.close(real_stderr)


def _flush_stderr() -> None:
    with contextlib.suppress(Exception):
        sys.stderr.flush()


def _forward(read_end: int, real_stderr: int) -> None:
    """Copy ``read_end`` to ``real_stderr`` line by line, dropping noise, until end of file."""
    pending = b""
    try:
        while True:
            if pending:
                ready, _, _ = select.select([read_end], [], [], _PARTIAL_LINE_WAIT_S)
                if not ready:  # a partial line with nothing after it (a prompt, a \r progress bar)
                    _write(real_stderr, pending)
                    pending = b""
                    continue
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line + b"\n" for line in lines if not is_noise(line.decode("utf-8", "replace"))]
            if kept:
                _write(real_stderr, b"".join(kept))
        if pending and not is_noise(pending.decode("utf-8", "replace")):
            _write(real_stderr, pending)
    finally:
        os.close(read_end)


def _write(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
