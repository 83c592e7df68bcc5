"""The IAF posterior against computations that do not share its code.

The autoregressive property against autodiff Jacobians; ``log q`` against the change of variables with
``log|det|`` from an autodiff Jacobian of the flow and scipy's normal density; the density against a
numerical integral; the served ``stddev`` against Monte Carlo where the unscented transform is exact.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfvae import random
from tfvae.distributions import AutoregressiveNetwork, IAFPosterior
from tfvae.distributions.flows import made_masks
from tfvae.registry import POSTERIORS

SEED = tf.constant([3, 4], tf.int64)


def randomised(head: IAFPosterior, rng, scale: float = 0.4) -> IAFPosterior:
    """``head`` built, with every weight random (the output layers start at zero: an identity flow)."""
    head(np.zeros((1, *head.params_shape), "float32"))
    for variable in head.weights:
        variable.assign(rng.normal(0.0, scale, variable.shape).astype("float32"))
    return head


def jacobian(function, u: np.ndarray) -> np.ndarray:
    """``d function(u) / du`` per row, ``[B, D, D]``, by autodiff."""
    u = tf.constant(u)
    with tf.GradientTape() as tape:
        tape.watch(u)
        out = function(u)
    return tape.batch_jacobian(out, u).numpy()


@pytest.mark.parametrize("event_size, hidden_units", [(1, (4,)), (4, ()), (5, (8, 6))])
def test_each_output_depends_only_on_earlier_inputs(event_size, hidden_units, rng):
    masks = made_masks(event_size, hidden_units)
    assert [m.shape for m in masks] == list(zip((event_size, *hidden_units), (*hidden_units, event_size)))
    network = AutoregressiveNetwork(event_size, hidden_units, context_size=2, activation="tanh")
    network.build()
    for variable in network.weights:
        variable.assign(rng.normal(0.0, 1.0, variable.shape).astype("float32"))
    u = rng.normal(size=(3, event_size)).astype("float32")
    context = tf.constant(rng.normal(size=(3, 2)).astype("float32"))
    for part in range(2):  # shift, log_scale
        j = jacobian(lambda v, part=part: network(v, context=context)[part], u)
        upper = np.triu(np.ones((event_size, event_size), bool))
        assert np.all(j[:, upper] == 0.0), "output i depends on input j >= i"
        if event_size > 1:
            assert np.all(np.abs(j[:, ~upper]) > 0), "the masks cut an allowed connection"
    moved = network(u, context=context + 1.0)[0].numpy() - network(u, context=context)[0].numpy()
    assert np.all(np.abs(moved[:, 0]) > 0), "output 0 is a function of the context"


def test_sample_and_log_prob_is_the_change_of_variables(rng):
    head = randomised(IAFPosterior(3, flow_steps=3, flow_hidden_units=(6,), flow_context_dim=2), rng)
    params = rng.normal(size=(4, head.params_shape[0])).astype("float32")
    q = head(params)
    z, log_q = head.sample_and_log_prob(q, 5, SEED)

    loc, scale, context = (t.numpy() if t is not None else None for t in head.base_and_context(params))
    eps = random.normal([5, 4, 3], SEED).numpy()  # the head's draws: tfvae.random from the seed
    u = loc + scale * eps
    flat_u = u.reshape(-1, 3)
    flat_context = np.tile(context, (5, 1))
    np.testing.assert_allclose(z.numpy().reshape(-1, 3), head.flow(flat_u, flat_context)[0].numpy(), rtol=1e-5)
    j = jacobian(lambda v: head.flow(v, flat_context)[0], flat_u)
    _, log_det = np.linalg.slogdet(j.astype(np.float64))
    log_base = scipy.stats.norm(loc, scale).logpdf(u).sum(-1).reshape(-1)
    np.testing.assert_allclose(log_q.numpy().reshape(-1), log_base - log_det, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(head.flow(flat_u, flat_context)[1].numpy(), log_det, rtol=1e-5, atol=1e-5)
    # TFP's density of the same draws, through a new distribution (the MAF inverts the flow dimension by dimension)
    np.testing.assert_allclose(head(params).log_prob(z).numpy(), log_q.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(head.sample(q, 5, SEED).numpy(), z.numpy())


def test_the_density_integrates_to_one(rng):
    head = randomised(IAFPosterior(2, flow_steps=2, flow_hidden_units=(8,), flow_context_dim=1), rng, scale=0.6)
    params = np.array([[0.3, -0.2, 0.5, -0.4, 1.0]], "float32")
    q = head(params)
    grid = np.linspace(-9.0, 9.0, 361, dtype="float32")
    z = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 1, 2)  # [N, B=1, 2]
    density = np.exp(q.log_prob(z).numpy().astype(np.float64))
    step = float(grid[1] - grid[0])
    np.testing.assert_allclose(density.sum() * step**2, 1.0, atol=2e-3)


def test_a_new_head_is_its_diagonal_gaussian_base(rng):
    """The output layers start at zero: the flow is the identity, the point the base mean, the served
    stddev the base's scale."""
    head = IAFPosterior(3, flow_context_dim=2)
    params = rng.normal(size=(4, head.params_shape[0])).astype("float32")
    q = head(params)
    loc, scale, _ = head.base_and_context(params)
    np.testing.assert_allclose(head.point(q).numpy(), loc.numpy(), rtol=1e-6)
    summary = head.summary(params)
    np.testing.assert_allclose(summary["mean"].numpy(), loc.numpy(), rtol=1e-6)
    np.testing.assert_allclose(summary["stddev"].numpy(), scale.numpy(), rtol=1e-5)
    np.testing.assert_allclose(q.log_prob(loc).numpy(), scipy.stats.norm(loc, scale).logpdf(loc).sum(-1), rtol=1e-5)


