"""The tensors behind the pictures: decodes of chosen codes, as numpy arrays.

Each function returns decoder means ``E[p(x|z)]`` (pixel intensities for
image data) for codes chosen to show one thing about the latent space. They
only use the Autoencoder contract (``encode``, ``decode``,
``posterior.sample``, and ``prior`` for the VAE family), ask
``model.capabilities`` what the model can give, and raise
:class:`tfvae.metrics.ModelCapabilityError` with the reason when a picture
would mean nothing for it. Random draws take an explicit ``seed`` (an int,
or ``None`` for fresh draws) and never touch the model's own seed generator.

**Bounded memory.** Each function decodes exactly the codes it returns
(a traversal: ``len(dims) * steps`` rows, whatever ``latent_dim``), and
encoders and decoders run on at most :data:`ENCODE_CHUNK` /
:data:`DECODE_CHUNK` rows at a time, so the peak memory of a picture does not
grow with the latent size or with how many pictures are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.metrics.capabilities import ModelCapabilityError
from tfvae.random import as_seed

__all__ = [
    "DECODE_CHUNK",
    "ENCODE_CHUNK",
    "PCAProjection",
    "interpolate",
    "latent_manifold",
    "latent_pca",
    "latent_traversals",
    "posterior_means",
    "prior_samples",
    "reconstructions",
    "require_continuous_latent",
    "require_unconditional",
    "stochastic_reconstructions",
]

#: most codes decoded in one decoder call (one call's activations are what a picture holds at a time)
DECODE_CHUNK = 64
#: most examples encoded in one encoder call
ENCODE_CHUNK = 128


def _name(model) -> str:
    return type(model).__name__


def require_unconditional(model) -> None:
    """Raise for conditional models (e.g. ``ConditionalVAE``): the pictures do not feed a condition.

    Args:
      model: any model of the contract.

    Raises:
      ModelCapabilityError: ``model.capabilities.conditional``.
    """
    if model.capabilities.conditional:
        raise ModelCapabilityError(
            f"{_name(model)} is conditional (it needs a label with every example); "
            "tfvae.metrics and tfvae.viz support unconditional models only"
        )


def require_continuous_latent(model, what: str) -> None:
    """Raise unless the model's code is a vector of continuous dimensions.

    Args:
      model: any model of the contract.
      what: the picture, for the message.

    Raises:
      ModelCapabilityError: the code is a map of discrete codebook entries (VQ-VAE).
    """
    capabilities = model.capabilities
    if capabilities.discrete_codes:
        raise ModelCapabilityError(
            f"no {what}: {_name(model)}'s code is a map of discrete codebook entries, not a continuous latent "
            "vector; its single numbers (or points between two codes) mean nothing to its decoder"
        )
    if not capabilities.continuous_latent:
        raise ModelCapabilityError(f"no {what}: {_name(model)} has no continuous latent vector per example")


def _require_prior(model, what: str):
    """The prior ``p(z)``, or the reason there is none."""
    require_unconditional(model)
    capabilities = model.capabilities
    if not capabilities.has_prior:
        reason = f"{_name(model)} has no prior p(z) for {what}"
        if capabilities.needs_trained_prior:
            reason += " (it samples through a separately trained prior over its codes: tfvae sample RUN)"
        else:
            reason += " (only the VAE family has one)"
        raise ModelCapabilityError(reason)
    return model.prior_distribution()


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _decode_mean(model, z, chunk_size: int | None = None) -> np.ndarray:
    """``E[p(x|z)]`` of ``[N, latent_dim]`` codes, ``chunk_size`` (default :data:`DECODE_CHUNK`) rows per call."""
    z = np.asarray(z, dtype=np.float32)
    out = None
    for part in _chunks(len(z), int(chunk_size or DECODE_CHUNK)):
        mean = model.decode(tf.convert_to_tensor(z[part])).mean().numpy()
        if out is None:
            out = np.empty((len(z), *mean.shape[1:]), mean.dtype)
        out[part] = mean
    if out is None:
        raise ValueError("no codes to decode")
    return out


def posterior_means(model, x, chunk_size: int | None = None) -> np.ndarray:
    """``E[q(z|x)]`` (the codes of an autoencoder) ``[N, latent_dim]``, encoded ``chunk_size`` rows at a time.

    Args:
      model: any model of the Autoencoder contract.
      x: examples ``(N, *data_shape)``.
      chunk_size: examples per encoder call (default :data:`ENCODE_CHUNK`).
    """
    require_unconditional(model)
    x = np.asarray(x, dtype=np.float32)
    out = np.empty((len(x), int(model.latent_dim)), np.float32)
    for part in _chunks(len(x), int(chunk_size or ENCODE_CHUNK)):
        out[part] = model.embed(x[part]).numpy()
    return out


def reconstructions(model, x, chunk_size: int | None = None) -> np.ndarray:
    """``E[p(x | z = E[q(z|x)])]`` (the model's ``reconstruct``), shaped like ``x``, ``chunk_size`` rows per call.

    Args:
      model: any model of the Autoencoder contract.
      x: examples ``(N, *data_shape)``.
      chunk_size: examples per call (default: the smaller of :data:`ENCODE_CHUNK` and :data:`DECODE_CHUNK`).
    """
    require_unconditional(model)
    x = np.asarray(x, dtype=np.float32)
    size = int(chunk_size or min(ENCODE_CHUNK, DECODE_CHUNK))
    parts = [np.asarray(model.reconstruct(x[part])) for part in _chunks(len(x), size)]
    if not parts:
        raise ValueError("no examples to reconstruct")
    return np.concatenate(parts)


def stochastic_reconstructions(model, x, num_samples: int = 8, seed=None) -> np.ndarray:
    """Decode ``num_samples`` codes ``z ~ q(z|x)`` of each input: ``[S, B, *data_shape]``.

    The reconstructions differ from each other (and from call to call with
    ``seed=None``): the spread shows what the posterior is unsure about.

    Args:
      model: a model with a stochastic encoder.
      x: examples ``(B, *data_shape)`` (a few: ``S * B`` codes are decoded).
      num_samples: codes drawn per input.
      seed: an int for reproducible draws, ``None`` for new ones.

    Raises:
      ModelCapabilityError: the posterior is a point mass (deterministic autoencoder, VQ-VAE).
    """
    require_unconditional(model)
    if not model.capabilities.stochastic_encoder:
        raise ModelCapabilityError(f"{_name(model)} has a point-mass posterior: every reconstruction is the same")
    q = model.encode(np.asarray(x, dtype=np.float32))
    z = model.posterior.sample(q, int(num_samples), as_seed(seed)).numpy()  # [S, B, latent_dim]
    images = _decode_mean(model, z.reshape(-1, z.shape[-1]))
    return images.reshape(*z.shape[:2], *images.shape[1:])


def prior_samples(model, num: int = 64, seed=None) -> np.ndarray:
    """Decode ``num`` codes drawn from the prior: ``[num, *data_shape]``.

    Args:
      model: a model with a prior (``model.capabilities.has_prior``).
      num: how many samples.
      seed: an int for reproducible draws, ``None`` for new ones.

    Raises:
      ModelCapabilityError: the model has no prior of its own (an autoencoder;
        a VQ-VAE, whose prior is trained separately).
    """
    prior = _require_prior(model, "samples")
    z = model.prior.sample(prior, int(num), as_seed(seed))
    return _decode_mean(model, z)


def latent_manifold(model, steps: int = 15, limit: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Decode a ``steps x steps`` grid over ``[-limit, limit]^2`` of a 2-D latent space.

    Row ``i`` holds ``z_2 = grid[i]`` from top (``+limit``) to bottom
    (``-limit``), column ``j`` holds ``z_1 = grid[j]`` from left to right, so
    the picture reads like a plot with ``z_1`` across and ``z_2`` up.

    Args:
      model: a model with a prior and ``latent_dim == 2``.
      steps: grid points per axis.
      limit: half-width of the square.

    Returns:
      ``(images [steps, steps, *data_shape], grid [steps])``.

    Raises:
      ModelCapabilityError: no prior (the square would mean nothing), or
        ``latent_dim != 2``.
    """
    _require_prior(model, "the latent manifold")
    require_continuous_latent(model, "the latent manifold")
    if int(model.latent_dim) != 2:
        raise ModelCapabilityError(f"the latent manifold needs latent_dim == 2; this model has latent_dim {model.latent_dim}")
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
    """PCA of ``[N, latent_dim]`` codes to two dimensions.

    With ``latent_dim <= N`` by SVD of the centred means; with a wider code
    (a VQ-VAE's flattened code maps) through the ``N x N`` Gram matrix, so the
    work space is ``N^2``, not ``latent_dim^2``. A one-dimensional code is shown
    as itself against zeros.

    Args:
      means: ``[N >= 2, latent_dim]`` codes.
    """
    means = np.asarray(means)
    if means.ndim != 2 or len(means) < 2:
        raise ValueError(f"means must have shape (N >= 2, latent_dim), got {means.shape}")
    if means.shape[1] <= means.shape[0]:
        centred = means.astype(np.float64)
        centred -= centred.mean(axis=0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        total = float(np.sum(singular**2)) or 1.0
        components = vt[:2]
    else:  # keep the codes' own dtype: a float64 copy would double the largest array
        centred = means - means.mean(axis=0, dtype=np.float64).astype(means.dtype)
        gram = np.zeros((len(centred), len(centred)))
        for part in _chunks(centred.shape[1], 1024):
            block = centred[:, part].astype(np.float64)
            gram += block @ block.T
        eigenvalues, vectors = np.linalg.eigh(gram)  # ascending
        total = float(np.trace(gram)) or 1.0
        top = np.clip(eigenvalues[::-1][:2], 0.0, None)
        singular = np.sqrt(top)
        directions = vectors[:, ::-1][:, :2]  # [N, 2]
        components = (directions.T @ centred) / np.where(singular > 0, singular, 1.0)[:, None]
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
      model: any model of the Autoencoder contract with a continuous latent.
      x_start, x_end: two batches ``(B, *data_shape)`` of the same size.
      steps: points on the segment, both ends included.

    Returns:
      ``[B, steps, *data_shape]``.

    Raises:
      ModelCapabilityError: discrete codes (points between two code maps are
        not codes).
    """
    require_continuous_latent(model, "interpolations")
    z0 = posterior_means(model, x_start)
    z1 = posterior_means(model, x_end)
    t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[None, :, None]
    z = (1.0 - t) * z0[:, None, :] + t * z1[:, None, :]
    images = _decode_mean(model, z.reshape(-1, z0.shape[-1]))
    return images.reshape(z0.shape[0], int(steps), *images.shape[1:])


def latent_traversals(
    model, x, dims=None, steps: int = 9, span: float = 2.5, max_dims: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vary one latent dimension at a time around the code of ``x[0]``.

    Dimension ``u`` goes over ``mean_u +- span * sd_u``, the spread of the
    posterior means of the batch ``x`` (about ``+-2.5`` for a VAE whose
    aggregate posterior matches its standard normal prior; for an
    autoencoder, the code's own scale), the other dimensions stay at the
    code of ``x[0]``. Without ``dims`` the dimensions are ranked by that
    spread ``Var_x(E[q(z_u|x)])`` (Burda et al.'s activity), which needs
    only encoding; only the shown ``len(dims) * steps`` codes are decoded.

    Args:
      model: any model of the Autoencoder contract with a continuous latent.
      x: a batch ``(B >= 2, *data_shape)``; its codes set the ranges.
      dims: dimensions to traverse; default the most active ones.
      steps: values per dimension.
      span: half-width in standard deviations.
      max_dims: without ``dims``, how many of the most active dimensions
        (default all ``latent_dim``).

    Returns:
      ``(images [len(dims), steps, *data_shape], dims, values [len(dims), steps])``.

    Raises:
      ModelCapabilityError: discrete codes (a VQ-VAE) or a conditional model.
    """
    require_unconditional(model)
    require_continuous_latent(model, "latent traversals")
    means = posterior_means(model, x)
    centre, spread = means.mean(axis=0), means.std(axis=0)
    if dims is None:
        dims = np.argsort(-spread, kind="stable")
        dims = dims if max_dims is None else dims[: max(1, int(max_dims))]
    else:
        dims = np.asarray(dims, dtype=int)
    offsets = np.linspace(-span, span, int(steps), dtype=np.float32)
    values = centre[dims, None] + offsets[None, :] * spread[dims, None]
    z = np.repeat(means[:1], len(dims) * int(steps), axis=0).reshape(len(dims), int(steps), -1)
    z[np.arange(len(dims)), :, dims] = values
    images = _decode_mean(model, z.reshape(-1, means.shape[-1]))
    return images.reshape(len(dims), int(steps), *images.shape[1:]), dims, values
