"""Pictures of a model as RGB arrays of a fixed pixel size, drawn with matplotlib.

Every ``plot_*`` function returns a ``uint8`` array ``[height, width, 3]``
whose size is exactly its ``size=(width, height)`` argument, ready for
:func:`tfvae.viz.save_png` or ``tf.summary.image``:

==============================  =============================================  =========================
name                            what                                           needs
==============================  =============================================  =========================
``reconstructions``             inputs beside ``E[p(x|E[q(z|x)])]``              any model
``stochastic_reconstructions``  each input, then decodes of ``z ~ q(z|x)``       a stochastic posterior
``prior_samples``               decodes of ``z ~ p(z)``                          a prior
``latent_manifold``             decodes of a grid over ``[-2, 2]^2``             a prior, ``latent_dim`` 2
``latent_pca``                  PCA of posterior means (codes), by label        any model
``interpolations``              decodes along the segment between two codes     a continuous latent
``latent_traversals``           one latent dimension varied at a time           a continuous latent
==============================  =============================================  =========================

:data:`PICTURES` maps those names to functions of ``(model, examples)``, and
:func:`draw_pictures` draws all that a model can (the others are listed
with the reason), which ``tfvae plot`` and
:class:`tfvae.viz.tensorboard.ImageLogger` use. Which set of pictures a
family gets is its catalogue's (:func:`tfvae.models.catalogue.catalogue`,
from ``model.capabilities``; ``tfvae train``'s end pictures come from the
same catalogue); a picture of the set that a model still cannot give (a
prior it lacks, a latent size) says why when drawn. Nothing is probed. Each picture decodes only
what it draws, a bounded chunk at a time (:mod:`tfvae.viz.latent`), so its
memory does not grow with the latent size.

Figures are drawn on matplotlib's Agg canvas directly
(``matplotlib.figure.Figure`` + ``FigureCanvasAgg``), never through
``pyplot``: no global backend is switched, no window opens, and nothing
happens at ``import tfvae``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfvae.metrics.capabilities import ModelCapabilityError
from tfvae.models.catalogue import catalogue_of, picture_names
from tfvae.random import as_seed
from tfvae.viz import latent
from tfvae.viz.grids import image_grid, save_png

__all__ = [
    "CONDITIONAL_PICTURES",
    "PICTURES",
    "PICTURE_TABLES",
    "SEQUENCE_PICTURES",
    "Examples",
    "Pictures",
    "draw_pictures",
    "plot_class_samples",
    "plot_conditional_reconstructions",
    "plot_interpolations",
    "plot_latent_manifold",
    "plot_latent_pca",
    "plot_latent_traversals",
    "plot_prior_samples",
    "plot_reconstructions",
    "plot_stochastic_reconstructions",
    "render",
    "write_pictures",
]

DPI = 100


def _figure(size: tuple[int, int]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = (int(s) for s in size)
    if width < 50 or height < 50:
        raise ValueError(f"size must be at least (50, 50) pixels, got {size}")
    fig = Figure(figsize=(_inches(width), _inches(height)), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _inches(pixels: int) -> float:
    """``pixels / DPI``, nudged up to the next float when ``inches * DPI`` falls just short of ``pixels``.

    228 / 100 * 100 is 227.99999999999997: matplotlib 3.11 rounds the canvas size, but 3.10 (the newest
    on Python 3.10) truncates it, and the picture would come out one pixel short.
    """
    inches = pixels / DPI
    while inches * DPI < pixels:
        inches = math.nextafter(inches, math.inf)
    return inches


def render(fig) -> np.ndarray:
    """Draw a matplotlib figure made here and return its pixels, ``uint8 [H, W, 3]``."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def _check_images(model, conditional: bool = False) -> tuple[int, int, int]:
    if not conditional:
        latent.require_unconditional(model)
    capabilities = model.capabilities
    if capabilities.sequences or capabilities.code_prior:  # e.g. TD-VAE: pictured by tfvae.viz.film_strip
        raise ModelCapabilityError(f"these pictures need an autoencoder of images; {type(model).__name__} is not one")
    if not capabilities.image_data:
        raise ModelCapabilityError(
            f"pictures of decoded data need images (H, W, 1 or 3); this model's data has shape {tuple(model.data_shape)}"
        )
    shape = tuple(model.data_shape)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ModelCapabilityError(f"pictures of decoded data need images (H, W, 1 or 3); this model's data has shape {shape}")
    return shape


