"""Checkpoints of a run: model weights, optimizer state, epoch and RNG state.

TensorFlow writes each checkpoint under a temporary name and only then lists
it in ``checkpoints/checkpoint``, so a run killed at any moment leaves
complete files and the previous checkpoint. ``restore_latest`` restores the
newest checkpoint that can be read (a truncated or garbage newest one is
skipped with a warning), and weights that are not finite are never saved.

A run killed between writing a checkpoint and listing it leaves one checkpoint
more than it keeps, and a ``checkpoints/checkpoint`` list naming the one before
(TensorFlow deletes only what it listed). ``tidy`` (called by a resume, after
the restore) removes the surplus and rewrites the list, so TensorBoard and
``tf.train.latest_checkpoint`` name the checkpoint tfvae restored.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import tensorflow as tf

from tfvae.experiment.run_dir import CONFIG_FILE, RunError
from tfvae.fileio import atomic_write_text
from tfvae.models.base import GenerativeModel, NonFiniteError


class Checkpointer:
    """``tf.train.CheckpointManager`` over the model, its optimizers (one per update), epoch and RNG state.

    Model variables are keyed by their Keras path below the model (so the
    instance name, ``vae`` or ``vae_3``, does not matter; the RNG states are
    among them, without the ``_<n>`` Keras adds to names taken earlier in the
    process; a repeated path gets a ``+`` per repeat, in order),
    optimizer variables by position.

    With ``write=False`` (a multi-worker run's non-chief workers) ``save``
    still writes every variable, as each worker must under
    ``MultiWorkerMirroredStrategy``, but into a temporary directory that it
    deletes right away; ``restore_latest`` reads ``directory`` as usual.
    """

    def __init__(self, directory: Path, model: GenerativeModel, max_to_keep: int = 3, write: bool = True):
        self.write = write
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        prefix = f"{model.name}/"
        variables: dict[str, tf.Variable] = {}
        for variable in model.variables:
            path = variable.path
            if not path.startswith(prefix):
                # variables outside the model's scope (seed generators of its layers) get process-wide
                # unique names, seed_generator_1 in a process that made another model first: drop the suffix
                path = re.sub(r"^([^/]*?)_\d+/", r"\1/", path)
            key = path.removeprefix(prefix).replace("/", ".")
            while key in variables:  # e.g. the RNG states of recurrent layers share a path
                key += "+"
            variables[key] = variable
        self._variables = variables
        # one entry per update's optimizer: "optimizer" (the first, model.optimizer), "optimizer_<name>" the others'
        others = {f"optimizer_{name}": list(optimizer.variables)
                  for name, optimizer in list(model.update_optimizers().items())[1:]}
        self.checkpoint = tf.train.Checkpoint(
            model=variables,
            optimizer=list(model.optimizer.variables),
            epoch=self.epoch,
            **others,
        )
        self.directory = Path(directory)
        self.max_to_keep = max_to_keep
        self.model = model
        self._manager: tf.train.CheckpointManager | None = None
        #: why the ``checkpoint`` list could not be read at the last :meth:`checkpoints` (``None``: it could)
        self.list_error: Exception | None = None
        #: the prefix :meth:`restore_latest` restored (``None``: none yet)
        self.restored: str | None = None

    @property
    def manager(self) -> tf.train.CheckpointManager:
        """The ``tf.train.CheckpointManager`` that saves (made when first needed: reading needs none)."""
        if self._manager is None:
            try:
                self._manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), self.max_to_keep)
            except ValueError as error:  # an empty or half-valid checkpoints/checkpoint list
                state = self.directory / "checkpoint"
                aside = state.with_name(f"checkpoint.unreadable-{int(time.time())}")
                state.replace(aside)
                warnings.warn(f"{state} could not be read ({error}); moved it to {aside.name} and started a new list",
                              RuntimeWarning, stacklevel=2)
                self._manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), self.max_to_keep)
        return self._manager

    def save(self, epoch: int) -> str | None:
        """Save the model, optimizer and ``epoch``; refuses non-finite weights (:class:`NonFiniteError`).

        TensorFlow writes the files under a temporary name and renames them,
        then rewrites the ``checkpoint`` list atomically: a process killed
        while saving leaves the previous checkpoint as the newest.

        Raises:
          NonFiniteError: a weight is NaN or infinite (nothing is written).
          DiskWriteError: the files could not be written (a full disk: TensorFlow's ``OpError`` or an
            ``OSError``). What the save wrote is removed first (:func:`_failed_save`), so the previous
            checkpoint stays the newest; the message names the checkpoint, the space it needs and the space free.
        """
        from tfvae.errors import write_failure

        check_finite_weights(self.model, epoch)
        self.epoch.assign(epoch)
        if self.write:
            try:
                return self.manager.save(checkpoint_number=epoch)
            except (OSError, tf.errors.OpError) as error:
                raise _failed_save(self, epoch, error) from error
        scratch = tempfile.mkdtemp(prefix="tfvae-worker-checkpoint-")
        try:
            self.checkpoint.write(str(Path(scratch) / f"ckpt-{epoch}"))
        except (OSError, tf.errors.OpError) as error:
            raise write_failure(scratch, f"a worker's scratch checkpoint of epoch {epoch}", error,
                                _variable_bytes(self.model)) from error
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None

    def checkpoints(self) -> list[str]:
        """The checkpoint prefixes in the directory (``.../ckpt-<epoch>``), newest first.

        Found from the ``ckpt-*.index`` files and from the ``checkpoint`` list
        (which may name one whose files are gone), so neither a lost list nor
        a lost file hides the others.
        """
        numbers: dict[int, str] = {}
        listed, self.list_error = self._listed()
        for prefix in [*listed, *(str(p.with_suffix("")) for p in self.directory.glob("ckpt-*.index"))]:
            match = re.fullmatch(r"ckpt-(\d+)", Path(prefix).name)
            if match:
                numbers.setdefault(int(match[1]), str(self.directory / Path(prefix).name))
        return [numbers[n] for n in sorted(numbers, reverse=True)]

    def _listed(self) -> tuple[list[str], Exception | None]:
        """The prefixes in the ``checkpoint`` list, and why it could not be read (``None``: it could).

        An empty or damaged list (``ValueError``, ``UnicodeDecodeError``) or one
        that cannot be read (``tf.errors.OpError``) lists nothing: the files still count.
        """
        try:
            state = tf.train.get_checkpoint_state(str(self.directory))
        except (ValueError, tf.errors.OpError) as error:
            return [], error
        return (list(state.all_model_checkpoint_paths) if state is not None else []), None

    def restore_latest(self, built_from: str | Path | None = None) -> int:
        """Restore the newest checkpoint that can be read; returns the number of epochs it had done.

        A newest checkpoint that is truncated, garbage or missing files is
        skipped with a warning naming it (and kept as it is); the next older
        one is restored.

        Args:
          built_from: what the model was built from, for the message when no
            checkpoint fits it; ``RUN/config.json`` by default.

        Raises:
          RunError: no checkpoint, or none can be restored (each one named, with why); when every
            one fails because its variables are not the model's (``config.json`` edited), one
            variable that differs is named instead.
        """
        candidates = self.checkpoints()
        if not candidates:
            unreadable = f" (its checkpoint list could not be read: {self.list_error})" if self.list_error else ""
            raise RunError(f"no checkpoint in {self.directory}{unreadable}") from self.list_error
        failures = []
        last_error: Exception | None = None
        mismatched = True  # every failure so far is about the variables, not the files
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            # an unreadable file (OpError; IndexError: "Read less bytes than requested" of a truncated one),
            # variables missing (AssertionError) or of another shape (ValueError, KeyError): name it, try the next
            except (tf.errors.OpError, IndexError, AssertionError, ValueError, KeyError) as error:
                last_error = error
                first_line = (str(error).strip().splitlines() or [""])[0]
                failures.append(f"checkpoint {path} could not be restored ({type(error).__name__}: {first_line})")
                mismatched = mismatched and isinstance(error, (AssertionError, ValueError, KeyError))
                continue
            self.restored = path
            if failures:
                warnings.warn(
                    "; ".join(failures) + f"; restored the newest usable one, {path} (epoch {int(self.epoch.numpy())}). "
                    "The unreadable files are left as they are.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return int(self.epoch.numpy())
        source = Path(built_from) if built_from is not None else self.directory.parent / CONFIG_FILE
        differs = self.mismatch(candidates[0], f"the model built from {source}") if mismatched else None
        if differs:
            raise RunError(f"the checkpoints in {self.directory} do not match {source}: {differs} (was {source.name} "
                           f"edited? put its values back, or start a new run with --out)") from last_error
        raise RunError(
            "; ".join(failures) + ". No checkpoint there is usable; the files are left as they are: "
            "start a new run with --out"
        ) from last_error

    def mismatch(self, path: str, model: str = "the model") -> str | None:
        """One difference between the variables saved in checkpoint ``path`` and the model's, in words.

        A shape first (``variable encoder.dense_0.kernel has shape (784, 8) in ckpt-4 but (784, 16)
        in the model``), then a variable only the model has, then one only the checkpoint has.

        Args:
          path: a checkpoint prefix (``.../ckpt-4``).
          model: how to call the model in the words.

        Returns:
          The words, or ``None`` when the variables agree or the checkpoint cannot be read.
        """
        try:
            shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
        except (tf.errors.OpError, ValueError, IndexError):
            return None
        name, suffix = Path(path).name, "/.ATTRIBUTES/VARIABLE_VALUE"
        saved = {key: tuple(shape) for key, shape in shapes.items()
                 if key.startswith("model/") and key.endswith(suffix)}
        missing = []
        for key, variable in self._variables.items():
            stored = saved.pop("model/" + key.replace(".", "..").replace("/", "./") + suffix, None)
            if stored is None:
                missing.append(key)
            elif stored != tuple(variable.shape):
                return f"variable {key} has shape {stored} in {name} but {tuple(variable.shape)} in {model}"
        extra = [key[len("model/"):-len(suffix)].replace("./", "/").replace("..", ".") for key in sorted(saved)]
        for names, words in ((missing, f"is in {model} but not in {name}"),
                             (extra, f"is in {name} but not in {model}")):
            if names:
                more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
                return f"variable {names[0]}{more} {words}"
        return None

    def tidy(self) -> str:
        """Keep ``max_to_keep`` checkpoints and a ``checkpoint`` list that names the restored one.

        Call it after :meth:`restore_latest`, holding the run's lock (a resume). Checkpoints older
        than the restored one beyond ``max_to_keep`` (left by a kill between writing a checkpoint
        and listing it) are deleted, oldest first; newer ones that could not be restored are left
        as they are (and unlisted: the next save of that epoch replaces them). The list is
        rewritten atomically, with the times TensorFlow's ``CheckpointManager`` needs to delete the
        kept ones in turn, when it names another checkpoint or set; an unreadable list is moved
        aside first.

        Returns:
          What changed, in words (``""``: nothing).
        """
        if self.restored is None or not self.write:
            return ""
        restored = int(Path(self.restored).name.removeprefix("ckpt-"))
        on_disk = sorted((int(m[1]) for p in self.directory.glob("ckpt-*.index")
                          if (m := re.fullmatch(r"ckpt-(\d+)\.index", p.name))), reverse=True)
        older = [n for n in on_disk if n < restored]
        kept, surplus = [restored, *older[: self.max_to_keep - 1]], older[self.max_to_keep - 1:]
        for number in surplus:
            for file in self.directory.glob(f"ckpt-{number}.*"):
                if file.name == f"ckpt-{number}.index" or re.fullmatch(r"\.data-\d+-of-\d+", file.suffix):
                    file.unlink(missing_ok=True)
        done = [f"removed {', '.join(f'ckpt-{n}' for n in surplus)} (beyond the {self.max_to_keep} kept)"]
        done = done if surplus else []
        rewritten = self._write_list([f"ckpt-{n}" for n in sorted(kept)])
        return "; ".join(done + ([rewritten] if rewritten else []))

    def _write_list(self, wanted: list[str]) -> str | None:
        """Make ``checkpoints/checkpoint`` list ``wanted`` (oldest first), the last as the newest.

        Args:
          wanted: checkpoint names in the directory (``ckpt-4``), each with its ``.index`` file.

        Returns:
          What changed, in words (``None``: the list was already so).
        """
        listed = self.directory / "checkpoint"
        try:
            state = tf.train.get_checkpoint_state(str(self.directory))
        except (ValueError, tf.errors.OpError):
            aside = listed.with_name(f"checkpoint.unreadable-{int(time.time())}")
            listed.replace(aside)
            state, was = None, f"was unreadable, moved to {aside.name}"
        else:
            was = f"named {Path(state.model_checkpoint_path).name}" if state is not None else "was missing"
        if (state is None or Path(state.model_checkpoint_path).name != wanted[-1]
                or [Path(p).name for p in state.all_model_checkpoint_paths] != wanted
                or len(state.all_model_checkpoint_timestamps) != len(wanted)):
            times = [(self.directory / f"{name}.index").stat().st_mtime for name in wanted]
            proto = tf.compat.v1.train.generate_checkpoint_state_proto(
                os.path.abspath(self.directory), wanted[-1], all_model_checkpoint_paths=list(wanted),
                all_model_checkpoint_timestamps=times, last_preserved_timestamp=min(*times, time.time()) - 1.0)
            atomic_write_text(listed, str(proto))
            self._manager = None  # a manager made earlier would hold the old list
            return f"{listed.relative_to(self.directory.parent)} now names {wanted[-1]} ({was})"
        return None


def _failed_save(checkpointer: Checkpointer, epoch: int, error: BaseException):
    """Remove what the failed save of ``epoch`` wrote; return the ``DiskWriteError`` to raise.

    Its ``ckpt-<epoch>_temp/`` folder and ``checkpoint.tmp*`` files go, and its
    ``ckpt-<epoch>.*`` files unless the ``checkpoint`` list already names them
    (then the save itself was complete). The space needed is the size of the
    newest checkpoint left (the same variables), or of the variables.

    Args:
      checkpointer: the checkpointer whose save failed.
      epoch: the epoch it was saving.
      error: the ``OSError`` or ``tf.errors.OpError`` it raised.
    """
    from tfvae.errors import write_failure

    directory, name = checkpointer.directory, f"ckpt-{epoch}"
    shutil.rmtree(directory / f"{name}_temp", ignore_errors=True)
    partial = list(directory.glob("checkpoint.tmp*"))
    if name not in {Path(prefix).name for prefix in checkpointer._listed()[0]}:
        partial += directory.glob(f"{name}.*")  # "ckpt-2.*": not ckpt-20's files
    for path in partial:
        path.unlink(missing_ok=True)
    newest = next(iter(checkpointer.checkpoints()), None)
    size = sum(p.stat().st_size for p in directory.glob(f"{Path(newest).name}.*")) if newest else 0
    kept = f"the newest checkpoint is still {Path(newest).name}" if newest else "no checkpoint of this run was kept"
    return write_failure(directory / name, f"the checkpoint of epoch {epoch}", error,
                         size or _variable_bytes(checkpointer.model),
                         f"; its partial files were removed and {kept}: free some space, then continue with --resume")


def _variable_bytes(model: GenerativeModel) -> int:
    """The bytes of ``model``'s and its optimizer's variables (what a checkpoint holds)."""
    import math

    optimizers = [o for o in model.update_optimizers().values() if o is not None]
    variables = [*model.variables, *(v for optimizer in optimizers for v in optimizer.variables)]
    return sum(math.prod(variable.shape) * tf.as_dtype(variable.dtype).size for variable in variables)


def check_finite_weights(model: GenerativeModel, epoch: int) -> None:
    """Raise :class:`NonFiniteError` when a weight of ``model`` is NaN or infinite (nothing is saved then)."""
    variables = [v for v in model.trainable_variables]
    if not variables:
        return
    if not bool(tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables]))):
        bad = [v.path for v in variables if not bool(tf.reduce_all(tf.math.is_finite(v)))]
        raise NonFiniteError(
            f"the weights are not finite after epoch {epoch} ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); "
            "nothing of this epoch was saved: the newest checkpoint is the last good one. Lower the learning rate"
        )
