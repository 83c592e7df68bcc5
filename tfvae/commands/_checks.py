"""The command line's checks of paths and files, answered before TensorFlow is imported.

Every mistake a path or a file on the command line can reveal -- a run
directory that does not exist, is a file, holds no run or no checkpoint yet,
an ``--out`` that cannot be written or has no image extension, a dataset path
that is missing -- is answered here in one ``tfvae: error: ...`` line, in a
fraction of a second, instead of after TensorFlow's import (15-30 s on a
2-core CPU) or, worse, after the work. Each command calls these functions
first thing in its ``run(args)``, before its lazy imports.

This module imports no TensorFlow, Keras or numpy, and no tfvae module that
does (``python -X importtime -c "import tfvae.commands._checks"`` lists
none; ``tests/test_cli_mistakes.py`` checks it). So it repeats the few file
names of the run directory (``config.json``, ``run.json``,
``checkpoints/checkpoint``, ``prior/*.keras``) that the modules which read
them declare; ``tests/test_cli_mistakes.py`` checks that they agree.

The checks that need what a run records about itself (``run.json``:
``capabilities.conditional``, ``capabilities.needs_trained_prior``,
``data.num_classes``) are skipped for runs written before ``run.json``
existed: the later checks of the commands (and of :func:`tfvae.experiment.load_run`,
which guard the Python API too) still answer them, after the import.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from tfvae.errors import TfvaeError
from tfvae.fileio import DirectoryLock

#: The run directory's files (:mod:`tfvae.experiment.run_dir`, :mod:`tfvae.experiment.checkpoint`).
CONFIG_FILE = "config.json"
RECORD_FILE = "run.json"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_LIST = "checkpoint"  # TensorFlow's index of the checkpoints, written after each one
#: Where a VQ-VAE run's trained prior lives (:mod:`tfvae.experiment.prior`): ``prior.keras``, or
#: ``top.keras`` and ``bottom.keras`` for a VQ-VAE-2.
PRIOR_DIR = "prior"
PRIOR_FILES = (("prior.keras",), ("top.keras", "bottom.keras"))
#: ``tfvae sample --out``: the image grid's formats, and the array.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIX = ".npy"
#: A model name usable as one folder and as TF Serving's ``--model_name``
#: (:func:`tfvae.export.layout.check_model_name`).
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # matched in full: "$" would let a final newline in


class CommandLineError(TfvaeError, ValueError):
    """A path or file named on the command line cannot be used as asked (one line, exit status 2)."""


def existing_run(path: str | Path, *, trained: bool = True) -> Path:
    """The run directory ``path``, checked: a directory with a readable ``config.json`` of a model run.

    Args:
      path: the ``RUN`` argument.
      trained: also require a checkpoint (``checkpoints/checkpoint``, or a
        ``checkpoints/ckpt-*.index`` whose list was lost: the restore finds
        those too).

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      CommandLineError: the directory does not exist, is a file, holds no run
        (no ``config.json``), its ``config.json`` cannot be read or is not a
        JSON object, it holds the prior of a VQ-VAE run rather than a model
        run, or (``trained``) it has no checkpoint yet.
    """
    run = Path(path)
    if not run.exists():
        raise CommandLineError(f"run directory not found: {run}")
    if not run.is_dir():
        raise CommandLineError(f"{run} is a file, not a run directory")
    config = run_config(run)
    if config.get("kind") == "prior":
        raise CommandLineError(f"{run} holds the prior of a VQ-VAE run (`tfvae train vq_prior`), not a model run: "
                               f"pass the VQ-VAE run, {run.parent}")
    if trained and not has_checkpoint(run):
        model = config.get("model", {}).get("name") if isinstance(config.get("model"), dict) else None
        epochs = config.get("train", {}).get("epochs") if isinstance(config.get("train"), dict) else None
        again = f" --epochs {epochs}" if isinstance(epochs, int) else ""
        raise CommandLineError(f"{run} has no checkpoint yet: train it with "
                               f"`tfvae train {model or 'CONFIG'} --out {run} --resume{again}`")
    return run


def run_config(run: Path) -> dict[str, Any]:
    """``RUN/config.json`` as a dict, parsed only (:func:`tfvae.experiment.load_run` checks its values).

    Raises:
      CommandLineError: no ``config.json``, or it cannot be read, is not JSON,
        or is not a JSON object. The wording is that of
        :meth:`tfvae.experiment.RunDirectory.read_config`.
    """
    path = run / CONFIG_FILE
    if not path.exists():
        raise CommandLineError(f"{run} holds no run (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CommandLineError(f"{path} is not a valid run config: {error}") from error
    except RecursionError:
        raise CommandLineError(f"{path} is not a valid run config: it is nested too deeply") from None
    except OSError as error:
        raise CommandLineError(f"{path} cannot be read: {error.strerror or error}") from error
    if not isinstance(config, dict):
        raise CommandLineError(f"{path} is not a valid run config: expected a JSON object, "
                               f"got {type(config).__name__}")
    return config


def run_record(run: Path) -> dict[str, Any] | None:
    """``RUN/run.json`` as a dict, or ``None`` when the run has none (older runs) or it cannot be parsed.

    An unreadable record is left to :meth:`tfvae.experiment.RunDirectory.read_record`,
    which names what is wrong with it; the checks that need it are skipped.
    """
    try:
        record = json.loads((run / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def capabilities(run: Path) -> dict[str, Any] | None:
    """The ``capabilities`` table of the run's ``run.json``, or ``None`` without one."""
    record = run_record(run)
    table = None if record is None else record.get("capabilities")
    return table if isinstance(table, dict) else None