def _show(ax, images, columns: int, title: str | None = None) -> None:
    grid = image_grid(images, columns=columns)
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def _first(x, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if len(x) < n:  # a tiny test split: this picture is skipped, the others are drawn
        raise ModelCapabilityError(f"need at least {n} examples, got {len(x)}")
    return x[:n]


def plot_reconstructions(model, x, num: int = 16, columns: int = 4, size=(800, 420)) -> np.ndarray:
    """Inputs (left) and their mean reconstructions (right) at the same grid positions.

    Args:
      model: any model of the Autoencoder contract (image data).
      x: at least ``num`` examples.
      num: how many inputs.
      columns: images per row in each panel.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model)
    x = _first(x, num)
    fig = _figure(size)
    left, right = fig.subplots(1, 2)
    _show(left, x, columns, "original")
    _show(right, latent.reconstructions(model, x), columns, "reconstruction  E[p(x | E[q(z|x)])]")
    fig.suptitle(f"{type(model).__name__}: originals and reconstructions", fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.86, wspace=0.06)
    return render(fig)


def plot_stochastic_reconstructions(
    model, x, num_inputs: int = 6, num_samples: int = 8, seed=None, size=(800, 580)
) -> np.ndarray:
    """Each input (first column) then ``num_samples`` decodes of different ``z ~ q(z|x)``.

    Args:
      model: a model with a stochastic posterior (image data).
      x: at least ``num_inputs`` examples.
      num_inputs: rows.
      num_samples: reconstructions per input.
      seed: an int for a reproducible picture, ``None`` for new draws.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model)
    x = _first(x, num_inputs)
    samples = latent.stochastic_reconstructions(model, x, num_samples, seed)  # [S, B, ...]
    rows = np.swapaxes(samples, 0, 1)  # [B, S, ...]
    fig = _figure(size)
    grid = fig.add_gridspec(1, 2, width_ratios=[1, num_samples])
    _show(fig.add_subplot(grid[0]), x, 1, "input")
    _show(fig.add_subplot(grid[1]), rows.reshape(-1, *rows.shape[2:]), num_samples, f"{num_samples} decodes of z ~ q(z|x)")
    fig.suptitle("stochastic reconstructions: the spread is the posterior's uncertainty", fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88, wspace=0.04)
    return render(fig)


def plot_prior_samples(model, num: int = 64, seed=None, size=(640, 680)) -> np.ndarray:
    """Decoder means of ``num`` codes drawn from the prior.

    Args:
      model: a model with a prior (image data).
      num: how many samples (a square number fills the grid).
      seed: an int for a reproducible picture, ``None`` for new draws.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model)
    images = latent.prior_samples(model, num, seed)
    fig = _figure(size)
    _show(fig.subplots(), images, int(np.ceil(np.sqrt(num))), f"{num} samples: E[p(x|z)], z ~ p(z)")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.94)
    return render(fig)


def plot_latent_manifold(model, steps: int = 15, limit: float = 2.0, size=(640, 660)) -> np.ndarray:
    """Decoder means on a ``steps x steps`` grid over ``[-limit, limit]^2`` (``latent_dim`` 2).

    Args:
      model: a model with a prior and ``latent_dim == 2`` (image data).
      steps: grid points per axis.
      limit: half-width of the square.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model)
    images, grid = latent.latent_manifold(model, steps, limit)
    tile = image_grid(images.reshape(-1, *images.shape[2:]), columns=steps, padding=0)
    fig = _figure(size)
    ax = fig.subplots()
    ax.imshow(tile[..., 0] if tile.shape[-1] == 1 else tile, cmap="gray", vmin=0, vmax=255,
              extent=(-limit, limit, -limit, limit), interpolation="nearest")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(f"latent manifold: E[p(x|z)] on a {steps}x{steps} grid over [-{limit:g}, {limit:g}]^2", fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.08, top=0.94)
    return render(fig)


