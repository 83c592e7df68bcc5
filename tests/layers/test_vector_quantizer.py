"""VectorQuantizer and VectorQuantizerEMA against NumPy references and hand-computed updates."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_serialization_test

from tfvae.layers.vector_quantizer import VectorQuantizer, VectorQuantizerEMA

SHAPES = [(7, 4), (3, 5, 4), (2, 6, 6, 4)]


def _built(layer, shape):
    layer(np.zeros(shape, "float32"))
    return layer


def _brute_force_nearest(x: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index of the nearest code by explicit float64 differences, shape ``x.shape[:-1]``."""
    diff = x.astype(np.float64)[..., None, :] - codebook.astype(np.float64)
    return np.argmin(np.sum(diff**2, axis=-1), axis=-1)


def _ema_state(layer) -> list[np.ndarray]:
    return [np.asarray(layer.embeddings), np.asarray(layer.ema_cluster_size), np.asarray(layer.ema_embedding_sum)]


# --------------------------------------------------------------------- quantisation


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
@pytest.mark.parametrize("shape", SHAPES)
def test_quantization_is_the_nearest_code(cls, shape, rng):
    layer = _built(cls(num_embeddings=9, embedding_dim=4), shape)
    x = rng.normal(size=shape).astype("float32")
    codebook = np.asarray(layer.embeddings)
    expected = _brute_force_nearest(x, codebook)

    out = layer(x)
    np.testing.assert_array_equal(out["encoding_indices"].numpy(), expected)
    np.testing.assert_array_equal(layer.nearest(x).numpy(), expected)
    assert out["encoding_indices"].shape == shape[:-1] and out["encoding_indices"].dtype == tf.int32
    np.testing.assert_allclose(out["quantized"].numpy(), codebook[expected], atol=1e-6)
    np.testing.assert_array_equal(layer.lookup(expected).numpy(), codebook[expected])
    assert out["loss"].shape == (shape[0],)


def test_codebook_has_shape_k_by_d_and_float32():
    layer = _built(VectorQuantizer(num_embeddings=6, embedding_dim=3), (2, 3))
    assert layer.embeddings.shape == (6, 3) and layer.embeddings.dtype == "float32"
    assert layer.embeddings.trainable


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_wrong_last_dimension_names_expected_and_got(cls):
    layer = cls(num_embeddings=4, embedding_dim=3)
    with pytest.raises(ValueError, match=r"embedding_dim=3.*got 5"):
        layer(np.zeros((2, 5), "float32"))
    layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"embedding_dim=3.*got 2"):
        layer(np.zeros((2, 4, 2), "float32"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_embeddings": 0, "embedding_dim": 2},
        {"num_embeddings": 2, "embedding_dim": 0},
        {"num_embeddings": 2, "embedding_dim": 2, "commitment_cost": -1.0},
        {"num_embeddings": 2, "embedding_dim": 2, "dtype": "mixed_bfloat16"},
    ],
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        VectorQuantizer(**kwargs)


@pytest.mark.parametrize("kwargs", [{"decay": 1.0}, {"decay": -0.1}, {"epsilon": 0.0}, {"dead_code_threshold": 0.0}])
def test_invalid_ema_arguments(kwargs):
    with pytest.raises(ValueError):
        VectorQuantizerEMA(4, 2, **kwargs)


# ------------------------------------------------------------ gradients and the loss


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_straight_through_gradient_is_the_identity(cls, rng):
    layer = _built(cls(num_embeddings=5, embedding_dim=3), (2, 4, 4, 3))
    x = tf.constant(rng.normal(size=(2, 4, 4, 3)).astype("float32"))
    w = tf.constant(rng.normal(size=(2, 4, 4, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=False)
        objective = tf.reduce_sum(out["quantized"] * w)
    np.testing.assert_allclose(tape.gradient(objective, x).numpy(), w.numpy(), rtol=1e-6)


def test_loss_and_gradients_match_the_numpy_formula(rng):
    beta = 0.3
    layer = _built(VectorQuantizer(num_embeddings=5, embedding_dim=3, commitment_cost=beta), (4, 2, 3))
    x_np = rng.normal(size=(4, 2, 3)).astype("float32")
    x = tf.constant(x_np)
    codebook = np.asarray(layer.embeddings).astype(np.float64)
    k = _brute_force_nearest(x_np, codebook)
    e = codebook[k]

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = layer(x, training=True)["loss"]
        total = tf.reduce_sum(loss)

    per_example = (1.0 + beta) * np.sum((x_np - e) ** 2, axis=(1, 2))  # codebook + beta * commitment
    np.testing.assert_allclose(loss.numpy(), per_example, rtol=1e-5)
    # inputs only see the commitment term: d/dz beta ||z - sg[e]||^2
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), 2 * beta * (x_np - e), rtol=1e-4, atol=1e-6)
    # codes only see the codebook term: d/de_i sum_{j -> i} ||sg[z_j] - e_i||^2
    expected = np.zeros_like(codebook)
    np.add.at(expected, k.reshape(-1), 2 * (e - x_np).reshape(-1, 3))
    grad = tape.gradient(total, layer.embeddings)
    np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(), expected, rtol=1e-4, atol=1e-6)