def num_classes(run: Path) -> int | None:
    """The number of classes of the run's data (``run.json``), or ``None`` when unknown or unlabelled."""
    record = run_record(run)
    data = None if record is None else record.get("data")
    classes = data.get("num_classes") if isinstance(data, dict) else None
    return classes if isinstance(classes, int) and not isinstance(classes, bool) and classes > 0 else None


def data_shape(run: Path) -> tuple[int, ...] | None:
    """The shape of one example of the run's data (``run.json``), or ``None`` when unknown."""
    record = run_record(run)
    data = None if record is None else record.get("data")
    shape = data.get("data_shape") if isinstance(data, dict) else None
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        return None
    return tuple(shape)


def iwae_request(run: Path, k: int, batch_size: int) -> None:
    """``tfvae evaluate --iwae-k``: ``k x batch x D x 4`` bytes within :func:`tfvae.sizes.request_limit`.

    Skipped for runs without ``run.json`` (the data's shape is then unknown before TensorFlow).

    Args:
      run: the run directory.
      k: ``--iwae-k`` (0: no IWAE estimate).
      batch_size: the examples per batch (``--batch-size``, or ``--max-examples`` when fewer).

    Raises:
      CommandLineError: above the limit, with the estimate.
    """
    from tfvae.sizes import iwae_problem

    shape = data_shape(run)
    problem = None if shape is None or k < 1 else iwae_problem(k, batch_size, shape)
    if problem is not None:
        raise CommandLineError(f"--iwae-k {k}: {problem}")


def sample_request(run: Path, num: int) -> None:
    """``tfvae sample --num``: ``N x D x 4 x 4`` bytes within :func:`tfvae.sizes.request_limit`.

    Skipped for runs without ``run.json``.

    Raises:
      CommandLineError: above the limit, with the estimate.
    """
    from tfvae.sizes import sample_problem

    shape = data_shape(run)
    problem = None if shape is None else sample_problem(num, shape)
    if problem is not None:
        raise CommandLineError(f"--num {num}: {problem}")


def has_checkpoint(run: Path) -> bool:
    """Whether ``RUN/checkpoints`` lists a checkpoint or holds one whose list was lost."""
    directory = run / CHECKPOINT_DIR
    return (directory / CHECKPOINT_LIST).is_file() or any(directory.glob("ckpt-*.index"))


def has_trained_prior(run: Path) -> bool:
    """Whether ``RUN/prior`` holds a trained prior (``prior.keras``, or ``top.keras`` and ``bottom.keras``)."""
    directory = run / PRIOR_DIR
    return any(all((directory / name).is_file() for name in names) for names in PRIOR_FILES)


