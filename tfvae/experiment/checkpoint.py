"""Checkpoints of a run: model weights, optimizer state, epoch and RNG state.

TensorFlow writes each checkpoint under a temporary name and only then lists
it in ``checkpoints/checkpoint``, so a run killed at any moment leaves
complete files and the previous checkpoint. ``restore_latest`` restores the
newest checkpoint that can be read (a truncated or garbage newest one is
skipped with a warning), and weights that are not finite are never saved.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import tensorflow as tf

from tfvae.experiment.run_dir import RunError
from tfvae.models.base import GenerativeModel, NonFiniteError


class Checkpointer:
    """``tf.train.CheckpointManager`` over the model, optimizer, epoch and RNG state.

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
        self.checkpoint = tf.train.Checkpoint(
            model=variables,
            optimizer=list(model.optimizer.variables),
            epoch=self.epoch,
        )
        self.directory = Path(directory)
        self.max_to_keep = max_to_keep
        self.model = model
        self._manager: tf.train.CheckpointManager | None = None
        #: why the ``checkpoint`` list could not be read at the last :meth:`checkpoints` (``None``: it could)
        self.list_error: Exception | None = None

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
        """
        check_finite_weights(self.model, epoch)
        self.epoch.assign(epoch)
        if self.write:
            return self.manager.save(checkpoint_number=epoch)
        scratch = tempfile.mkdtemp(prefix="tfvae-worker-checkpoint-")
        try:
            self.checkpoint.write(str(Path(scratch) / f"ckpt-{epoch}"))
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

    def restore_latest(self) -> int:
        """Restore the newest checkpoint that can be read; returns the number of epochs it had done.

        A newest checkpoint that is truncated, garbage or missing files is
        skipped with a warning naming it (and kept as it is); the next older
        one is restored.

        Raises:
          RunError: no checkpoint, or none can be restored (each one named, with why).
        """
        candidates = self.checkpoints()
        if not candidates:
            unreadable = f" (its checkpoint list could not be read: {self.list_error})" if self.list_error else ""
            raise RunError(f"no checkpoint in {self.directory}{unreadable}") from self.list_error
        failures = []
        last_error: Exception | None = None
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            # an unreadable file (OpError; IndexError: "Read less bytes than requested" of a truncated one),
            # variables missing (AssertionError) or of another shape (ValueError, KeyError): name it, try the next
            except (tf.errors.OpError, IndexError, AssertionError, ValueError, KeyError) as error:
                last_error = error
                first_line = (str(error).strip().splitlines() or [""])[0]
                failures.append(f"checkpoint {path} could not be restored ({type(error).__name__}: {first_line})")
                continue
            if failures:
                warnings.warn(
                    "; ".join(failures) + f"; restored the newest usable one, {path} (epoch {int(self.epoch.numpy())}). "
                    "The unreadable files are left as they are.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return int(self.epoch.numpy())
        raise RunError(
            "; ".join(failures) + ". No checkpoint there is usable; the files are left as they are: "
            "start a new run with --out"
        ) from last_error


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