def test_the_served_stddev_is_the_standard_deviation_of_an_affine_flow(rng):
    """With the autoregressive weights at zero the steps are affine maps set by the context alone: the
    unscented transform is then exact, so ``summary``'s stddev equals the spread of many draws."""
    head = randomised(IAFPosterior(3, flow_steps=2, flow_hidden_units=(4,), flow_context_dim=2), rng, scale=0.5)
    for network in head.steps:
        network.output_kernel.assign(np.zeros(network.output_kernel.shape, "float32"))
    params = rng.normal(size=(2, head.params_shape[0])).astype("float32")
    z = head.sample(head(params), 100_000, SEED).numpy()
    summary = head.summary(params)
    np.testing.assert_allclose(summary["stddev"].numpy(), z.std(axis=0), rtol=1e-2)
    np.testing.assert_allclose(summary["mean"].numpy(), z.mean(axis=0), atol=3e-2)


def test_summary_is_the_tfp_flow_in_plain_tensor_ops(rng):
    """``summary`` (the served encode) gives the TFP bijector's point, and its graph holds no TFP shape plumbing."""
    head = randomised(IAFPosterior(4, flow_steps=2, flow_hidden_units=(8,), flow_context_dim=3), rng)
    params = rng.normal(size=(5, head.params_shape[0])).astype("float32")
    np.testing.assert_allclose(head.summary(params)["mean"].numpy(), head.point(head(params)).numpy(), rtol=1e-5)
    spec = tf.TensorSpec([None, *head.params_shape], tf.float32)
    graph = tf.function(head.summary).get_concrete_function(spec).graph
    assert "BroadcastArgs" not in {op.type for op in graph.get_operations()}


@pytest.mark.slow  # 3 s of XLA compilation; the conformance matrix runs the model under XLA too (slow pass)
def test_draws_are_the_same_eagerly_in_a_graph_and_under_xla(rng):
    head = randomised(IAFPosterior(3, flow_steps=2, flow_hidden_units=(6,), flow_context_dim=2), rng)
    params = tf.constant(rng.normal(size=(4, head.params_shape[0])).astype("float32"))

    def draw(p):
        return head.sample_and_log_prob(head(p), 2, SEED)

    eager = draw(params)
    for function in (tf.function(draw), tf.function(draw, jit_compile=True)):
        for got, want in zip(function(params), eager):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_the_registries_name_the_known_heads():
    assert POSTERIORS.get("iaf") is IAFPosterior
    with pytest.raises(ValueError, match=r"^unknown posterior 'iafs' \(did you mean 'iaf'\?\); choose one of: "
                                         r"diagonal_gaussian, iaf$"):
        POSTERIORS.get("iafs")
    options = {"flow_steps": 3, "flow_context_dim": 0, "beta": 2.0}
    head = IAFPosterior.from_options(4, options, name="posterior")
    assert (head.flow_steps, head.flow_context_dim, head.params_shape, head.name) == (3, 0, (8,), "posterior")
    assert options == {"beta": 2.0}, "the head's options are taken, the model's left"