def sampleable_run(run: Path, label: int | None, temperature: float) -> None:
    """What ``tfvae sample`` can check from ``run.json``: a prior to draw from, the label, the temperature.

    Skipped (the command checks after loading the model) for runs without ``run.json``.

    Raises:
      CommandLineError: a VQ-VAE run with no trained prior yet, a conditional
        model without ``--label``, a ``--label`` outside the run's classes, or
        ``--temperature`` for a model without an autoregressive prior.
    """
    can = capabilities(run)
    if can is None:
        return
    classes = num_classes(run)
    choices = f" (0 to {classes - 1})" if classes else ""
    if can.get("needs_trained_prior"):
        if not has_trained_prior(run):
            raise CommandLineError(f"{run} has no trained prior yet: run `tfvae train vq_prior --from {run}` first")
    elif temperature != 1.0:
        raise CommandLineError("--temperature applies to autoregressive priors (VQ-VAE runs) only")
    if can.get("conditional") and label is None:
        raise CommandLineError(f"{run} holds a conditional model: pass --label CLASS{choices}")
    if label is not None and classes is not None and not 0 <= label < classes:
        raise CommandLineError(f"--label {label} is out of range: {run} was trained on {classes} classes{choices}")


def checked_image_out(path: str | Path, flag: str = "--out") -> Path:
    """The file ``tfvae sample`` writes: ``.png``, ``.jpg`` or ``.jpeg`` (the image grid), or ``.npy``.

    Then checked as :func:`writable_file` (missing folders are created).

    Raises:
      CommandLineError: ``path`` is a directory, has another extension or none,
        or cannot be written.
    """
    out = Path(path)
    if out.is_dir():
        raise CommandLineError(f"{flag} {out} is a directory: name the file to write, e.g. {out / 'samples.png'}")
    if out.suffix.lower() not in (*IMAGE_SUFFIXES, ARRAY_SUFFIX):
        raise CommandLineError(f"{flag} must end in .png (or .jpg/.jpeg for the image grid, .npy for the array), "
                               f"got {out}")
    return writable_file(out, flag, create_parents=True)


def writable_file(path: str | Path, flag: str, *, create_parents: bool = False, suffix: str | None = None) -> Path:
    """A file a command will write (atomically, beside it): not a directory, in a folder it can write.

    Args:
      path: the file.
      flag: the option that named it, for the message (``"--out"``).
      create_parents: the command creates missing folders; otherwise the
        file's folder must exist.
      suffix: the extension the file must have (``".keras"``).

    Returns:
      ``path`` as a :class:`~pathlib.Path`.

    Raises:
      CommandLineError: a wrong suffix, ``path`` is a directory, its folder
        does not exist (unless ``create_parents``) or is a file, or the
        folder cannot be written.
    """
    out = Path(path)
    if suffix is not None and out.suffix != suffix:
        raise CommandLineError(f"{flag} must name a {suffix} file, got {out}")
    if out.is_dir():
        raise CommandLineError(f"{flag} {out} is a directory: name the file to write")
    folder = out.parent
    if not create_parents and not folder.exists():
        raise CommandLineError(f"{flag} {out}: its directory {folder} does not exist (create it first)")
    _writable_place(out.parent, flag, out)
    return out


def writable_dir(path: str | Path, flag: str) -> Path:
    """A folder a command will write into (created if missing, with its parents).

    Raises:
      CommandLineError: ``path`` (or the nearest existing folder above it) is
        a file, or it cannot be written.
    """
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise CommandLineError(f"{flag} {directory} is a file, not a directory")
    _writable_place(directory, flag, directory)
    return directory


