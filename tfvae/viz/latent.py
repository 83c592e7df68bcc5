"""The tensors behind the pictures: decodes of chosen codes, as numpy arrays.

Each function returns decoder means ``E[p(x|z)]`` (pixel intensities for
image data) for codes chosen to show one thing about the latent space. They
only use the Autoencoder contract (``encode``, ``decode``,
``posterior.sample``, and ``prior`` for the VAE family) and raise
:class:`tfvae.metrics.ModelCapabilityError` when the model cannot do it.
Random draws take an explicit ``seed`` (an int, or ``None`` for fresh
draws) and never touch the model's own seed generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.metrics.capabilities import (
    ModelCapabilityError,
    is_stochastic,
    prior_distribution,
    require_latent_dim,
    require_unconditional,
    seed_pair,
)

__all__ = [
    "PCAProjection",
    "interpolate",
    "latent_manifold",
    "latent_pca",
    "latent_traversals",
    "prior_samples",
    "reconstructions",
    "stochastic_reconstructions",
]


def _decode_mean(model, z) -> np.ndarray:
    return model.decode(tf.convert_to_tensor(z, tf.float32)).mean().numpy()


def reconstructions(model, x) -> np.ndarray:
    """``E[p(x | z = E[q(z|x)])]``, shaped like ``x``."""
    require_unconditional(model)
    return _decode_mean(model, model.encode(x).mean())


def stochastic_reconstructions(model, x, num_samples: int = 8, seed=None) -> np.ndarray:
    """Decode ``num_samples`` codes ``z ~ q(z|x)`` of each input: ``[S, B, *data_shape]``.

    The reconstructions differ from each other (and from call to call with
    ``seed=None``): the spread shows what the posterior is unsure about.

    Raises:
      ModelCapabilityError: the posterior is a point mass (deterministic autoencoder).
    """
    require_unconditional(model)
    q = model.encode(x)
    if not is_stochastic(q):
        raise ModelCapabilityError(f"{type(model).__name__} has a point-mass posterior: every reconstruction is the same")
    z = model.posterior.sample(q, int(num_samples), seed_pair(seed))
    return _decode_mean(model, z)


def prior_samples(model, num: int = 64, seed=None) -> np.ndarray:
    """Decode ``num`` codes drawn from the prior: ``[num, *data_shape]``.

    Raises:
      ModelCapabilityError: the model has no prior.
    """
    prior = prior_distribution(model)
    z = model.prior.sample(prior, int(num), seed_pair(seed))
    return _decode_mean(model, z)


def latent_manifold(model, steps: int = 15, limit: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Decode a ``steps x steps`` grid over ``[-limit, limit]^2`` of a 2-D latent space.

    Row ``i`` holds ``z_2 = grid[i]`` from top (``+limit``) to bottom
    (``-limit``), column ``j`` holds ``z_1 = grid[j]`` from left to right, so
    the picture reads like a plot with ``z_1`` across and ``z_2`` up.

    Returns:
      ``(images [steps, steps, *data_shape], grid [steps])``.

    Raises:
      ModelCapabilityError: no prior (the square would mean nothing), or
        ``latent_dim != 2``.
    """
    prior_distribution(model)
    require_latent_dim(model, 2, "the latent manifold")
    grid = np.linspace(-limit, limit, int(steps), dtype=np.float32)
    z1, z2 = np.meshgrid(grid, grid[::-1])
    z = np.stack([z1, z2], axis=-1).reshape(-1, 2)
    images = _decode_mean(model, z)
    return images.reshape(int(steps), int(steps), *images.shape[1:]), grid


@dataclass(frozen=True)
class PCAProjection:
    """Latent means projected on their first principal components.

    Attributes:
      points: ``[N, 2]`` coordinates on the first two components.
      explained: fraction of the total variance each of the two explains.
      components: ``[2, latent_dim]`` principal directions.
    """

    points: np.ndarray
    explained: np.ndarray
    components: np.ndarray


def latent_pca(means) -> PCAProjection:
    """PCA (by SVD of the centred means) of ``[N, latent_dim]`` codes to two dimensions.

    A one-dimensional code is shown as itself against zeros.
    """
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) < 2:
        raise ValueError(f"means must have shape (N >= 2, latent_dim), got {means.shape}")
    centred = means - means.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    total = float(np.sum(singular**2)) or 1.0
    components = vt[:2]
    if len(components) < 2:
        components = np.concatenate([components, np.zeros_like(components)])
        singular = np.concatenate([singular, [0.0]])
    # a deterministic sign: the largest loading of each component is positive
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]
    return PCAProjection(centred @ components.T, singular[:2] ** 2 / total, components)


def interpolate(model, x_start, x_end, steps: int = 10) -> np.ndarray:
    """Decode ``steps`` codes on the segment between the posterior means of two inputs.

    Args:
      model: any model of the Autoencoder contract.
      x_start, x_end: two batches ``(B, *data_shape)`` of the same size.
      steps: points on the segment, both ends included.

    Returns:
      ``[B, steps, *data_shape]``.
    """
    require_unconditional(model)
    z0 = model.encode(x_start).mean().numpy()
    z1 = model.encode(x_end).mean().numpy()
    t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[None, :, None]
    z = (1.0 - t) * z0[:, None, :] + t * z1[:, None, :]
    images = _decode_mean(model, z.reshape(-1, z0.shape[-1]))
    return images.reshape(z0.shape[0], int(steps), *images.shape[1:])


def latent_traversals(
    model, x, dims=None, steps: int = 9, span: float = 2.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vary one latent dimension at a time around the code of ``x[0]``.

    Dimension ``u`` goes over ``mean_u +- span * sd_u``, the spread of the
    posterior means of the batch ``x`` (about ``+-2.5`` for a VAE whose
    aggregate posterior matches its standard normal prior; for an
    autoencoder, the code's own scale), the other dimensions stay at the
    code of ``x[0]``.

    Args:
      model: any model of the Autoencoder contract.
      x: a batch ``(B >= 2, *data_shape)``; its codes set the ranges.
      dims: dimensions to traverse; default all, most active first.
      steps: values per dimension.
      span: half-width in standard deviations.

    Returns:
      ``(images [len(dims), steps, *data_shape], dims, values [len(dims), steps])``.
    """
    require_unconditional(model)
    means = model.encode(x).mean().numpy()
    centre, spread = means.mean(axis=0), means.std(axis=0)
    dims = np.argsort(-spread, kind="stable") if dims is None else np.asarray(dims, dtype=int)
    offsets = np.linspace(-span, span, int(steps), dtype=np.float32)
    values = centre[dims, None] + offsets[None, :] * spread[dims, None]
    z = np.repeat(means[:1], len(dims) * int(steps), axis=0).reshape(len(dims), int(steps), -1)
    z[np.arange(len(dims)), :, dims] = values
    images = _decode_mean(model, z.reshape(-1, means.shape[-1]))
    return images.reshape(len(dims), int(steps), *images.shape[1:]), dims, values
