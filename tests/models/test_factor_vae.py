"""FactorVAE and the several-updates contract: the density-ratio estimate of the total correlation against its
closed form, each update moving only its own variables, the every-N schedule, checkpoints of every optimizer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae.config import ConfigError, TrainConfig
from tfvae.experiment.build import run_learning_rates
from tfvae.experiment.checkpoint import Checkpointer
from tfvae.models import VAE, FactorVAE, gradient_step
from tfvae.models.contract import Update
from tfvae.models.variational.factor_vae import discriminator_loss, permute_dimensions
from tfvae.networks import MLP

SHAPE = (6, 6, 1)


def make(**kwargs):
    return FactorVAE.mlp(SHAPE, latent_dim=3, hidden_units=(8,), discriminator_units=(8,), seed=2, **kwargs)


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).random((16, *SHAPE)) < 0.4).astype("float32")


def test_each_column_is_permuted_on_its_own_and_keeps_its_values():
    codes = tf.reshape(tf.range(64 * 3, dtype=tf.float32), [64, 3])
    permuted = permute_dimensions(codes, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(np.sort(permuted, axis=0), codes.numpy())  # the marginals kept
    rows = permuted - np.arange(3) - permuted[:, :1]  # zero where a row kept its columns together
    assert np.count_nonzero(np.abs(rows).sum(axis=1) == 0) < 8, "the dimensions are shuffled independently"
    again = permute_dimensions(codes, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(again, permuted)  # a seed draws one permutation


def test_the_trained_discriminator_estimates_a_gaussians_total_correlation():
    """For a bivariate normal with correlation rho, TC = KL(q(z) || q(z1) q(z2)) = -1/2 log(1 - rho^2)."""
    rho = 0.9
    expected = -0.5 * np.log(1.0 - rho**2)  # 0.830 nats
    keras.utils.set_random_seed(0)
    discriminator = MLP((1,), (32, 32), "leaky_relu")
    optimizer = keras.optimizers.Adam(3e-3)
    cholesky = tf.constant([[1.0, 0.0], [rho, np.sqrt(1 - rho**2)]], tf.float32)

    def draw(seed):
        return tf.random.stateless_normal([512, 2], seed) @ tf.transpose(cholesky)

    @tf.function
    def step(seed):
        z = draw(seed)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(discriminator_loss(discriminator(z)[:, 0],
                                                     discriminator(permute_dimensions(z, seed + 1))[:, 0]))
        optimizer.apply_gradients(zip(tape.gradient(loss, discriminator.trainable_variables),
                                      discriminator.trainable_variables))

    for i in range(1000):
        step(tf.constant([i, 7], tf.int64))
    estimate = float(tf.reduce_mean(discriminator(draw(tf.constant([10_000, 1], tf.int64)))))
    assert abs(estimate - expected) < 0.12, (estimate, expected)


def test_the_loss_adds_gamma_times_the_discriminators_log_odds(x):
    model = make(gamma=7.0)
    seed = tf.constant([4, 5], tf.int64)
    terms = model.per_example_terms(tf.constant(x), seed=seed)
    q = model.encode(x)
    z = model.posterior.sample(q, 1, seed)[0]
    np.testing.assert_allclose(terms["total_correlation"], model.density_ratio_logit(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.objective(terms),
                               terms["distortion"] + terms["rate"] + 7.0 * terms["total_correlation"], rtol=1e-6)


def _moved(before, variables):
    return max(float(np.abs(b - v.numpy()).max()) for b, v in zip(before, variables))


@pytest.mark.parametrize("frozen", ["model", "discriminator"])
def test_each_update_moves_its_own_variables_only(frozen, x):
    model = make()
    rates = {"model": 1e-2, "discriminator": 1e-2, frozen: 0.0}
    optimizers = model.prepare_update_optimizers({}, learning_rates=rates)
    variables = model.update_variables()
    assert {id(v) for v in variables["discriminator"]} == {id(v) for v in model.discriminator.trainable_variables}
    assert not {id(v) for v in variables["model"]} & {id(v) for v in variables["discriminator"]}
    before = {name: [v.numpy() for v in vs] for name, vs in variables.items()}
    gradient_step(model, optimizers, x)
    moving = "discriminator" if frozen == "model" else "model"
    assert _moved(before[frozen], variables[frozen]) == 0.0
    assert _moved(before[moving], variables[moving]) > 1e-4


class _EverySecondStep(FactorVAE):
    """A FactorVAE whose discriminator is updated every second step (the ``every`` schedule)."""

    @property
    def updates(self):
        model, discriminator = super().updates
        return model, Update("discriminator", "discriminator_loss", discriminator.variables, every=2)


def test_an_update_every_second_step_is_applied_at_steps_0_and_2(x):
    model = _EverySecondStep.mlp(SHAPE, latent_dim=3, hidden_units=(8,), discriminator_units=(8,), seed=2)
    optimizers = model.prepare_update_optimizers(keras.optimizers.Adam(1e-3))
    discriminator = [v.numpy() for v in model.discriminator.trainable_variables]
    moved = []
    for step in range(3):
        gradient_step(model, optimizers, x[4 * step: 4 * step + 4])
        moved.append(_moved(discriminator, model.discriminator.trainable_variables) > 0)
        discriminator = [v.numpy() for v in model.discriminator.trainable_variables]
    assert moved == [True, False, True]
    assert [int(o.iterations) for o in optimizers.values()] == [3, 2]


def test_checkpoints_keep_every_updates_optimizer(tmp_path, x):
    model = make()
    model.compile(optimizer={}, learning_rates={"discriminator": 5e-3}, jit_compile=False)
    assert float(model.update_optimizers()["discriminator"].learning_rate) == pytest.approx(5e-3)
    assert float(model.update_optimizers()["discriminator"].beta_1) == 0.5  # the declared settings
    gradient_step(model, model.update_optimizers(), x)
    Checkpointer(tmp_path, model).save(1)
    again = make()
    again.compile(optimizer={}, jit_compile=False)
    assert Checkpointer(tmp_path, again).restore_latest() == 1
    for name, optimizer in model.update_optimizers().items():
        for a, b in zip(optimizer.variables, again.update_optimizers()[name].variables):
            np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=f"{name}: {a.path}")
    assert int(again.update_optimizers()["discriminator"].iterations) == 1


def test_learning_rates_of_updates_a_model_lacks_are_refused_by_name():
    with pytest.raises(ConfigError, match=r"train.learning_rates: VAE has no update 'discriminator' \(its updates: "
                                          r"model\)"):
        run_learning_rates(VAE.mlp(SHAPE, latent_dim=2, hidden_units=(4,)), TrainConfig(
            learning_rates={"discriminator": 1e-4}))
    model = make()
    assert run_learning_rates(model, TrainConfig(learning_rate=2e-3, learning_rates={"discriminator": 1e-5})) == {
        "model": 2e-3, "discriminator": 1e-5}
    with pytest.raises(ValueError, match=r"optimizer names \['critic'\], which FactorVAE has no update for"):
        model.compile(optimizer={"critic": keras.optimizers.Adam()})


def test_a_discriminator_that_gives_more_than_one_logit_is_refused():
    with pytest.raises(ValueError, match=r"the discriminator must map codes \[batch, 3\] to one logit"):
        make(discriminator=MLP((2,), (4,)))
