"""The base of the errors a user can fix (the CLI prints them as one line, exit 2)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path


class TfvaeError(Exception):
    """A problem with the user's input, files or settings, with a message that names it."""


class DiskWriteError(TfvaeError, OSError):
    """A file or folder could not be written (a full disk, a quota, a read-only mount), named in one line.

    Made by :func:`write_failure` from the ``OSError`` or TensorFlow
    ``OpError`` met while writing. Attributes: ``path`` (what was being
    written), ``needed`` and ``free`` (bytes; ``None`` where unknown).
    """

    def __init__(self, message: str, path: Path | None = None, needed: int | None = None, free: int | None = None):
        super().__init__(message)
        self.path, self.needed, self.free = path, needed, free


#: the words of a full disk or quota in an ``OSError`` or a TensorFlow message
_NO_SPACE = ("No space left on device", "Disk quota exceeded")


def write_failure(path: str | Path, what: str, error: BaseException, needed: int | None = None, then: str = "",
                  at_least: bool = False) -> DiskWriteError:
    """The one-line :class:`DiskWriteError` for ``error``, met while writing ``path``.

    ``cannot write RUN/checkpoints/ckpt-2 (the checkpoint of epoch 2): No space left on device (about 1.3 MB
    needed, 0.2 MB free); ...``: the space is said for a full disk or a quota only.

    Args:
      path: the file or folder being written, named in the message.
      what: what it is, e.g. ``"the checkpoint of epoch 2"``.
      error: the ``OSError`` or TensorFlow ``OpError`` (its ``{{function_node ...}}`` and ``[Op:...]``
        decorations and the path it repeats are left out).
      needed: the bytes the write needs, where they can be estimated.
      then: what follows, e.g. ``"; free some space, then continue with --resume"``.
      at_least: ``needed`` is a lower bound (``"at least N needed"``).
    """
    path = Path(path)
    reason = _reason(error)
    space = ""
    if any(words in reason for words in _NO_SPACE):
        free = _free_bytes(path)
        parts = [f"{'at least' if at_least else 'about'} {_size(needed)} needed"] if needed is not None else []
        parts += [f"{_size(free)} free"] if free is not None else []
        space = f" ({', '.join(parts)})" if parts else ""
    else:
        free = None
    return DiskWriteError(f"cannot write {path} ({what}): {reason}{space}{then}", path, needed, free)


@contextlib.contextmanager
def writing(path: str | Path, what: str, errors: tuple[type[BaseException], ...] = (OSError,),
            needed: Callable[[], int | None] | None = None, then: str = "", at_least: bool = False):
    """Turn ``errors`` raised inside the block into :func:`write_failure` (a :class:`TfvaeError` passes as it is).

    Args:
      path: what the block writes (see :func:`write_failure`).
      what: what it is.
      errors: the exceptions that mean "could not write": ``(OSError, tf.errors.OpError)`` around TensorFlow's
        writers (this module does not import TensorFlow).
      needed: returns the bytes needed; called only when the write fails.
      then: what follows the reason.
      at_least: ``needed`` is a lower bound.
    """
    try:
        yield
    except TfvaeError:
        raise
    except errors as error:
        raise write_failure(path, what, error, needed() if needed is not None else None, then, at_least) from error


def _reason(error: BaseException) -> str:
    """``"No space left on device"``: an ``OSError``'s reason, or a TensorFlow message without its decorations."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(getattr(error, "message", None) or error or type(error).__name__)
    text = re.sub(r"\{\{[^}]*\}\}\s*|\s*\[Op:[^\]]*\]", "", text).strip()
    text = (text.splitlines() or [type(error).__name__])[0]
    return text.rsplit("; ", 1)[-1] if "; " in text else text  # TensorFlow's "PATH; REASON"


def _free_bytes(path: Path) -> int | None:
    """The bytes free for an unprivileged user on the file system of ``path`` (or its nearest existing parent)."""
    absolute = Path(os.path.abspath(path))
    for candidate in (absolute, *absolute.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def _size(count: int) -> str:
    """``"320 kB"``, ``"1.3 MB"``, ``"2.1 GB"`` (decimal units)."""
    if count < 1_000_000:
        return f"{count / 1e3:.0f} kB"
    if count < 1_000_000_000:
        return f"{count / 1e6:.1f} MB"
    return f"{count / 1e9:.1f} GB"


def with_article(noun: str) -> str:
    """``noun`` after "a" or "an", as it is spoken: ``"an Autoencoder"``, ``"a VAE"``, ``"an SAE"``.

    Names spelt as letters (all capitals) take "an" before a letter name that
    starts with a vowel sound (F, H, L, M, N, R, S, X and the vowels).
    """
    if not noun:
        return noun
    first = noun[0]
    spelt = noun[:2].isupper() if len(noun) > 1 else noun.isupper()
    vowel_sound = first in "AEIOUFHLMNRSX" if spelt else first.lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {noun}"


def did_you_mean(name: str, known) -> str:
    """``" (did you mean 'vae'?)"`` for the closest of ``known`` names, or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
