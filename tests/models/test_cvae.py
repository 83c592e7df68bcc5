"""The conditional VAE: conditioning that works, labels checked, both priors, round trips."""

import json

import keras
import numpy as np
import pytest
import tensorflow_probability as tfp

from tfvae import ConditionalVAE
from tfvae.loops import train_loop

tfd = tfp.distributions
SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def digit_classifier(digits):
    """A small MLP classifier of the real digits, the judge of generated ones (about 90% test accuracy)."""
    x, y = digits
    keras.utils.set_random_seed(7)
    classifier = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(),
                                   keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
    classifier.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
    classifier.fit(x[:4000], y[:4000], batch_size=100, epochs=5, verbose=0)
    assert classifier.evaluate(x[4000:], y[4000:], verbose=0)[1] > 0.85
    return classifier


# the second variant (a conditional prior) is the slow pass's: the same check on another option
@pytest.mark.parametrize("options", [{}, pytest.param({"condition_embedding": 8, "conditional_prior": True},
                                                      marks=pytest.mark.slow)])
def test_samples_of_class_y_are_classified_as_y(options, digits, digit_classifier):
    x, y = digits
    model = ConditionalVAE.mlp(SHAPE, num_classes=10, latent_dim=2, hidden_units=(256,), seed=0, **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x[:4000], y[:4000], batch_size=100, epochs=5, verbose=0)
    labels = np.repeat(np.arange(10), 30)
    predicted = digit_classifier.predict(model.sample(len(labels), condition=labels), verbose=0).argmax(1)
    accuracy = float(np.mean(predicted == labels))
    assert accuracy > 0.4, accuracy  # chance is 0.1
    # and it is the label that does it: the same draws with labels shifted by one follow the new labels
    shifted = (labels + 1) % 10
    predicted = digit_classifier.predict(model.sample(len(labels), condition=shifted), verbose=0).argmax(1)
    assert float(np.mean(predicted == shifted)) > 0.4


def test_conditional_prior_is_learned_per_class_and_kl_is_analytic(rng):
    x = rng.uniform(0, 1, (6, *SHAPE)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    model = ConditionalVAE.mlp(SHAPE, num_classes=3, latent_dim=2, hidden_units=(8,), conditional_prior=True, seed=0)
    prior = model.prior_for(np.asarray(y, np.int32))
    assert isinstance(prior, tfd.MultivariateNormalDiag) and prior.batch_shape == (6,)
    q = model.encode(x, y)
    np.testing.assert_allclose(model.elbo(x, y)["rate"], tfd.kl_divergence(q, prior).numpy(), rtol=1e-5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=6, epochs=3, verbose=0)
    table = model.prior.table.numpy()
    assert not np.allclose(table, 0)  # the prior moved
    assert not np.allclose(table[0], table[1])


@pytest.mark.slow  # the conformance matrix checks this for every family (fast for its kind's representative)
@pytest.mark.parametrize("builder", ["mlp", "conv"])
def test_trains_in_both_drivers_and_round_trips(builder, rng, tmp_path):
    x = rng.uniform(0, 1, (8, *SHAPE)).astype("float32")
    y = np.arange(8) % 4
    kwargs = {"filters": (4,)} if builder == "conv" else {}
    model = getattr(ConditionalVAE, builder)(SHAPE, num_classes=4, latent_dim=3, hidden_units=(8,),
                                            condition_embedding=3, seed=1, **kwargs)
    model.compile(optimizer="adam")
    assert np.isfinite(model.fit(x, y, batch_size=4, epochs=1, verbose=0).history["loss"]).all()
    assert np.isfinite(train_loop(model, (x, y), batch_size=4, epochs=1, verbose=0)["loss"]).all()
    config = json.loads(json.dumps(model.get_config()))
    assert json.loads(json.dumps(ConditionalVAE.from_config(config).get_config())) == config
    model.save(tmp_path / "cvae.keras")
    loaded = keras.saving.load_model(tmp_path / "cvae.keras")
    np.testing.assert_allclose(loaded.reconstruct(x, y), model.reconstruct(x, y), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.sample(4, condition=2, seed=[1, 2]), model.sample(4, condition=2, seed=[1, 2]),
                               rtol=1e-5, atol=1e-6)


def test_labels_are_checked(rng):
    x = rng.uniform(0, 1, (4, *SHAPE)).astype("float32")
    model = ConditionalVAE.mlp(SHAPE, num_classes=3, latent_dim=2, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match="needs condition="):
        model.encode(x)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        model.encode(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="4 labels for a batch of 2"):
        model.encode(x[:2], np.array([0, 1, 2, 1]))
    with pytest.raises(TypeError, match="integer class labels"):
        model.encode(x, np.array([0.5, 1, 2, 1]))
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"trains on \(x, y\) pairs"):
        model.fit(x, batch_size=2, verbose=0)


