"""The catalogue: what each family gets (pictures, metrics, samples), from its capabilities alone."""

from __future__ import annotations

import pytest

from tfvae.models import IWAE, TDVAE, VAE, VQVAE, Autoencoder, BetaVAE, ConditionalVAE, PixelCNN
from tfvae.models.catalogue import BOUND_METRICS, PICTURE_SETS, RECONSTRUCTION_METRICS, catalogue, picture_names
from tfvae.models.contract import Capabilities

IMAGE = dict(autoencoder=True, image_data=True)


@pytest.mark.parametrize("build, bound", [
    (lambda: VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,), seed=0), True),
    (lambda: BetaVAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,), seed=0), True),
    (lambda: IWAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,), k=2, seed=0), True),
    (lambda: ConditionalVAE.mlp((4, 4, 1), num_classes=2, latent_dim=2, hidden_units=(4,), seed=0), True),
    (lambda: Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,), seed=0), False),
    (lambda: VQVAE.conv((8, 8, 1), num_embeddings=4, embedding_dim=2, filters=4, residual_filters=2,
                        num_residual_blocks=1, seed=0), False),
    (lambda: TDVAE.mlp((4, 2), latent_dim=2, hidden_units=(4,), belief_units=4, block_units=4, embedding_dim=4,
                       max_jump=2, pairs_per_sequence=1, seed=0), False),
    (lambda: PixelCNN(4, (2, 2), filters=4, num_layers=1), False),
], ids=["vae", "beta_vae", "iwae", "cvae", "autoencoder", "vqvae", "tdvae", "pixelcnn"])
def test_each_family_declares_whether_it_has_a_likelihood_bound(build, bound):
    model = build()
    assert model.capabilities.likelihood_bound is bound
    if bound:  # the bound is the VAE family's ELBO: such a model also samples its prior
        assert model.capabilities.has_prior


def test_sampling_without_a_bound_gets_samples_but_no_bound_metric():
    wae = catalogue(Capabilities(has_prior=True, stochastic_encoder=True, **IMAGE), "WAE")
    assert wae.samples == "prior" and wae.run_pictures == ("reconstructions", "samples")
    assert not set(BOUND_METRICS) & set(wae.metrics)
    assert {"own_terms", *RECONSTRUCTION_METRICS} <= set(wae.metrics)
    assert all(wae.skipped_metrics[name].startswith("WAE declares no likelihood bound (it can sample its prior")
               for name in BOUND_METRICS)
    vae = catalogue(Capabilities(has_prior=True, likelihood_bound=True, stochastic_encoder=True, **IMAGE), "VAE")
    assert set(BOUND_METRICS) <= set(vae.metrics) and "own_terms" not in vae.metrics and not vae.skipped_metrics


def test_a_vq_model_samples_through_its_trained_prior_and_is_bounded_through_it():
    vq = catalogue(Capabilities(needs_trained_prior=True, discrete_codes=True, continuous_latent=False, **IMAGE), "VQ")
    assert vq.samples == "trained_prior" and "vq_bound" in vq.metrics
    assert not set(BOUND_METRICS) & set(vq.metrics) and "VQ declares no likelihood bound (capab" in vq.skipped_metrics[
        "iwae_nll"]
    assert vq.run_pictures == ("reconstructions",) and vq.picture_set == "autoencoder"  # no samples before its prior


def test_sequence_conditional_masked_and_plain_models():
    sequence = catalogue(Capabilities(sequences=True, rollout=True, continuous_latent=False), "TD")
    assert (sequence.picture_set, sequence.run_pictures, sequence.samples) == ("sequence", ("rollout",), None)
    assert sequence.metrics == ("own_terms",) and "no per-example code" in sequence.skipped_metrics["active_units"]
    assert "TD is a sequence model" in sequence.skipped_pictures["reconstructions"]
    conditional = catalogue(Capabilities(has_prior=True, likelihood_bound=True, conditional=True, **IMAGE), "C")
    assert conditional.pictures == PICTURE_SETS["conditional"] and conditional.metrics == ("own_terms", "active_units")
    assert "C is conditional" in conditional.skipped_metrics["iwae_nll"]
    masked = catalogue(Capabilities(autoencoder=True, masked_data=True), "R")
    assert set(masked.metrics) == {"active_units", "masked_mse", "masked_rmse"} and masked.run_pictures == ()
    assert "unobserved" in masked.skipped_metrics["mse"]
    plain = catalogue(Capabilities(**IMAGE), "AE")
    assert plain.samples is None and plain.no_samples == "AE has no prior to sample from"
    assert "AE is not a sequence model" in plain.skipped_pictures["rollout"]
    assert set(plain.pictures) | set(plain.skipped_pictures) == set(picture_names())
