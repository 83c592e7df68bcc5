"""The VAE family: ``vae.py`` (``VAE``, ``BetaVAE``), ``iwae.py``, ``factor_vae.py`` and ``cvae.py``
(``ConditionalVAE``, the VAE with class conditioning on)."""
