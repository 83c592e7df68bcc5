"""The deterministic autoencoders, and the autoencoder contract the other families build on.

``autoencoder.py`` (``Autoencoder``: encoder + posterior head, decoder + likelihood head; class
conditioning), ``denoising.py``, ``sparse.py`` (KL sparsity and k-sparse), ``contractive.py``,
``seq2seq.py`` (recurrent, padded sequences) and ``ratings_ae.py`` (collaborative filtering).
"""
