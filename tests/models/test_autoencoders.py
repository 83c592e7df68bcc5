"""The deterministic autoencoder family: corruption, sparsity, k-sparse codes, contraction, PCA."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.linalg import subspace_angles

from tfvae import Autoencoder, ContractiveAE, DenoisingAE, KSparseAE, SparseAE
from tfvae.loops import train_loop
from tfvae.models import KSparsityScheduler
from tfvae.models.autoencoders.denoising import corrupt
from tfvae.models.autoencoders.sparse import kl_sparsity

SHAPE = (28, 28, 1)


@pytest.fixture
def x(rng):
    return rng.uniform(0.05, 0.95, (6, *SHAPE)).astype("float32")


# ------------------------------------------------------------------ denoising
@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_masking_noise_zeroes_exactly_the_stated_fraction(fraction):
    ones = tf.ones([32, 200])
    noisy = corrupt(ones, "masking", fraction, tf.constant([1, 2])).numpy()
    zeros = (noisy == 0).sum(axis=1)
    assert np.all(zeros == round(fraction * 200))
    assert len({tuple(np.flatnonzero(row == 0)) for row in noisy}) == 32  # different places per example
    np.testing.assert_array_equal(noisy[noisy != 0], 1.0)  # the rest is untouched


def test_salt_and_pepper_and_gaussian_noise(rng):
    x = rng.uniform(0.2, 0.8, (64, 100)).astype("float32")
    noisy = corrupt(x, "salt_and_pepper", 0.2, tf.constant([3, 4])).numpy()
    changed = noisy != x
    assert np.all(changed.sum(1) == 20)
    assert set(np.unique(noisy[changed])) == {0.0, 1.0}
    assert 0.4 < noisy[changed].mean() < 0.6
    noisy = corrupt(x, "gaussian", 0.3, tf.constant([5, 6])).numpy()
    assert abs((noisy - x).std() - 0.3) < 0.01 and abs((noisy - x).mean()) < 0.01


def test_denoising_ae_corrupts_only_in_training_and_compares_with_the_clean_input(x):
    model = DenoisingAE.mlp(SHAPE, latent_dim=4, hidden_units=(16,), corruption="masking", noise_level=0.5, seed=0)
    clean = model.per_example_terms(x, training=False)["distortion"].numpy()
    np.testing.assert_allclose(clean, -model.decode(model.encode(x).mean()).log_prob(x).numpy(), rtol=1e-5)
    state = model.seed_generator.state.numpy()
    trained = model.per_example_terms(x, training=True)["distortion"].numpy()
    model.seed_generator.state.assign(state)
    x_noisy = corrupt(x, "masking", 0.5, model.seed_generator.next())
    assert np.mean(x_noisy.numpy() == 0) == pytest.approx(0.5, abs=1 / 784)
    expected = -model.decode(model.encode(x_noisy).mean()).log_prob(x).numpy()  # target: clean x
    np.testing.assert_allclose(trained, expected, rtol=1e-5)
    assert not np.allclose(trained, clean)
    with pytest.raises(ValueError, match="corruption must be one of"):
        DenoisingAE.mlp(SHAPE, corruption="blur")
    with pytest.raises(ValueError, match=r"noise_level must be in \[0, 1\]"):
        DenoisingAE.mlp(SHAPE, noise_level=1.5)


# -------------------------------------------------------------------- sparse
def test_kl_sparsity_matches_its_formula(rng):
    z = rng.uniform(0.01, 0.99, (10, 7)).astype("float32")
    rho, rho_hat = 0.05, z.astype(np.float64).mean(0)
    expected = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(kl_sparsity(tf.constant(z), rho).numpy(), expected, rtol=1e-5)
    assert float(kl_sparsity(tf.fill([4, 3], 0.05), 0.05)) == pytest.approx(0.0, abs=1e-6)


def test_sparse_ae_terms(x):
    model = SparseAE.mlp(SHAPE, latent_dim=5, hidden_units=(16,), sparsity_weight=3.0, seed=0)
    z = model.embed(x).numpy()
    assert z.min() > 0 and z.max() < 1  # sigmoid code
    terms = model.loss_terms(x)
    np.testing.assert_allclose(terms["sparsity"], kl_sparsity(tf.constant(z), 0.05).numpy(), rtol=1e-5)
    np.testing.assert_allclose(terms["loss"], terms["distortion"] + 3.0 * terms["sparsity"], rtol=1e-5)
    l1 = SparseAE.mlp(SHAPE, latent_dim=5, hidden_units=(16,), sparsity="l1", code_activation="relu", seed=0)
    np.testing.assert_allclose(
        l1.loss_terms(x)["sparsity"], np.abs(l1.embed(x).numpy()).sum(1).mean(), rtol=1e-5
    )
    with pytest.raises(ValueError, match="needs codes in \\(0, 1\\)"):
        SparseAE.mlp(SHAPE, code_activation="relu")


def test_kl_sparsity_drives_the_mean_activation_towards_rho(digits):
    train = digits[0][:2000]
    means = {}
    for weight in (0.0, 20.0):
        model = SparseAE.mlp(SHAPE, latent_dim=32, hidden_units=(128,), sparsity_weight=weight, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        model.fit(train, batch_size=100, epochs=4, verbose=0)
        means[weight] = float(model.embed(train[:500]).numpy().mean())
    assert abs(means[20.0] - 0.05) < 0.05, means
    assert abs(means[0.0] - 0.05) > 5 * abs(means[20.0] - 0.05), means


# ------------------------------------------------------------------ k-sparse
def test_k_sparse_keeps_exactly_k_and_passes_no_gradient_to_the_others(x):
    model = KSparseAE.mlp(SHAPE, latent_dim=12, k=3, hidden_units=(16,), seed=0)
    z = model.embed(x).numpy()
    assert np.all((z != 0).sum(axis=1) == 3)
    h = model.encoder(x).numpy()
    kept = np.argsort(-h, axis=1)[:, :3]
    for row, cols in zip(z, kept):
        assert set(np.flatnonzero(row)) == set(cols)

    params = tf.Variable(model.encoder(x))
    with tf.GradientTape() as tape:
        code = model.posterior(params).mean()
        loss = -tf.reduce_sum(model.decode(code).log_prob(x))
    grad = tape.gradient(loss, params).numpy()
    assert np.all(grad[z == 0] == 0)
    assert np.all((grad != 0).sum(axis=1) == 3)


def test_k_sparse_alpha_keeps_alpha_k_at_inference_and_k_in_training(x):
    """Makhzani & Frey, Algorithm 1: the loss's forward pass keeps the k largest, encoding keeps alpha * k."""
    model = KSparseAE.mlp(SHAPE, latent_dim=12, k=3, alpha=2.5, hidden_units=(16,), seed=0)
    h = model.encoder(x).numpy()
    order = np.argsort(-h, axis=1)
    for z, kept in [(model.embed(x).numpy(), 8), (model.posterior(h, training=False).mean().numpy(), 8),
                    (model.posterior_parameters(x)["mean"].numpy(), 8),  # round(2.5 * 3) = 8: serving too
                    (model.posterior(h, training=True).mean().numpy(), 3)]:
        assert np.all((z != 0).sum(axis=1) == kept)
        for row, cols in zip(z, order[:, :kept]):
            assert set(np.flatnonzero(row)) == set(cols)
    # the loss in training decodes the k-unit code; evaluation decodes the alpha*k one
    for training, kept in [(True, 3), (False, 8)]:
        code = np.where(np.argsort(np.argsort(-h, axis=1), axis=1) < kept, h, 0.0).astype("float32")
        expected = -model.decode(code).log_prob(x).numpy().mean()
        np.testing.assert_allclose(model.loss_terms(x, training=training)["distortion"], expected, rtol=1e-5)
    restored = KSparseAE.from_config(json.loads(json.dumps(model.get_config())))
    assert restored.posterior.alpha == 2.5
    capped = KSparseAE.mlp(SHAPE, latent_dim=12, k=5, alpha=4.0, hidden_units=(), seed=0)
    assert np.all((capped.embed(x).numpy() != 0).sum(axis=1) == 12)  # min(alpha * k, latent_dim)
    with pytest.raises(ValueError, match="alpha must be >= 1"):
        KSparseAE.mlp(SHAPE, latent_dim=12, k=3, alpha=0.5, seed=0)
    default = KSparseAE.mlp(SHAPE, latent_dim=12, k=3, hidden_units=(), seed=0)
    assert np.all((default.embed(x).numpy() != 0).sum(axis=1) == 3)  # alpha = 1: k everywhere