def run_out(path: str | Path, flag: str = "--out") -> Path:
    """The run directory ``tfvae train`` writes (or resumes): not a file, nor below one.

    Raises:
      CommandLineError: ``path``, or the nearest existing path above it, is a file.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommandLineError(f"{flag} {out} is a file, not a run directory")
    existing = _nearest_existing(out)
    if not existing.is_dir():
        raise CommandLineError(f"{flag} {out}: {existing} is a file, not a directory")
    DirectoryLock(out).check_free()  # another tfvae train writing there: answered now, not after TensorFlow's import
    return out


def export_target(out_root: str | Path, name: str | None, version: int | None) -> Path:
    """The model's base folder ``OUT_ROOT/NAME`` of ``tfvae export``, checked: a writable folder, a free version.

    Args:
      out_root: ``--out-root``.
      name: ``--name``, or the run's config name; ``None`` when the run's
        config has none (then ``OUT_ROOT`` alone is checked: the export
        names what is wrong after loading the run).
      version: ``--version``, if given.

    Returns:
      ``OUT_ROOT/NAME`` (``OUT_ROOT`` when ``name`` is ``None``).

    Raises:
      CommandLineError: ``name`` is not a plain model name, ``OUT_ROOT`` or
        ``OUT_ROOT/NAME`` is a file or cannot be written, or ``version`` exists.
    """
    root = Path(out_root)
    if root.exists() and not root.is_dir():
        raise CommandLineError(f"--out-root {root} is a file, not a folder")
    if name is None:
        _writable_place(root, "--out-root", root)
        return root
    base = root / model_name(name)
    if base.exists() and not base.is_dir():
        raise CommandLineError(f"{base} exists and is not a folder")
    _writable_place(base, "--out-root", base)
    if version is not None and (base / str(version)).exists():
        raise CommandLineError(f"{base / str(version)} already exists; choose another --version or leave it out")
    return base


def model_name(name: str) -> str:
    """A model name usable as one folder and in TF Serving's ``--model_name`` (the export's rule)."""
    if not _MODEL_NAME.fullmatch(name or ""):
        raise CommandLineError(
            f"model name {name!r} must start with a letter or digit and use only letters, digits, '.', '_' or '-'"
        )
    return name


def dataset_path(name: str | None) -> None:
    """Check the path of a ``<prefix>:<path>`` dataset name (``npz:data.npz``, ``images:photos/``, ...).

    :func:`tfvae.data.names.check_dataset_path`, with its one error made a
    :class:`CommandLineError` where it is not already an ``OSError``.

    Raises:
      FileNotFoundError: the path is missing or of the wrong kind (its message is the line).
      CommandLineError: no path after the prefix.
    """
    if not name:
        return
    from tfvae.data.names import check_dataset_path

    try:
        check_dataset_path(name)
    except ValueError as error:
        raise CommandLineError(f"data.dataset: {error}") from error


#: Whether standard error was a terminal when the command started. The command line imports this module while
#: it builds its parser, before :func:`tfvae.commands._native_logs.quiet_native_logs` points file descriptor 2 at
#: the pipe that filters TensorFlow's native log lines (``sys.stderr.isatty()`` is false from then on).
STDERR_IS_TERMINAL = bool(sys.stderr is not None and sys.stderr.isatty())


def announce_loading(run: str | Path, quiet: bool = False, stream: TextIO | None = None) -> bool:
    """Print ``Loading RUN (TensorFlow) ...`` before the slow import, when someone is watching.

    The first output of ``evaluate``, ``plot``, ``sample`` and ``export`` comes
    after TensorFlow's import and the run's restore (15-30 s on a 2-core CPU):
    this line says the command is working. It goes to standard error only
    when that is a terminal (:data:`STDERR_IS_TERMINAL`; with ``stream``: when
    ``stream`` is one) and ``quiet`` is false, so a script that reads standard
    error still gets one ``tfvae: error: ...`` line per mistake.

    Returns:
      Whether the line was printed.
    """
    terminal = STDERR_IS_TERMINAL if stream is None else stream.isatty()
    if quiet or not terminal:
        return False
    print(f"Loading {run} (TensorFlow) ...", file=sys.stderr if stream is None else stream, flush=True)
    return True


def _nearest_existing(path: Path) -> Path:
    """``path`` or the nearest of its parents that exists (the root always does)."""
    absolute = Path(os.path.abspath(path))
    return next(candidate for candidate in (absolute, *absolute.parents) if candidate.exists())


def _writable_place(directory: Path, flag: str, named: Path) -> None:
    """Raise unless files can be created in ``directory``, or, when missing, in the nearest existing folder above.

    Tried for real (an unnamed temporary file, at once deleted): permissions,
    read-only mounts and ACLs all count, also for root.
    """
    existing = _nearest_existing(directory)
    if not existing.is_dir():
        raise CommandLineError(f"{flag} {named}: {existing} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise CommandLineError(f"{flag} {named}: cannot write in {existing} ({error.strerror or error})") from error