def test_ema_codebook_gets_no_gradient_and_loss_is_commitment_only(rng):
    beta = 0.4
    layer = _built(VectorQuantizerEMA(num_embeddings=5, embedding_dim=3, commitment_cost=beta), (4, 3))
    assert layer.trainable_weights == []
    assert {w.name for w in layer.non_trainable_weights} == {"embeddings", "ema_cluster_size", "ema_embedding_sum"}
    x_np = rng.normal(size=(4, 3)).astype("float32")
    e = np.asarray(layer.embeddings)[_brute_force_nearest(x_np, np.asarray(layer.embeddings))]
    with tf.GradientTape() as tape:
        tape.watch(layer.embeddings.value)
        loss = layer(x_np, training=False)["loss"]
    np.testing.assert_allclose(loss.numpy(), beta * np.sum((x_np - e) ** 2, axis=1), rtol=1e-5)
    assert tape.gradient(tf.reduce_sum(loss), layer.embeddings.value) is None


# -------------------------------------------------------------------- EMA updates


def _hand_case(**kwargs) -> VectorQuantizerEMA:
    """K=3, D=2: codes at (0,0), (1,1), (5,5), counts 1, sums = codes."""
    layer = _built(VectorQuantizerEMA(num_embeddings=3, embedding_dim=2, **kwargs), (4, 2))
    codes = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]], "float32")
    layer.embeddings.assign(codes)
    layer.ema_cluster_size.assign(np.ones(3, "float32"))
    layer.ema_embedding_sum.assign(codes)
    return layer


HAND_INPUTS = np.array([[0.1, 0.0], [-0.1, 0.2], [1.0, 0.8], [0.9, 1.3]], "float32")  # codes 0, 0, 1, 1


def test_ema_update_equals_the_formula_on_a_hand_computed_case():
    layer = _hand_case(decay=0.5, epsilon=0.01)
    out = layer(HAND_INPUTS, training=True)
    np.testing.assert_array_equal(out["encoding_indices"].numpy(), [0, 0, 1, 1])

    # n = (2, 2, 0); N <- 0.5 * 1 + 0.5 * n
    cluster = np.array([1.5, 1.5, 0.5])
    # m <- 0.5 * m + 0.5 * (sum of the assigned inputs)
    sums = np.array([[0.0, 0.1], [1.45, 1.55], [2.5, 2.5]])
    # Laplace smoothing with n = 3.5, K * eps = 0.03
    smoothed = (cluster + 0.01) / 3.53 * 3.5
    np.testing.assert_allclose(np.asarray(layer.ema_cluster_size), smoothed, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer.ema_embedding_sum), sums, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer.embeddings), sums / smoothed[:, None], rtol=1e-6)
    # the outputs use the codes that were chosen, i.e. those before the update
    np.testing.assert_allclose(out["quantized"].numpy(), [[0, 0], [0, 0], [1, 1], [1, 1]], atol=1e-6)
    np.testing.assert_allclose(out["loss"].numpy(), 0.25 * np.array([0.01, 0.05, 0.04, 0.1]), rtol=1e-5)


def test_ema_state_starts_consistent_and_stays_consistent(rng):
    layer = _built(VectorQuantizerEMA(num_embeddings=8, embedding_dim=3, decay=0.9), (16, 3))
    np.testing.assert_array_equal(np.asarray(layer.ema_embedding_sum), np.asarray(layer.embeddings))
    np.testing.assert_array_equal(np.asarray(layer.ema_cluster_size), np.ones(8))
    for _ in range(5):
        layer(rng.normal(size=(16, 3)).astype("float32"), training=True)
    embeddings, cluster, sums = _ema_state(layer)
    np.testing.assert_allclose(embeddings, sums / cluster[:, None], rtol=1e-5)
    np.testing.assert_allclose(cluster.sum(), 8 * 0.9**5 + 16 * (1 - 0.9**5), rtol=1e-5)  # smoothing keeps n