def test_k_schedule_lowers_k_each_epoch_in_both_drivers(x):
    for driver in ("fit", "loop"):
        model = KSparseAE.mlp(SHAPE, latent_dim=12, k=2, hidden_units=(), seed=0)
        model.compile(optimizer="adam")
        seen = []
        record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(int(model.posterior.k)))
        callbacks = [KSparsityScheduler(k_start=10, k_end=2, epochs=4), record]
        if driver == "fit":
            model.fit(x, batch_size=6, epochs=5, verbose=0, callbacks=callbacks)
        else:
            train_loop(model, x, batch_size=6, epochs=5, verbose=0, callbacks=callbacks)
        assert seen == [10, 8, 6, 4, 2], driver  # k_at(e) = round(10 - 8 e / 4)
        assert np.all((model.embed(x).numpy() != 0).sum(1) == 2)


# ---------------------------------------------------------------- contractive
def test_closed_form_contraction_equals_the_batch_jacobian_value(x):
    model = ContractiveAE.mlp(SHAPE, latent_dim=6, hidden_units=(), contraction_weight=0.5, seed=0)
    assert model.use_closed_form
    z = model.embed(x)
    closed = model.closed_form_penalty(z).numpy()
    jacobian = model.jacobian_penalty(tf.constant(x)).numpy()
    np.testing.assert_allclose(closed, jacobian, rtol=1e-4)
    terms = model.loss_terms(x)
    np.testing.assert_allclose(terms["loss"], terms["distortion"] + 0.5 * terms["contraction"], rtol=1e-5)
    deep = ContractiveAE.mlp(SHAPE, latent_dim=6, hidden_units=(16,), seed=0)
    assert not deep.use_closed_form and deep.loss_terms(x)["contraction"] > 0
    with pytest.raises(ValueError, match="closed_form"):
        ContractiveAE.mlp(SHAPE, hidden_units=(16,), jacobian="closed_form")


