"""The catalogue: which pictures, metrics and samples a family gets, decided once, from its capabilities.

Every consumer asks :func:`catalogue` instead of deciding for itself:

- ``tfvae train``'s end pictures (:attr:`Catalogue.run_pictures`), and the
  pictures of ``tfvae plot`` and of the TensorBoard ``ImageLogger``
  (:attr:`Catalogue.picture_set`, drawn by :func:`tfvae.viz.draw_pictures`);
- :func:`tfvae.metrics.evaluate_model` and ``tfvae evaluate``
  (:attr:`Catalogue.metrics`, with the reason for each one left out in
  :attr:`Catalogue.skipped_metrics`);
- ``tfvae sample`` (:attr:`Catalogue.samples`).

The catalogue reads :class:`~tfvae.models.contract.Capabilities` only (never
a model class), so a new family gets its pictures, metrics and samples by
declaring what it can do. Three declarations are kept apart: a model that
can sample (``has_prior``, ``needs_trained_prior``) is not thereby scored by
a likelihood bound (``likelihood_bound``), and neither makes it an
autoencoder (``autoencoder``).

Example::

    from tfvae.models.catalogue import catalogue_of
    offer = catalogue_of(model)
    offer.metrics        # ("active_units", "mse", "bce", "reconstruction_nll", "elbo", "iwae_nll", "kl_per_dim")
    offer.samples        # "prior", "trained_prior" or None
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tfvae.models.contract import Capabilities

__all__ = [
    "BOUND_METRICS",
    "PICTURE_SETS",
    "RECONSTRUCTION_METRICS",
    "Catalogue",
    "catalogue",
    "catalogue_of",
    "no_bound_reason",
    "picture_names",
]

#: The pictures of each kind of model (``tfvae plot``, TensorBoard), by set; :mod:`tfvae.viz.plots` draws each name.
PICTURE_SETS: Mapping[str, tuple[str, ...]] = {
    "autoencoder": ("reconstructions", "stochastic_reconstructions", "prior_samples", "latent_manifold",
                    "latent_pca", "interpolations", "latent_traversals"),
    "conditional": ("reconstructions", "class_samples"),
    "sequence": ("rollout",),
}
#: What a likelihood bound gives: the ELBO with its distortion and rate, the IWAE estimate, the KL per dimension.
BOUND_METRICS = ("elbo", "iwae_nll", "kl_per_dim")
#: Errors of the mean reconstruction over every data dimension.
RECONSTRUCTION_METRICS = ("mse", "bce", "reconstruction_nll")
#: Errors over the observed entries only (``masked_data``: zeros are unobserved).
MASKED_METRICS = ("masked_mse", "masked_rmse")


def picture_names() -> tuple[str, ...]:
    """Every picture name of every set, each once, in table order (what ``tfvae plot --only`` accepts)."""
    return tuple(dict.fromkeys(name for names in PICTURE_SETS.values() for name in names))


def no_bound_reason(capabilities: Capabilities, name: str) -> str:
    """Why a model is not scored by an ELBO or IWAE bound, in words (skipped metrics, errors)."""
    why = "it can sample its prior, but " if capabilities.has_prior else ""
    return (f"{name} declares no likelihood bound ({why}capabilities.likelihood_bound is False): "
            "the ELBO and the IWAE estimate are not defined for it")


@dataclass(frozen=True)
class Catalogue:
    """What one family gets.

    Attributes:
      picture_set: the key of :data:`PICTURE_SETS` whose pictures ``tfvae plot``
        and TensorBoard draw (``None``: none).
      skipped_pictures: ``{picture: why}`` for every other picture name.
      run_pictures: the pictures ``tfvae train`` writes into the run at its
        end: ``rollout`` (a film strip), ``reconstructions`` (originals and
        reconstructions, row by row), ``samples`` (decoded prior draws).
      metrics: what :func:`tfvae.metrics.evaluate_model` and ``tfvae evaluate``
        report: names of :data:`BOUND_METRICS`, :data:`RECONSTRUCTION_METRICS`,
        :data:`MASKED_METRICS`, ``own_terms`` (the model's own per-example
        terms), ``active_units``, and ``vq_bound`` (the bound of a VQ-VAE
        through a prior over its codes).
      skipped_metrics: ``{metric: why}`` for the metrics left out.
      samples: how ``tfvae sample`` samples: ``"prior"`` (``model.sample``),
        ``"trained_prior"`` (through the prior trained by ``tfvae train
        vq_prior``) or ``None`` (``no_samples`` says why).
      no_samples: why there are no samples (``""`` when there are).
    """

    picture_set: str | None
    skipped_pictures: Mapping[str, str]
    run_pictures: tuple[str, ...]
    metrics: tuple[str, ...]
    skipped_metrics: Mapping[str, str] = field(default_factory=dict)
    samples: str | None = None
    no_samples: str = ""

    @property
    def pictures(self) -> tuple[str, ...]:
        """The names of the pictures of :attr:`picture_set`, in table order."""
        return PICTURE_SETS.get(self.picture_set, ())


def _picture_set(can: Capabilities, name: str) -> tuple[str | None, dict[str, str]]:
    """The picture set of a model and why every picture outside it is left out."""
    if can.rollout:
        chosen, why = "sequence", f"{name} is a sequence model: its picture is the rollout film strip"
    elif can.conditional and can.autoencoder:
        chosen, why = "conditional", f"{name} is conditional: this picture does not give its decoder labels"
    elif can.autoencoder:
        chosen, why = "autoencoder", None
    else:
        chosen, why = None, f"{name} is neither an autoencoder nor a sequence model with a rollout"
    skipped = {}
    for picture in picture_names():
        if picture in PICTURE_SETS.get(chosen, ()):
            continue
        if why is not None:
            skipped[picture] = why
        elif picture in PICTURE_SETS["sequence"]:
            skipped[picture] = f"{name} is not a sequence model (it has no rollout)"
        else:
            skipped[picture] = f"{name} is not conditional: {picture} gives its decoder labels"
    return chosen, skipped


def _metrics(can: Capabilities, name: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """What evaluation reports for a model, and why it leaves the rest out."""
    metrics: list[str] = []
    skipped: dict[str, str] = {}
    if can.conditional or not can.autoencoder:  # its own terms: given the labels, or of a whole sequence
        why = (f"{name} is conditional: its own terms given the labels are reported" if can.conditional
               else f"{name} has no per-example encoder and decoder")
        skipped.update(dict.fromkeys((*RECONSTRUCTION_METRICS, "iwae_nll", "kl_per_dim"), why))
        metrics.append("own_terms")
        if can.autoencoder:
            metrics.append("active_units")
        else:
            skipped["active_units"] = f"{name} has no per-example code"
    else:
        metrics.append("active_units")
        if can.masked_data:
            metrics.extend(MASKED_METRICS)
            why = ("zeros are unobserved entries: errors are averaged over observed entries only "
                   "(masked_mse, masked_rmse)")
            skipped.update(dict.fromkeys(RECONSTRUCTION_METRICS, why))
        else:
            metrics.extend(RECONSTRUCTION_METRICS)
        if can.likelihood_bound:
            metrics.extend(BOUND_METRICS)
        else:
            skipped.update(dict.fromkeys(BOUND_METRICS, no_bound_reason(can, name)))
            if not can.masked_data:
                metrics.append("own_terms")
    if can.needs_trained_prior:
        metrics.append("vq_bound")
    return tuple(metrics), skipped


def catalogue(capabilities: Capabilities, name: str = "this model") -> Catalogue:
    """The pictures, metrics and samples of a model that declares ``capabilities``.

    Args:
      capabilities: what the model declares (``model.capabilities``).
      name: the model's name in the reasons (``type(model).__name__``).

    Returns:
      A :class:`Catalogue`.
    """
    can = capabilities
    picture_set, skipped_pictures = _picture_set(can, name)
    if can.rollout:
        run_pictures: tuple[str, ...] = ("rollout",)
    elif can.image_data and can.autoencoder:
        run_pictures = ("reconstructions", "samples") if can.has_prior else ("reconstructions",)
    else:
        run_pictures = ()
    metrics, skipped_metrics = _metrics(can, name)
    if can.needs_trained_prior:
        samples, no_samples = "trained_prior", ""
    elif can.has_prior:
        samples, no_samples = "prior", ""
    else:
        samples, no_samples = None, f"{name} has no prior to sample from"
    return Catalogue(picture_set, skipped_pictures, run_pictures, metrics, skipped_metrics, samples, no_samples)


def catalogue_of(model) -> Catalogue:
    """:func:`catalogue` of ``model.capabilities``, its reasons naming the model's class."""
    return catalogue(model.capabilities, type(model).__name__)