def plot_latent_pca(model, x, labels=None, size=(720, 640)) -> np.ndarray:
    """Scatter of the posterior means (codes) on their first two principal components.

    Args:
      model: any model of the Autoencoder contract.
      x: the examples to encode (a few hundred to a few thousand).
      labels: optional int labels, one colour each (tab10).
      size: ``(width, height)`` in pixels.
    """
    means = latent.posterior_means(model, x)
    pca = latent.latent_pca(means)
    fig = _figure(size)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(pca.points[:, 0], pca.points[:, 1], s=6, alpha=0.6)
    else:
        from matplotlib import colormaps

        labels = np.asarray(labels)
        cmap = colormaps["tab10"]
        for i, label in enumerate(np.unique(labels)):
            chosen = labels == label
            ax.scatter(pca.points[chosen, 0], pca.points[chosen, 1], s=6, alpha=0.7, color=cmap(i % 10), label=str(label))
        ax.legend(markerscale=3, fontsize=8, loc="best", title="label", title_fontsize=8)
    what = "posterior means E[q(z|x)]" if model.capabilities.stochastic_encoder else "codes"
    ax.set_xlabel(f"PC1 ({100 * pca.explained[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * pca.explained[1]:.0f}% of variance)")
    ax.set_title(f"PCA of {len(means)} {what}, latent_dim {means.shape[1]}", fontsize=10)
    return render(fig)