# ------------------------------------------------- conditioning is an option of the VAE family
SMALL = (6, 6, 1)


def _pairs(n=8, classes=3):
    rng = np.random.default_rng(0)
    return (rng.random((n, *SMALL)) < 0.4).astype("float32"), rng.integers(0, classes, n).astype("int32")


def test_the_conditional_vae_is_the_vae_with_num_classes():
    """ConditionalVAE adds nothing but the name: the same seed gives the same weights and the same terms."""
    from tfvae import VAE

    behaviour = [name for name, value in vars(ConditionalVAE).items() if callable(value) or isinstance(value, property)]
    assert behaviour == ["__init__"]  # the constructor's default num_classes; every method is the VAE's
    options = dict(latent_dim=2, hidden_units=(8,), num_classes=3, condition_embedding=4, conditional_prior=True,
                   seed=5)
    named, configured = ConditionalVAE.mlp(SMALL, **options), VAE.mlp(SMALL, **options)
    assert configured.conditional and configured.capabilities.conditional
    for a, b in zip(named.weights, configured.weights):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=a.path)
    x, y = _pairs()
    seed = np.array([1, 2], np.int64)
    for key, value in named.elbo(x, y, seed=seed).items():
        np.testing.assert_array_equal(configured.elbo(x, y, seed=seed)[key], value, err_msg=key)
    with pytest.raises(ValueError, match=r"VAE needs condition=: class labels of shape \(batch,\) in \[0, 3\)"):
        configured.elbo(x)


def test_any_vae_family_takes_conditioning_as_an_option():
    """The IWAE and FactorVAE take num_classes as the VAE does: (x, y) batches, condition= in every method."""
    from tfvae import IWAE, FactorVAE
    from tfvae.models import gradient_step

    x, y = _pairs()
    for model in (IWAE.mlp(SMALL, latent_dim=2, hidden_units=(8,), k=3, num_classes=3, seed=0),
                  FactorVAE.mlp(SMALL, latent_dim=2, hidden_units=(8,), discriminator_units=(4,), num_classes=3,
                                seed=0)):
        terms = gradient_step(model, model.prepare_update_optimizers(keras.optimizers.Adam(1e-3)), (x, y))
        assert all(np.isfinite(float(v)) for v in terms.values()), terms
        assert model.sample(4, condition=2, seed=3).shape == (4, *SMALL)
        assert model.reconstruct(x, y).shape == x.shape


def test_a_config_makes_a_vae_conditional_and_refuses_what_conditioning_cannot_take():
    from tfvae.config import ConfigError, ModelConfig
    from tfvae.experiment import build_model

    model = build_model(ModelConfig(name="vae", latent_dim=2, hidden_units=[8],
                                    options={"conditional": True, "conditional_prior": True}), SMALL, num_classes=4)
    assert type(model).__name__ == "VAE" and model.num_classes == 4 and model.conditional_prior
    with pytest.raises(ConfigError, match="model.options.conditional: model 'autoencoder' takes no class conditioning"):
        build_model(ModelConfig(name="autoencoder", options={"conditional": True}), SMALL, num_classes=4)
    with pytest.raises(ConfigError, match="model 'vae' is conditional: the dataset has no labels to condition on"):
        build_model(ModelConfig(name="vae", options={"conditional": True}), SMALL)
    with pytest.raises(ConfigError, match="model.encoder: a conditional model's networks see the data with the label"):
        build_model(ModelConfig(name="vae", encoder="keras.layers:Dense", options={"conditional": True}), SMALL,
                    num_classes=4)
