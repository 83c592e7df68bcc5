"""Progress bars that count the steps (or examples) really done and never pass their total.

Keras' own ``ProgbarLogger`` reports, after each ``tf.function`` call of
``fit`` / ``evaluate`` / ``predict``, the index of the last step that call
*would* run: with ``steps_per_execution=32`` over 40 steps it shows ``32/40``,
then ``64/40`` (the second call ran only 8 steps) and a negative ETA, and only
the end of the epoch puts it back to ``40/40``. Every bar tfvae shows is one of
the two classes here instead, with Keras' look:

- :class:`Progbar`: ``keras.utils.Progbar`` whose count never passes its
  target nor goes back (the custom loop of :mod:`tfvae.loops` and
  :func:`tfvae.metrics.evaluate_model` use it);
- :class:`ProgressLogger`: the ``ProgbarLogger`` that
  :meth:`tfvae.models.GenerativeModel.fit` (and ``evaluate``, ``predict``)
  pass to Keras, which then adds no bar of its own: it caps Keras' step index
  at the number of steps of the epoch, and in training on data of unknown
  length counts the steps really taken (``model.steps_done``).

Example::

    model.fit(x, epochs=2, callbacks=[tfvae.progress.ProgressLogger()])  # what GenerativeModel.fit does itself
"""

from __future__ import annotations

import keras
import tensorflow as tf

try:  # Keras' printer: stdout, or absl logging when interactive logging is off
    from keras.src.utils.io_utils import print_msg as _print
except ImportError:  # pragma: no cover  (a Keras that moved it)
    _print = print

__all__ = ["Progbar", "ProgressLogger", "with_progress_logger"]


class _EveryName(frozenset):
    """A set that holds every name. As a Progbar's ``stateful_metrics`` it shows each logged value
    as it is, on every Keras 3 (``stateless_metrics=set()`` says the same, from Keras 3.15 only)."""

    def __contains__(self, item) -> bool:
        return True


_EVERY_NAME = _EveryName()


class Progbar(keras.utils.Progbar):
    """``keras.utils.Progbar`` whose count stays within ``[count so far, target]``.

    ``update(current, ...)`` shows ``min(current, target)`` (``target=None``:
    no cap) and never less than the count already shown, so a caller whose
    last step (or batch) is shorter than the others cannot overshoot the bar.
    Once the bar is finished (its target reached, or ``finalize=True``) later
    updates are ignored: its line is not drawn twice.
    """

    def update(self, current, values=None, finalize=None):
        if getattr(self, "_finished", False):
            return
        current = max(current, self._seen_so_far)
        if self.target is not None:
            current = min(current, self.target)
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        super().update(current, values, finalize)
        self._finished = bool(finalize)

    def finish(self, current, values=None) -> None:
        """End the bar at ``current`` (its target becomes ``current`` when it was unknown)."""
        if self.target is None:
            self.target = max(current, self._seen_so_far)
        self.update(current, values, finalize=True)


def _step_counter(model):
    """The model's counter of training steps taken (``GenerativeModel.steps_done``), or ``None``."""
    return getattr(model, "steps_done", None)


def _read(variable) -> int:
    """A scalar variable's value (also a mirrored one under ``tf.distribute``)."""
    return int(tf.convert_to_tensor(getattr(variable, "value", variable)).numpy())


class ProgressLogger(keras.callbacks.ProgbarLogger):
    """Keras' ``ProgbarLogger`` counting the steps really run under ``steps_per_execution``.

    A subclass, so Keras' ``CallbackList`` sees it and adds no bar of its own;
    the output is Keras' otherwise (one bar per epoch, ``Epoch i/n`` above it
    when there are several, validation silent inside ``fit``).

    After a call of ``steps_per_execution`` steps Keras reports the index of
    the last step the call would have run; the last call of an epoch may run
    fewer. The count shown is that index capped at the epoch's number of
    steps, which is exact whenever that number is known. When it is not (data
    of unknown length, first epoch), training steps are counted from the
    model's ``steps_done`` variable (read once per call), and the number found
    becomes the target of the following epochs. An epoch stopped early
    (``model.stop_training``) ends its bar at the steps it ran.
    """

    def __init__(self):
        super().__init__()
        self._bar: Progbar | None = None
        self._in_fit = False
        self._counter_start: int | None = None

    # -- the bar ------------------------------------------------------------------
    def _reset(self):
        self._bar = None
        self.progbar = None
        self.seen = 0

    def _ensure_bar(self) -> Progbar:
        if self._bar is None:
            self._bar = Progbar(target=self.target, verbose=self.verbose, unit_name="step")
            self._bar.stateful_metrics = _EVERY_NAME  # each value shown as logged, not averaged again
            self.progbar = self._bar
        return self._bar

    def _show(self, count: int, logs) -> None:
        bar = self._ensure_bar()
        if self.target is not None:
            count = min(count, self.target)
        self.seen = max(self.seen, count)
        if self.verbose == 1:
            bar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finish(self, logs) -> None:
        bar = self._ensure_bar()
        if self.target is None:  # known from now on: the next epochs show it
            self.target = self.seen
        bar.target = self.target
        count = self.seen if 0 < self.seen < self.target else self.target
        bar.update(count, list((logs or {}).items()), finalize=True)

    # -- training -------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True  # validation inside fit is silent, as in Keras

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._reset()
        counter = _step_counter(self.model) if self.target is None and self.verbose else None
        self._counter_start = None if counter is None else _read(counter)
        self._ensure_bar()
        if self.verbose and self.epochs > 1:
            _print(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        count = batch + 1
        if self._counter_start is not None:  # unknown length: the steps the model really took
            taken = _read(_step_counter(self.model)) - self._counter_start
            if taken > 0:  # (a train_step of its own that leaves the counter alone: Keras' index)
                count = min(count, taken)
        self._show(count, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    # -- evaluate and predict ---------------------------------------------------------
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._reset()
            self._ensure_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._show(batch + 1, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._reset()
        self._ensure_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._show(batch + 1, None)  # not the predictions

    def on_predict_end(self, logs=None):
        self._finish(logs)


def with_progress_logger(callbacks):
    """A list of ``callbacks`` with a :class:`ProgressLogger` (unless a ``ProgbarLogger`` is there).

    A ``keras.callbacks.CallbackList`` is returned as it is: Keras adds no bar
    to one either (the ``fit`` that runs its validation passes its own).
    """
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks
    callbacks = list(callbacks or [])
    if not any(isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks):
        callbacks.append(ProgressLogger())
    return callbacks