def plot_interpolations(model, x, num_pairs: int = 6, steps: int = 10, size=(800, 480)) -> np.ndarray:
    """Rows: input ``a``, decodes along the segment from ``E[q(z|a)]`` to ``E[q(z|b)]``, input ``b``.

    Pairs are ``(x[0], x[1]), (x[2], x[3]), ...``.

    Args:
      model: any model of the Autoencoder contract (image data).
      x: at least ``2 * num_pairs`` examples.
      num_pairs: rows.
      steps: points on each segment, ends included.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model)
    x = _first(x, 2 * num_pairs)
    start, end = x[0::2], x[1::2]
    path = latent.interpolate(model, start, end, steps)
    fig = _figure(size)
    grid = fig.add_gridspec(1, 3, width_ratios=[1, steps, 1])
    _show(fig.add_subplot(grid[0]), start, 1, "a")
    _show(fig.add_subplot(grid[1]), path.reshape(-1, *path.shape[2:]), steps, "decodes of (1 - t) E[q(z|a)] + t E[q(z|b)]")
    _show(fig.add_subplot(grid[2]), end, 1, "b")
    fig.suptitle("linear interpolation in latent space", fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.86, wspace=0.04)
    return render(fig)


def plot_latent_traversals(
    model, x, max_dims: int = 10, steps: int = 9, span: float = 2.5, size=None
) -> np.ndarray:
    """One row per latent dimension (most active first), varied over ``+-span`` standard deviations.

    Only the ``rows * steps`` codes shown are decoded (the dimensions are
    ranked by encoding ``x`` alone).

    Args:
      model: a model of the Autoencoder contract with a continuous latent (image data).
      x: a batch (``N >= 2``) whose codes set each dimension's range; the
        other dimensions stay at the code of ``x[0]``.
      max_dims: rows (the most active dimensions).
      steps: values per dimension.
      span: half-width in standard deviations of the codes of ``x``.
      size: ``(width, height)`` in pixels; default ``(720, 100 + 64 * rows)``
        with ``rows = min(max_dims, latent_dim)``.
    """
    _check_images(model)
    latent.require_continuous_latent(model, "latent traversals")
    x = np.asarray(x, dtype=np.float32)
    if len(x) < 2:
        raise ValueError(f"need at least 2 examples, got {len(x)}")
    rows = min(int(max_dims), int(model.latent_dim))
    size = (720, 100 + 64 * rows) if size is None else size
    images, dims, values = latent.latent_traversals(model, x, steps=steps, span=span, max_dims=rows)
    h = images.shape[2]
    tile = image_grid(images.reshape(-1, *images.shape[2:]), columns=steps)
    fig = _figure(size)
    ax = fig.subplots()
    ax.imshow(tile[..., 0] if tile.shape[-1] == 1 else tile, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_yticks([1 + (h + 1) * i + h / 2 for i in range(len(dims))])
    ax.set_yticklabels([f"z{d + 1}  [{v[0]:+.1f}, {v[-1]:+.1f}]" for d, v in zip(dims, values)], fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"latent traversals around one code, +-{span:g} sd of {len(x)} codes per dimension", fontsize=10)
    fig.subplots_adjust(left=0.2, right=0.98, bottom=0.02, top=1 - 50 / fig.bbox.height)
    return render(fig)


@dataclass
class Examples:
    """What the pictures are drawn from.

    Attributes:
      x: images ``[N, H, W, C]`` in [0, 1] (a few hundred: the PCA uses them all,
        the grids the first few).
      labels: optional int labels ``[N]`` for the PCA colours.
      seed: seed of the random draws (``None``: new draws each time).
    """

    x: np.ndarray
    labels: np.ndarray | None = None
    seed: int | None = 0


def plot_rollout(model, x, seed: int = 0, num_examples: int = 6) -> np.ndarray:
    """Film strip of a sequence model: the first half of each sequence as context, then
    ``model.rollout`` jumping its default jump at a time (``max_jump`` with jump
    conditioning, else 1; ``model.rollout_settings()``), with the true frames at
    the same times underneath. ``uint8 [H, W, 3]``.

    Args:
      model: a model with ``capabilities.rollout`` (TD-VAE).
      x: sequences ``[B, T, *frame_shape]``.
      seed: seed of the rollout's draws.
      num_examples: rows (sequences) shown.
    """
    from tfvae.viz.filmstrip import film_strip

    if not model.capabilities.rollout:
        raise ModelCapabilityError(f"film strips need a sequence model with rollout (TD-VAE); not {type(model).__name__}")
    x = np.asarray(x[:num_examples], np.float32)
    context = max(1, x.shape[1] // 2)
    _, jump = model.rollout_settings()
    jump = int(jump)
    horizon = max(1, (x.shape[1] - context) // jump)
    future = np.asarray(model.rollout(x[:, :context], horizon, jump=jump, seed=seed))
    truth = x[:, context - 1 + jump :: jump][:, :horizon]
    strip = film_strip(x[:, :context], future, truth=truth if truth.shape[1] == horizon else None,
                       column_width=6 if x.ndim == 3 else 1)
    factor = max(1, min(-(-160 // strip.shape[0]), 640 // strip.shape[1]))  # enlarge small strips (vector frames)
    return np.repeat(np.repeat(strip, factor, axis=0), factor, axis=1)


def _labels_for(model, examples: Examples, num: int) -> np.ndarray:
    if examples.labels is None:
        raise ModelCapabilityError(f"{type(model).__name__} is conditional: its pictures need labelled examples")
    labels = np.asarray(examples.labels)
    if len(labels) < num:
        raise ModelCapabilityError(f"need at least {num} labelled examples, got {len(labels)}")
    return labels[:num].astype(np.int32)


def plot_conditional_reconstructions(model, x, labels, num: int = 16, columns: int = 4,
                                     size=(800, 420)) -> np.ndarray:
    """Inputs (left) and their mean reconstructions given their labels (right), for conditional models.

    Args:
      model: a conditional model (``capabilities.conditional``, image data).
      x: at least ``num`` examples.
      labels: their int labels.
      num: how many inputs (decoded in one call).
      columns: images per row in each panel.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model, conditional=True)
    x = _first(x, num)
    recon = np.asarray(model.reconstruct(x, condition=np.asarray(labels[:num], np.int32)))
    fig = _figure(size)
    left, right = fig.subplots(1, 2)
    _show(left, x, columns, "original")
    _show(right, recon, columns, "reconstruction  E[p(x | E[q(z|x,y)], y)]")
    fig.suptitle(f"{type(model).__name__}: originals and reconstructions given their labels", fontsize=11)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.86, wspace=0.06)
    return render(fig)


def plot_class_samples(model, per_class: int = 8, max_classes: int = 10, seed=None, size=(640, 680)) -> np.ndarray:
    """One row of prior samples per class ``y``: ``E[p(x|z, y)]``, ``z ~ p(z|y)``.

    Args:
      model: a conditional model with a prior (image data).
      per_class: samples per row.
      max_classes: at most this many classes (rows).
      seed: an int for a reproducible picture, ``None`` for new draws.
      size: ``(width, height)`` in pixels.
    """
    _check_images(model, conditional=True)
    if not model.capabilities.has_prior:
        raise ModelCapabilityError(f"{type(model).__name__} has no prior p(z|y) to sample")
    classes = np.repeat(np.arange(min(model.num_classes, max_classes), dtype=np.int32), per_class)
    images = np.asarray(model.sample(len(classes), condition=classes, seed=as_seed(seed)))  # None: new draws
    fig = _figure(size)
    _show(fig.subplots(), images, per_class, "one row per class: E[p(x|z,y)], z ~ p(z|y)")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.94)
    return render(fig)


