"""The conditional VAE: a configuration of :class:`~tfvae.models.VAE`, kept under its own name.

Conditioning is an option of the VAE family (``VAE(..., num_classes=K)``,
``model.options = {conditional = true}`` in a config), not a subclass with
its own objective. :class:`ConditionalVAE` is that configuration with the
conditioning always on: configs that say ``name = "cvae"`` and files saved as
``ConditionalVAE`` load as they did, and compute the same numbers.
"""

from __future__ import annotations

from tfvae.models.variational.vae import VAE
from tfvae.registry import MODELS, serializable


@MODELS.register("cvae")
@serializable
class ConditionalVAE(VAE):
    r"""A VAE conditioned on a class label ``y`` (Sohn et al. 2015; Doersch 2016, sec. 4): ``VAE(num_classes=K)``.

    ``q(z|x,y)`` and ``p(x|z,y)`` see the label, one-hot (default) or through
    a learned embedding; the prior is ``N(0, I)`` or, with
    ``conditional_prior=True``, a learned ``p(z|y)``. Train on ``(x, y)``
    pairs (``load_dataset(..., with_labels=True)``); ``sample(n, condition=y)``
    draws images of class ``y``. Everything is the :class:`VAE`'s.

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`VAE`.
      num_classes: number of label values (labels are ints in ``[0, num_classes)``).
      **kwargs: the :class:`VAE` arguments (``condition_embedding``, ``conditional_prior``, ``beta``, ...).

    References:
      Sohn, K., Lee, H. & Yan, X. (2015). Learning Structured Output
      Representation using Deep Conditional Generative Models. NeurIPS.
      Doersch, C. (2016). Tutorial on Variational Autoencoders. arXiv:1606.05908.
    """

    conditioning = "always"
    config_options = tuple(name for name in VAE.config_options if name != "conditional")

    def __init__(self, encoder, decoder, posterior, likelihood, num_classes: int = 10, **kwargs):
        super().__init__(encoder, decoder, posterior, likelihood, num_classes=num_classes, **kwargs)
