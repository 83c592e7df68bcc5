"""Files that are never seen half-written, and a lock on a run directory.

``atomic_write_text`` writes a temporary file beside the target, flushes it
to disk and renames it over the target (``os.replace``, atomic on POSIX), so
a reader, or a run killed mid-write, sees the old file or the new one, never
a mix.

``DirectoryLock`` keeps two processes from writing the same run directory:
the lock file is created with ``O_CREAT | O_EXCL`` (exactly one process can
create it) and holds the owner's pid and host, and on Linux the boot and the
process's start time (``/proc``), so a pid handed to another process since,
or a restarted machine, is seen. A lock left by a process that no longer
runs (killed with SIGKILL, a crashed machine) is taken over with a warning;
a live owner's lock is an error that names it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
import warnings
from pathlib import Path

from tfvae.errors import TfvaeError, writing

LOCK_FILE = ".lock"
# A lock file without a readable owner (its creator is between O_EXCL and the
# write) counts as held for this long, then as stale.
_UNREADABLE_LOCK_GRACE_S = 30.0
_HELD_HERE: set[str] = set()


class LockError(TfvaeError, RuntimeError):
    """A run directory is in use by another process."""


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, as UTF-8 (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a new temporary file beside it, fsync, ``os.replace``.

    Never through a symlink: the temporary file is created with ``O_EXCL |
    O_NOFOLLOW`` and ``os.replace`` replaces a link planted at ``path`` (the
    file it pointed to is left alone), so a prepared run directory cannot make
    tfvae overwrite a file outside it. A reader sees the old file or the new
    one, never half of one; a failed write leaves no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return path


class SymlinkError(TfvaeError, OSError):
    """A folder tfvae writes into is a symbolic link (planted in a run directory)."""


def refuse_symlink(path: str | Path, what: str) -> Path:
    """``path`` unless it is a symbolic link; tfvae writes its own sub-folders only where they really are.

    Raises:
      SymlinkError: naming the link and where it points.
    """
    path = Path(path)
    if path.is_symlink():
        raise SymlinkError(f"{path} ({what}) is a symbolic link to {os.readlink(path)}: tfvae does not write "
                           "through links planted in a run directory; remove it")
    return path


def _boot_id() -> str | None:
    """This boot of the machine (Linux ``/proc/sys/kernel/random/boot_id``); ``None`` where it cannot be read."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (field 22 of Linux ``/proc/PID/stat``).

    A pid is handed to a new process once its owner has gone; the start time tells the two apart.

    Args:
      pid: the process.

    Returns:
      The ticks, or ``None`` where ``/proc`` is missing or the process is gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        # the command name (field 2) may hold spaces and parentheses: count the fields after its last ")"
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    with contextlib.suppress(OSError, IndexError):  # a zombie (killed, not yet reaped) is not running
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


