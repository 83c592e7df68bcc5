"""Messages read as English: the article before a model's name."""

import pytest

from tfvae.errors import with_article


@pytest.mark.parametrize("noun, expected", [
    ("Autoencoder", "an Autoencoder"), ("ContractiveAE", "a ContractiveAE"), ("VAE", "a VAE"),
    ("VQVAE", "a VQVAE"), ("SparseAE", "a SparseAE"), ("RatingsAE", "a RatingsAE"),
    ("IWAE", "an IWAE"), ("MLP", "an MLP"), ("Encoder", "an Encoder"),
])
def test_the_article_follows_the_sound(noun, expected):
    assert with_article(noun) == expected
