"""The pictures as TensorBoard image summaries, once, or at the end of every N epochs.

::

    logger = ImageLogger("runs/vae/logs/images", x_test[:500], labels=y_test[:500], every=1)
    model.fit(train, epochs=20, callbacks=[logger])            # Keras fit
    train_loop(model, train, epochs=20, callbacks=[logger])    # or the custom loop

Then ``tensorboard --logdir runs`` shows them under *Images*, one frame per
epoch (the step is the number of epochs done). The stochastic pictures use
the same fixed seed every epoch, so frames differ only by what the model
learned; the model's own seed generator is never touched, so logging images
does not change a training run's random stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.viz.plots import Examples, Pictures, draw_pictures

__all__ = ["ImageLogger", "log_pictures"]


def log_pictures(writer: tf.summary.SummaryWriter, pictures: Pictures, step: int) -> None:
    """Write each picture as a ``tf.summary.image`` named after it, at ``step``.

    Args:
      writer: a ``tf.summary.create_file_writer(...)`` writer.
      pictures: from :func:`tfvae.viz.draw_pictures`.
      step: the TensorBoard step (epochs done, for training).
    """
    with writer.as_default(step=int(step)):
        for name, image in pictures.images.items():
            tf.summary.image(name, image[None], max_outputs=1)
    writer.flush()


class ImageLogger(keras.callbacks.Callback):
    """Keras callback: the pictures of :mod:`tfvae.viz.plots` to TensorBoard at epoch ends.

    Works with ``model.fit(..., callbacks=[logger])`` and with
    :func:`tfvae.loops.train_loop` (which calls ``on_epoch_end``). Pictures the
    model cannot give (e.g. prior samples of an autoencoder, traversals of a
    VQ-VAE's discrete codes) are left out; :attr:`skipped` says why. Each
    picture decodes only what it draws, :data:`tfvae.viz.latent.DECODE_CHUNK`
    codes at a time, and encodes ``examples`` in chunks of
    :data:`tfvae.viz.latent.ENCODE_CHUNK`, so the memory an epoch end takes
    does not grow with the latent size.

    Args:
      log_dir: TensorBoard log directory (e.g. ``runs/<name>/logs/images``).
      examples: images ``[N, H, W, C]`` in [0, 1] to draw from (a few hundred:
        all go into the PCA scatter; the grids use the first few).
      labels: optional int labels ``[N]`` for the PCA colours.
      every: log at the end of every ``every``-th epoch.
      seed: seed of the random draws, the same each epoch.
      names: pictures to log (names of :data:`tfvae.viz.PICTURES`); default all.
    """

    def __init__(
        self,
        log_dir: str | Path,
        examples,
        labels=None,
        every: int = 1,
        seed: int = 0,
        names: Sequence[str] | None = None,
    ):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.log_dir = Path(log_dir)
        self.examples = Examples(
            np.asarray(examples, dtype=np.float32), None if labels is None else np.asarray(labels), int(seed)
        )
        self.every = int(every)
        self.names = None if names is None else list(names)
        self.skipped: dict[str, str] = {}
        self._writer: tf.summary.SummaryWriter | None = None

    @property
    def writer(self) -> tf.summary.SummaryWriter:
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        return self._writer

    def writing(self):
        """The context every write runs in (a subclass turns a failed write into its own error)."""
        return contextlib.nullcontext()

    def on_epoch_end(self, epoch, logs=None):
        done = int(epoch) + 1
        if done % self.every:
            return
        pictures = draw_pictures(self.model, self.examples, self.names)
        self.skipped = pictures.skipped
        with self.writing():
            log_pictures(self.writer, pictures, done)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            with self.writing():
                self._writer.flush()