class DirectoryLock:
    """An exclusive lock on ``directory`` (the file ``directory/.lock``), as a context manager.

    Args:
      directory: the directory to lock; created if missing.
      purpose: what the owner does, for the messages (``"tfvae train"``).

    Raises (on entry):
      LockError: a live process holds the lock (its pid, host and start
        time are named, and the lock file, to delete if that is wrong).
    """

    def __init__(self, directory: str | Path, purpose: str = "tfvae train"):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.purpose = purpose
        self.held = False

    def _record(self) -> str:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        # what tells this process from a later one given the same pid (Linux; absent where /proc is missing)
        for key, value in (("boot_id", _boot_id()), ("start_ticks", _start_ticks(os.getpid()))):
            if value is not None:
                record[key] = value
        return json.dumps(record)

    def _read(self) -> tuple[str, dict | None]:
        try:
            raw = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "", {}
        try:
            owner = json.loads(raw)
            if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
                owner = None
        except json.JSONDecodeError:
            owner = None
        return raw, owner

    def _stale(self, owner: dict | None) -> bool:
        if owner is None:  # unreadable: being written right now, or garbage left long ago
            try:
                return time.time() - self.path.stat().st_mtime > _UNREADABLE_LOCK_GRACE_S
            except FileNotFoundError:
                return True
        if not owner:  # gone meanwhile
            return True
        if owner.get("host") != socket.gethostname():
            return False  # cannot see that machine's processes: assume it is running
        if owner["pid"] == os.getpid():
            return str(self.path.resolve()) not in _HELD_HERE
        return not _pid_alive(owner["pid"]) or self._pid_reused(owner) is not None

    @staticmethod
    def _pid_reused(owner: dict) -> str | None:
        """Why the live process with the owner's pid is not the owner (``None``: it is, or cannot be told).

        A lock written before these were recorded (no ``boot_id`` / ``start_ticks``), or a
        system without ``/proc``, is judged by the pid alone, as before.

        Args:
          owner: the lock file's record (its ``pid`` alive on this host).
        """
        boot, ticks = owner.get("boot_id"), owner.get("start_ticks")
        now_boot = _boot_id()
        if isinstance(boot, str) and now_boot is not None and boot != now_boot:
            return "the machine has restarted since"
        now_ticks = _start_ticks(owner["pid"])
        if isinstance(ticks, int) and now_ticks is not None and ticks != now_ticks:
            return f"pid {owner['pid']} now belongs to another process"
        return None

    def _describe(self, owner: dict | None) -> str:
        if not owner:
            return f"{self.path} exists but names no owner"
        return (f"{owner.get('purpose', 'a tfvae process')} (pid {owner['pid']} on {owner.get('host', '?')}, "
                f"since {owner.get('started', '?')})")

    def _busy(self, owner: dict | None) -> LockError:
        return LockError(f"{self.directory} is in use by {self._describe(owner)}: wait for it to finish or use "
                         f"another directory (--out); if no such process runs, delete {self.path}")

    def check_free(self) -> None:
        """Raise the :class:`LockError` :meth:`acquire` would raise when a live process holds the lock.

        Takes nothing (a stale, unreadable or absent lock passes): the command line asks
        it before importing TensorFlow, so a busy run directory is answered at
        once; :meth:`acquire` still decides.
        """
        if self.path.exists():
            _, owner = self._read()
            # an unreadable lock (being written, or left half-written by a kill) is for acquire() to judge, after
            # its grace period: refused here it would turn a relaunch right after a kill into an error
            if owner and not self._stale(owner):
                raise self._busy(owner)

    def acquire(self) -> DirectoryLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                raw, owner = self._read()
                if not self._stale(owner):
                    raise self._busy(owner) from None
                self._take_over(raw, owner, self._pid_reused(owner) if owner else None)
                continue
            try:
                with writing(self.path, "the run's lock", then="; free some space and run again"), \
                        os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(self._record())
                    handle.flush()
                    os.fsync(handle.fileno())
            except BaseException:  # a full disk: no empty lock left behind to block the next run
                self.path.unlink(missing_ok=True)
                raise
            self.held = True
            _HELD_HERE.add(str(self.path.resolve()))
            return self
        raise LockError(f"could not lock {self.directory}: {self.path} keeps changing; another process is starting")

    def _take_over(self, raw: str, owner: dict | None, reused: str | None = None) -> None:
        """Remove a stale lock, unless another process replaced it meanwhile.

        Args:
          raw: the lock file's text when it was judged stale.
          owner: its record (``None``: unreadable).
          reused: why the live process with the owner's pid is another one, for the warning.
        """
        with _exclusive(self.directory):  # two processes taking over the same stale lock: one at a time
            if self._read()[0] != raw:
                return  # someone else took it over (or released it): try again from the start
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        warnings.warn(
            f"{self.directory} was locked by {self._describe(owner)}, which is no longer running "
            f"({reused or 'killed or crashed'}): taking the lock over",
            RuntimeWarning,
            stacklevel=4,
        )

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        _HELD_HERE.discard(str(self.path.resolve()))
        _, owner = self._read()
        if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def _exclusive(directory: Path):
    """``flock`` on the directory itself (POSIX); a no-op where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover  (not POSIX)
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


__all__ = ["LOCK_FILE", "DirectoryLock", "LockError", "atomic_write_text"]
