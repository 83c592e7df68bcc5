"""Vector-quantised models and their priors: ``vq_vae.py`` (``VQVAE``), ``vq_vae2.py`` (``VQVAE2``) and
``pixelcnn.py`` (the autoregressive prior over their code maps)."""