PICTURES: dict[str, Callable[[object, Examples], np.ndarray]] = {
    "reconstructions": lambda model, ex: plot_reconstructions(model, ex.x),
    "stochastic_reconstructions": lambda model, ex: plot_stochastic_reconstructions(model, ex.x, seed=ex.seed),
    "prior_samples": lambda model, ex: plot_prior_samples(model, seed=ex.seed),
    "latent_manifold": lambda model, ex: plot_latent_manifold(model),
    "latent_pca": lambda model, ex: plot_latent_pca(model, ex.x, ex.labels),
    "interpolations": lambda model, ex: plot_interpolations(model, ex.x),
    "latent_traversals": lambda model, ex: plot_latent_traversals(model, ex.x),
}
"""Every picture of an autoencoder by name: ``PICTURES[name](model, examples) -> uint8 [H, W, 3]``."""

SEQUENCE_PICTURES: dict[str, Callable[[object, Examples], np.ndarray]] = {
    "rollout": lambda model, ex: plot_rollout(model, ex.x, seed=0 if ex.seed is None else int(ex.seed)),
}
"""Pictures of sequence models (TD-VAE), sized by their data: ``examples.x`` holds sequences."""

CONDITIONAL_PICTURES: dict[str, Callable[[object, Examples], np.ndarray]] = {
    "reconstructions": lambda model, ex: plot_conditional_reconstructions(model, ex.x, _labels_for(model, ex, 16)),
    "class_samples": lambda model, ex: plot_class_samples(model, seed=ex.seed),
}
"""Pictures of conditional models (CVAE): every decode is given a label."""

PICTURE_TABLES: dict[str, dict[str, Callable[[object, Examples], np.ndarray]]] = {
    "autoencoder": PICTURES,
    "conditional": CONDITIONAL_PICTURES,
    "sequence": SEQUENCE_PICTURES,
}
"""The drawing of each picture set of :data:`tfvae.models.catalogue.PICTURE_SETS`, by the same names."""


@dataclass
class Pictures:
    """Pictures drawn, and those the model cannot give, with the reason."""

    images: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def draw_pictures(model, examples: Examples, names: Sequence[str] | None = None) -> Pictures:
    """Draw every picture of the model's set (or ``names``) that ``model`` can give.

    The set is the model's catalogue's (:func:`tfvae.models.catalogue.catalogue`):
    an unconditional autoencoder gets :data:`PICTURES`, a sequence model with
    ``rollout`` (TD-VAE) :data:`SEQUENCE_PICTURES` (its film strip), a
    conditional model (CVAE) :data:`CONDITIONAL_PICTURES` (every decode given a
    label); a picture outside it is skipped with the catalogue's reason.

    Args:
      model: any model of the Autoencoder contract, or a sequence model.
      examples: the data to draw from.
      names: a subset of the pictures; default all.

    Raises:
      ValueError: an unknown picture name.
    """
    offer = catalogue_of(model)
    table = PICTURE_TABLES.get(offer.picture_set, {})
    names = list(offer.pictures) if names is None else list(names)
    known = picture_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown picture(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    pictures = Pictures()
    for name in names:
        if name not in table:
            pictures.skipped[name] = offer.skipped_pictures[name]
            continue
        try:
            pictures.images[name] = table[name](model, examples)
        except ModelCapabilityError as error:
            pictures.skipped[name] = str(error)
    return pictures


def write_pictures(directory: str | Path, pictures: Pictures) -> list[Path]:
    """Write each picture as ``<directory>/<name>.png`` (pixel for pixel); returns the paths.

    A picture whose pixels are all grey is written as a one-channel PNG (a
    third of the size).
    """
    paths = []
    for name, image in pictures.images.items():
        grey = image.shape[-1] == 3 and bool(np.all(image == image[..., :1]))
        paths.append(save_png(Path(directory) / f"{name}.png", image[..., :1] if grey else image, scale=1))
    return paths
