"""State-space models of sequences: ``td_vae.py`` (``TDVAE``, the temporal-difference VAE)."""
