"""Pictures of models: image grids, latent-space plots (PNG) and TensorBoard images.

- :mod:`tfvae.viz.grids`: ``image_grid`` / ``save_png`` (uint8 tiles, PNG files);
- :mod:`tfvae.viz.latent`: the decodes behind the pictures (numpy arrays);
- :mod:`tfvae.viz.plots`: the pictures themselves, fixed-size RGB arrays drawn
  with matplotlib, and :data:`PICTURES` / :func:`draw_pictures`;
- :mod:`tfvae.viz.tensorboard`: ``log_pictures`` and the ``ImageLogger`` callback.
"""

from tfvae.viz.filmstrip import film_strip
from tfvae.viz.grids import image_grid, save_png
from tfvae.viz.plots import (
    PICTURES,
    Examples,
    Pictures,
    draw_pictures,
    plot_interpolations,
    plot_latent_manifold,
    plot_latent_pca,
    plot_latent_traversals,
    plot_prior_samples,
    plot_reconstructions,
    plot_stochastic_reconstructions,
    write_pictures,
)
from tfvae.viz.tensorboard import ImageLogger, log_pictures

__all__ = [
    "PICTURES",
    "Examples",
    "ImageLogger",
    "Pictures",
    "draw_pictures",
    "film_strip",
    "image_grid",
    "log_pictures",
    "plot_interpolations",
    "plot_latent_manifold",
    "plot_latent_pca",
    "plot_latent_traversals",
    "plot_prior_samples",
    "plot_reconstructions",
    "plot_stochastic_reconstructions",
    "save_png",
    "write_pictures",
]
