"""The Autoencoder / VAE contract: distributions out, per-example ELBO, errors, round trips."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import VAE, Autoencoder, BetaVAE
from tfvae.distributions import DiagonalGaussianPosterior, GaussianLikelihood
from tfvae.networks import MLP

tfd = tfp.distributions
SHAPE = (28, 28, 1)


def as_json(config: dict) -> dict:
    """A config as it is written to disk (tuples become lists)."""
    return json.loads(json.dumps(config))


def small_vae(cls=VAE, **kwargs):
    kwargs.setdefault("seed", 0)
    return cls.mlp(SHAPE, latent_dim=3, hidden_units=(16,), **kwargs)


@pytest.fixture
def x(rng):
    return rng.uniform(0, 1, (5, *SHAPE)).astype("float32")


def test_encode_and_decode_return_usable_distributions(x):
    model = small_vae()
    q = model.encode(x)
    assert isinstance(q, tfd.Distribution)
    assert q.batch_shape == (5,) and q.event_shape == (3,)
    assert q.mean().shape == (5, 3) and q.stddev().shape == (5, 3)
    assert np.all(q.stddev().numpy() > 0)
    z = q.sample(seed=(1, 2))
    assert z.shape == (5, 3) and q.log_prob(z).shape == (5,)

    p = model.decode(z)
    assert isinstance(p, tfd.Distribution)
    assert p.batch_shape == (5,) and p.event_shape == SHAPE
    assert p.mean().shape == (5, *SHAPE) and p.log_prob(x).shape == (5,)
    assert p.sample(seed=(3, 4)).shape == (5, *SHAPE)
    assert p.stddev().shape == (5, *SHAPE)

    zs = q.sample(4, seed=(1, 2))  # sample dimension first: [S, B, D]
    ps = model.decode(zs)
    assert ps.batch_shape == (4, 5) and ps.log_prob(x).shape == (4, 5)
    np.testing.assert_allclose(ps.log_prob(x)[0].numpy(), model.decode(zs[0]).log_prob(x).numpy(), rtol=1e-5)


def test_reconstruct_call_and_sample_are_tensors(x):
    model = small_vae()
    expected = model.decode(model.encode(x).mean()).mean().numpy()
    np.testing.assert_allclose(model.reconstruct(x).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    samples = model.sample(7).numpy()
    assert samples.shape == (7, *SHAPE) and samples.min() >= 0 and samples.max() <= 1


def test_elbo_terms_are_per_example_and_consistent(x):
    model = small_vae(num_samples=3)
    terms = model.elbo(x)
    assert set(terms) == {"elbo", "distortion", "rate"}
    for value in terms.values():
        assert value.shape == (5,) and value.dtype == tf.float32
    np.testing.assert_allclose(terms["elbo"], -(terms["distortion"] + terms["rate"]), rtol=1e-6)
    # analytic rate is the closed form of the encoder's posterior
    q = model.encode(x)
    m, s = q.mean().numpy(), q.stddev().numpy()
    closed_form = -0.5 * np.sum(1 + 2 * np.log(s) - m**2 - s**2, -1)
    np.testing.assert_allclose(terms["rate"], closed_form, rtol=1e-4)


def test_distortion_averages_the_monte_carlo_samples(x):
    model = small_vae(num_samples=4)
    seed_state = model.seed_generator.state.numpy()
    distortion = model.elbo(x)["distortion"].numpy()
    model.seed_generator.state.assign(seed_state)
    q = model.encode(x)
    z = model.posterior.sample(q, 4, model.seed_generator.next())
    expected = -model.decode(z).log_prob(x).numpy().mean(0)
    np.testing.assert_allclose(distortion, expected, rtol=1e-5)


def test_mc_kl_estimates_the_analytic_rate(x):
    model, reference = small_vae(kl="mc"), small_vae()
    model.set_weights(reference.get_weights())
    analytic = reference.elbo(x)["rate"].numpy()
    mc = model.elbo(x, num_samples=20_000)["rate"].numpy()
    np.testing.assert_allclose(mc, analytic, atol=0.05 + 0.02 * np.abs(analytic).max())


def test_loss_is_distortion_plus_beta_rate(x):
    for model, beta in [(small_vae(), 1.0), (small_vae(BetaVAE), 4.0), (small_vae(beta=0.5), 0.5)]:
        assert model.beta == beta
        state = model.seed_generator.state.numpy()
        terms = model.loss_terms(x)
        model.seed_generator.state.assign(state)
        per_example = model.elbo(x)
        np.testing.assert_allclose(terms["distortion"], per_example["distortion"].numpy().mean(), rtol=1e-6)
        np.testing.assert_allclose(terms["loss"], terms["distortion"] + beta * terms["rate"], rtol=1e-6)
        np.testing.assert_allclose(terms["elbo"], -(terms["distortion"] + terms["rate"]), rtol=1e-6)


def test_same_seed_gives_the_same_draws(x):
    a, b = small_vae(seed=5), small_vae(seed=5)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.elbo(x)["distortion"], b.elbo(x)["distortion"])
    assert not np.array_equal(a.elbo(x)["distortion"], a.elbo(x)["distortion"])  # stream moves on


def test_deterministic_autoencoder_uses_a_point_mass_code(x):
    model = Autoencoder.mlp(SHAPE, latent_dim=3, hidden_units=(16,), seed=0)
    q = model.encode(x)
    np.testing.assert_array_equal(q.sample(seed=(1, 1)).numpy(), q.mean().numpy())
    terms = model.loss_terms(x)
    assert set(terms) == {"loss", "distortion"}
    np.testing.assert_allclose(terms["loss"], -model.decode(q.mean()).log_prob(x).numpy().mean(), rtol=1e-5)


@pytest.mark.parametrize("method", ["encode", "fit"])
def test_bad_data_raises_errors_that_name_the_expected_shape_and_dtype(method, x):
    model = small_vae()
    model.compile(optimizer="adam")

    def use(data):
        if method == "encode":
            model.encode(data)
        else:
            model.fit(data, batch_size=5, epochs=1, verbose=0)

    with pytest.raises(ValueError, match=r"shape \(batch, 28, 28, 1\), got \(5, 784\)"):
        use(x.reshape(5, 784))
    with pytest.raises(ValueError, match=r"shape \(batch, 28, 28, 1\), got \(5, 28, 28\)"):
        use(x[..., 0])
    with pytest.raises(ValueError, match=r"shape \(batch, 28, 28, 1\), got \(5, 27, 28, 1\)"):
        use(x[:, 1:])
    with pytest.raises(TypeError, match="floating point.*got dtype uint8"):
        use((x * 255).astype("uint8"))
    bad = x.copy()
    bad[2, 3, 4, 0] = np.nan
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="NaN"):
        use(bad)
    use(x)  # after all those failures, good data still works


def test_bad_codes_raise_errors_that_name_the_expected_shape():
    model = small_vae()
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 3\), got \(2, 4\)"):
        model.decode(np.zeros((2, 4), "float32"))
    with pytest.raises(TypeError, match="floating point"):
        model.decode(np.zeros((2, 3), "int32"))
    with pytest.raises(ValueError, match="NaN"):
        model.decode(np.full((2, 3), np.nan, "float32"))
    with pytest.raises(ValueError, match="unconditional"):
        model.encode(np.zeros((1, *SHAPE), "float32"), condition=np.zeros((1, 10)))


def test_mismatched_networks_are_refused_at_construction():
    posterior = DiagonalGaussianPosterior(4)
    likelihood = GaussianLikelihood((6,))
    with pytest.raises(ValueError, match=r"encoder outputs shape \(4,\).*needs \(8,\)"):
        VAE(MLP((4,), (5,)), MLP((6,), (5,)), posterior, likelihood)
    with pytest.raises(ValueError, match=r"decoder outputs shape \(5,\).*needs \(6,\)"):
        VAE(MLP((8,), (5,)), MLP((5,), (5,)), posterior, likelihood)
    with pytest.raises(ValueError, match="kl must be one of"):
        small_vae(kl="exact")


MODELS = {
    "vae_mlp_bernoulli": lambda: small_vae(num_samples=2),
    "vae_conv_gaussian": lambda: VAE.conv(
        SHAPE, latent_dim=3, filters=(4, 8), hidden_units=(8,), likelihood="gaussian",
        likelihood_kwargs={"learn_scale": "per_dimension"}, seed=1, kl="mc",
    ),
    "beta_vae_cb": lambda: small_vae(BetaVAE, likelihood="continuous_bernoulli", beta=2.5),
    "autoencoder": lambda: Autoencoder.mlp(SHAPE, latent_dim=3, hidden_units=(16,), seed=2),
}


@pytest.mark.slow  # the conformance matrix checks this for every family (fast for its kind's representative)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_file_and_config_round_trip(name, x, tmp_path):
    model = MODELS[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=5, epochs=1, verbose=0)  # weights and seed state off their start

    config = as_json(model.get_config())
    clone = type(model).from_config(config)
    assert as_json(clone.get_config()) == config
    for layer_name in ("encoder", "decoder", "posterior", "likelihood"):
        assert getattr(clone, layer_name).get_config() == getattr(model, layer_name).get_config()

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and as_json(loaded.get_config()) == config
    for a, b in zip(model.variables, loaded.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(loaded.reconstruct(x), model.reconstruct(x), rtol=1e-6)
    # the seed stream is restored too: the next Monte-Carlo terms are identical
    np.testing.assert_allclose(loaded.loss_terms(x)["loss"], model.loss_terms(x)["loss"], rtol=1e-6)
    # and training goes on from the restored optimizer state
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 1