def test_ema_moves_codes_to_the_mean_of_their_inputs():
    layer = _hand_case(decay=0.0, epsilon=1e-6)
    layer(HAND_INPUTS, training=True)
    np.testing.assert_allclose(np.asarray(layer.embeddings)[:2], [[0.0, 0.1], [0.95, 1.05]], atol=1e-5)


def test_training_false_leaves_every_variable_unchanged(rng):
    layer = _built(VectorQuantizerEMA(num_embeddings=4, embedding_dim=2, dead_code_threshold=0.9, seed=3), (8, 2))
    layer(rng.normal(size=(8, 2)).astype("float32"), training=True)
    before = [np.asarray(v) for v in layer.variables]  # includes the seed generator's state
    layer(rng.normal(size=(8, 2)).astype("float32"), training=False)
    layer(rng.normal(size=(8, 2)).astype("float32"))
    for a, b in zip(before, layer.variables):
        np.testing.assert_array_equal(a, np.asarray(b))

    plain = _built(VectorQuantizer(num_embeddings=4, embedding_dim=2), (8, 2))
    codes = np.asarray(plain.embeddings)
    plain(rng.normal(size=(8, 2)).astype("float32"), training=True)
    np.testing.assert_array_equal(np.asarray(plain.embeddings), codes)


def test_dead_code_is_restarted_on_a_batch_input():
    layer = _hand_case(decay=0.5, epsilon=0.01, dead_code_threshold=0.75, seed=7)
    layer(HAND_INPUTS, training=True)
    embeddings, cluster, sums = _ema_state(layer)
    # code 2 was never chosen: its count fell to ~0.5 < 0.75, so it now sits on an input
    assert np.any(np.all(np.isclose(embeddings[2], HAND_INPUTS, atol=1e-7), axis=1)), embeddings[2]
    assert cluster[2] == 1.0
    np.testing.assert_array_equal(sums[2], embeddings[2])
    # the live codes got the ordinary update
    smoothed = (np.array([1.5, 1.5]) + 0.01) / 3.53 * 3.5
    np.testing.assert_allclose(embeddings[:2], np.array([[0.0, 0.1], [1.45, 1.55]]) / smoothed[:, None], rtol=1e-6)
    # and the restarted code now takes part: the input under it picks it
    assert 2 in layer(HAND_INPUTS)["encoding_indices"].numpy()


def test_no_restart_without_threshold():
    layer = _hand_case(decay=0.5, epsilon=0.01)
    layer(HAND_INPUTS, training=True)
    stays = 2.5 / ((0.5 + 0.01) / 3.53 * 3.5)  # m = 0.5 * 5, N = smoothed 0.5 * 1
    np.testing.assert_allclose(np.asarray(layer.embeddings)[2], [stays, stays], rtol=1e-6)


def test_ema_updates_inside_keras_fit_but_not_in_predict(rng):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)
            self.vq = VectorQuantizerEMA(num_embeddings=4, embedding_dim=2, decay=0.8, dead_code_threshold=0.5)

        def call(self, x, training=False):
            out = self.vq(self.dense(x), training=training)
            self.add_loss(tf.reduce_mean(out["loss"]))
            return out["quantized"]

    x = rng.normal(size=(32, 3)).astype("float32")
    model = Tiny()
    model(x)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    before = _ema_state(model.vq)
    np.testing.assert_array_equal(before[2], before[0])  # m = e at the start, also when built in a trace
    model.predict(x, verbose=0)
    model.evaluate(x, x[:, :2], verbose=0)
    for a, b in zip(before, _ema_state(model.vq)):
        np.testing.assert_array_equal(a, b)
    model.fit(x, x[:, :2], batch_size=16, epochs=1, verbose=0)
    after = _ema_state(model.vq)
    assert not np.allclose(before[1], after[1])
    np.testing.assert_allclose(after[0], after[2] / after[1][:, None], rtol=1e-5)


# -------------------------------------------------------------------- statistics