def test_contraction_gradient_flows_to_the_encoder(x):
    for hidden in ((), (8,)):
        model = ContractiveAE.mlp(SHAPE, latent_dim=4, hidden_units=hidden, jacobian="batch_jacobian", seed=0)
        with tf.GradientTape() as tape:
            penalty = tf.reduce_mean(model.code_penalties(tf.constant(x), model.embed(x), True)["contraction"])
        grads = tape.gradient(penalty, model.encoder.trainable_variables)
        assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


# ------------------------------------------------------------------------ PCA
def test_linear_autoencoder_with_mse_recovers_the_pca_subspace(rng):
    dim, k, n = 10, 3, 4000
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    spectrum = np.array([5.0, 4.0, 3.0] + [0.3] * (dim - 3))
    data = (rng.normal(size=(n, dim)) * spectrum) @ basis.T
    data = (data - data.mean(0)).astype("float32")
    model = Autoencoder.mlp((dim,), latent_dim=k, hidden_units=(), likelihood="gaussian", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(data, batch_size=200, epochs=40, verbose=0)
    decoder_columns = model.decoder.projection.kernel.numpy().T  # [dim, k] column space of the reconstruction
    top = np.linalg.eigh(np.cov(data.T))[1][:, -k:]
    angles = subspace_angles(decoder_columns, top)
    assert np.max(angles) < 0.05, np.degrees(angles)


# -------------------------------------------------------- round trips, drivers
FAMILY = {
    "plain": lambda: Autoencoder.conv(SHAPE, latent_dim=4, filters=(4,), hidden_units=(8,), likelihood="gaussian", seed=1),
    "denoising": lambda: DenoisingAE.mlp(SHAPE, latent_dim=4, hidden_units=(16,), corruption="gaussian", noise_level=0.2, seed=1),
    "sparse": lambda: SparseAE.conv(SHAPE, latent_dim=4, filters=(4,), hidden_units=(8,), sparsity_weight=2.0, seed=1),
    "k_sparse": lambda: KSparseAE.mlp(SHAPE, latent_dim=8, k=3, hidden_units=(16,), seed=1),
    "contractive": lambda: ContractiveAE.mlp(SHAPE, latent_dim=4, hidden_units=(), contraction_weight=0.3, seed=1),
}


@pytest.mark.slow  # the conformance matrix checks this for every family (fast for its kind's representative)
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_family_trains_in_both_drivers_and_round_trips(name, x, tmp_path):
    model = FAMILY[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(x, batch_size=3, epochs=2, verbose=0).history
    assert set(history) == set(model.loss_term_names) and np.isfinite(history["loss"]).all()
    looped = train_loop(model, x, batch_size=3, epochs=1, verbose=0)
    assert np.isfinite(looped["loss"]).all()

    config = json.loads(json.dumps(model.get_config()))
    assert json.loads(json.dumps(type(model).from_config(config).get_config())) == config
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.embed(x), model.embed(x), rtol=1e-6)
    np.testing.assert_allclose(loaded.loss_terms(x, training=True)["loss"], model.loss_terms(x, training=True)["loss"], rtol=1e-5)
