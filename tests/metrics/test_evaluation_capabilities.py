"""``evaluate_model`` follows what the model declares: conditional models and sequence models."""

from __future__ import annotations

import numpy as np
import pytest

from tfvae import VAE, ConditionalVAE
from tfvae.applications.anomaly import anomaly_scores
from tfvae.metrics import ModelCapabilityError, evaluate_model, iwae_log_likelihood
from tfvae.models.sequential.td_vae import TDVAE


class PriorWithoutBound(VAE):
    """A model that samples its prior but declares no likelihood bound (as a WAE: its penalty is not a KL).

    Its own term is the distortion at the posterior mean; the ELBO it inherits is not a bound it trains on.
    """

    @property
    def capabilities(self):
        return super().capabilities.but(likelihood_bound=False)

    def per_example_terms(self, x, training=False, num_samples=None, seed=None):
        return {"distortion": -self.decode(self.embed(x)).log_prob(x)}


def test_a_model_that_samples_without_a_bound_is_not_scored_by_one():
    model = PriorWithoutBound.mlp((6, 1), latent_dim=2, hidden_units=(8,), seed=0)
    assert model.capabilities.has_prior and model.capabilities.can_sample
    x = np.random.default_rng(3).uniform(size=(10, 6, 1)).astype("float32")
    evaluation = evaluate_model(model, x, batch_size=5, iwae_k=4, verbose=0)
    assert not {"elbo", "rate", "iwae_nll"} & set(evaluation.per_example) and evaluation.kl_per_dim is None
    for name in ("elbo", "iwae_nll", "kl_per_dim"):  # each says why: the model declares no bound
        assert "PriorWithoutBound declares no likelihood bound (it can sample its prior" in evaluation.skipped[name]
    own = model.per_example_terms(x)["distortion"].numpy()
    np.testing.assert_allclose(evaluation.per_example["distortion"], own, rtol=1e-6)  # its own term instead
    np.testing.assert_allclose(anomaly_scores(model, x), own, rtol=1e-6)  # the distortion, not -ELBO
    with pytest.raises(ValueError, match="PriorWithoutBound declares no likelihood bound"):
        anomaly_scores(model, x, iwae_k=4)
    with pytest.raises(ModelCapabilityError, match="the ELBO and the IWAE estimate are not defined for it"):
        iwae_log_likelihood(model, x, k=4)


def test_a_conditional_model_is_evaluated_with_its_labels():
    rng = np.random.default_rng(0)
    model = ConditionalVAE.mlp((6, 1), num_classes=3, latent_dim=2, hidden_units=(8,), seed=0)
    x = rng.uniform(size=(20, 6, 1)).astype("float32")
    y = rng.integers(0, 3, 20).astype("int32")
    evaluation = evaluate_model(model, (x, y), batch_size=8, elbo_samples=1, verbose=0)
    assert evaluation.num_examples == 20
    terms = model.per_example_terms((x, y), training=False, num_samples=1, seed=[0, 0])
    # the distortion given the labels (the ELBO's other terms are Monte-Carlo: compared in distribution only)
    assert abs(evaluation.mean("distortion") - float(np.mean(terms["distortion"]))) < 0.5
    assert np.all(evaluation.per_example["elbo"] < 0)
    other = evaluate_model(model, (x, (y + 1) % 3), batch_size=8, elbo_samples=1, verbose=0)
    assert other.mean("distortion") != evaluation.mean("distortion")  # the labels reach the model
    assert evaluation.active is not None and evaluation.latent_means.shape == (20, 2)
    assert "iwae_nll" in evaluation.skipped and "is conditional" in evaluation.skipped["iwae_nll"]
    with pytest.raises(ModelCapabilityError, match="evaluate it on \\(x, y\\) batches"):
        evaluate_model(model, x, batch_size=8, verbose=0)


def test_a_sequence_model_reports_its_own_terms():
    model = TDVAE.mlp((8, 2), latent_dim=2, hidden_units=(8,), belief_units=8, block_units=8, embedding_dim=8,
                      max_jump=2, pairs_per_sequence=2, seed=0)
    x = np.random.default_rng(1).uniform(size=(6, 8, 2)).astype("float32")
    evaluation = evaluate_model(model, x, batch_size=4, verbose=0)
    assert set(evaluation.per_example) == {"loss", "reconstruction", "smoothing_kl", "transition_kl"}
    assert evaluation.num_examples == 6 and evaluation.active is None
    assert evaluation.summary()["active_units"] is None and "active units" not in evaluation.table()
    np.testing.assert_allclose(
        evaluation.per_example["loss"],
        evaluation.per_example["reconstruction"] + evaluation.per_example["smoothing_kl"]
        + evaluation.per_example["transition_kl"], rtol=1e-5)


def test_conditional_and_sequence_models_draw_their_terms_from_the_seed():
    rng = np.random.default_rng(2)
    cvae = ConditionalVAE.mlp((6, 1), num_classes=3, latent_dim=2, hidden_units=(8,), seed=0)
    tdvae = TDVAE.mlp((8, 2), latent_dim=2, hidden_units=(8,), belief_units=8, block_units=8, embedding_dim=8,
                      max_jump=2, pairs_per_sequence=2, seed=0)
    data = {cvae: (rng.uniform(size=(8, 6, 1)).astype("float32"), rng.integers(0, 3, 8).astype("int32")),
            tdvae: rng.uniform(size=(4, 8, 2)).astype("float32")}
    for model, batches in data.items():
        state = model.seed_generator.state.numpy().copy()
        first, again = (evaluate_model(model, batches, batch_size=8, seed=3, verbose=0) for _ in "ab")
        for name, values in first.per_example.items():
            np.testing.assert_array_equal(again.per_example[name], values, err_msg=f"{type(model).__name__} {name}")
        np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)