def _on_codes(cls, codes: np.ndarray):
    layer = _built(cls(num_embeddings=codes.shape[0], embedding_dim=codes.shape[1]), (1, codes.shape[1]))
    layer.embeddings.assign(codes)
    return layer


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_perplexity_and_usage(cls):
    codes = 3.0 * np.eye(4, dtype="float32")
    layer = _on_codes(cls, codes)

    uniform = layer(np.tile(codes, (2, 1)).reshape(2, 4, 4))  # each code twice
    np.testing.assert_allclose(uniform["perplexity"].numpy(), 4.0, rtol=1e-6)
    np.testing.assert_allclose(uniform["usage"].numpy(), 1.0)

    one = layer(np.repeat(codes[2:3], 6, axis=0))
    np.testing.assert_allclose(one["perplexity"].numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(one["usage"].numpy(), 0.25)

    skewed = layer(codes[[0, 0, 0, 1]])  # p = (3/4, 1/4, 0, 0)
    entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    np.testing.assert_allclose(skewed["perplexity"].numpy(), np.exp(entropy), rtol=1e-6)
    np.testing.assert_allclose(skewed["usage"].numpy(), 0.5)


# ------------------------------------------------------------ graph, XLA, precision


def _copy(layer, cls, shape, **kwargs):
    clone = _built(cls(**kwargs), shape)
    clone.set_weights(layer.get_weights())
    return clone


@pytest.mark.parametrize("jit_compile", [False, True])
def test_tf_function_and_xla_match_eager(jit_compile, rng):
    shape = (3, 4, 4, 5)
    x = rng.normal(size=shape).astype("float32")
    kwargs = {"num_embeddings": 16, "embedding_dim": 5}
    eager = _built(VectorQuantizer(**kwargs), shape)
    compiled = tf.function(lambda t: eager(t, training=True), jit_compile=jit_compile)
    expected, got = eager(x, training=True), compiled(tf.constant(x))
    np.testing.assert_array_equal(got["encoding_indices"].numpy(), expected["encoding_indices"].numpy())
    for key in ("quantized", "loss", "perplexity", "usage"):
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_ema_training_steps_with_restarts_match_eager(jit_compile, rng):
    shape = (4, 3, 3, 2)
    batches = [rng.normal(size=shape).astype("float32") for _ in range(3)]
    kwargs = {"num_embeddings": 12, "embedding_dim": 2, "decay": 0.5, "dead_code_threshold": 0.75, "seed": 11}
    eager = _built(VectorQuantizerEMA(**kwargs), shape)
    graph = _copy(eager, VectorQuantizerEMA, shape, **kwargs)
    step = tf.function(lambda t: graph(t, training=True), jit_compile=jit_compile)
    restarts = 0
    for x in batches:
        expected, got = eager(x, training=True), step(tf.constant(x))
        np.testing.assert_array_equal(got["encoding_indices"].numpy(), expected["encoding_indices"].numpy())
        np.testing.assert_allclose(got["loss"].numpy(), expected["loss"].numpy(), rtol=1e-5)
        for a, b in zip(_ema_state(eager), _ema_state(graph)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        # a restarted code sits exactly on one of this batch's inputs
        on_input = (np.asarray(eager.embeddings)[:, None, :] == x.reshape(1, -1, 2)).all(-1).any(-1)
        restarts += int(on_input.sum())
    assert restarts > 0  # the random restart path ran, and drew the same inputs in every mode


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_outputs_are_float32(cls, policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    layer = cls(num_embeddings=8, embedding_dim=4)
    x = tf.constant(rng.normal(size=(2, 3, 3, 4)), dtype=keras.mixed_precision.global_policy().compute_dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=True)
        objective = tf.reduce_sum(out["quantized"]) + tf.reduce_sum(out["loss"])
    assert layer.embeddings.dtype == "float32" and layer.compute_dtype == "float32"
    for key in ("quantized", "loss", "perplexity", "usage"):
        assert out[key].dtype == tf.float32, key
        assert np.all(np.isfinite(out[key].numpy())), key
    grad = tape.gradient(objective, x)
    assert grad.dtype == x.dtype and np.all(np.isfinite(np.asarray(grad, "float32")))
    expected = _brute_force_nearest(np.asarray(x, "float32"), np.asarray(layer.embeddings))
    np.testing.assert_array_equal(out["encoding_indices"].numpy(), expected)


# ------------------------------------------------------------------ serialization


def test_vector_quantizer_serialization(tmp_path, rng):
    x = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    layer = _built(VectorQuantizer(num_embeddings=7, embedding_dim=4, commitment_cost=0.5, name="vq"), x.shape)
    run_serialization_test(layer, lambda l: l(x)["quantized"], tmp_path)


def test_vector_quantizer_ema_serialization(tmp_path, rng):
    x = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    layer = VectorQuantizerEMA(
        num_embeddings=7,
        embedding_dim=4,
        commitment_cost=0.5,
        decay=0.9,
        epsilon=1e-4,
        dead_code_threshold=0.01,
        seed=5,
        name="vq_ema",
    )
    layer(x, training=True)  # builds, and moves the (non-trainable) state off its initial values
    assert layer.get_config()["dead_code_threshold"] == 0.01 and layer.get_config()["seed"] == 5
    run_serialization_test(layer, lambda l: l(x)["quantized"], tmp_path)
