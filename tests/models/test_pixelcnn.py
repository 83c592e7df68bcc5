"""PixelCNN prior over code maps: causality, conditioning, likelihood, training, sampling, round trips, errors."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.loops import train_loop
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.registry import MODELS

tfd = tfp.distributions


def influence(fn, x: np.ndarray) -> np.ndarray:
    """``[H*W, H*W]``: ``|d <fn(x)[0, i, j], r> / d x[0, k, l]|`` summed over channels (row ``iW+j``, column ``kW+l``).

    ``x`` is repeated once per output position along the batch, so one
    backward pass gives every row (examples do not interact).
    """
    _, height, width, _ = x.shape
    positions = height * width
    copies = tf.constant(np.repeat(x, positions, axis=0))
    with tf.GradientTape() as tape:
        tape.watch(copies)
        y = fn(copies)
        pick = np.eye(positions, dtype="float32").reshape(positions, height, width, 1)
        r = np.random.default_rng(7).uniform(0.5, 1.5, y.shape[-1]).astype("float32")
        total = tf.reduce_sum(tf.cast(y, tf.float32) * pick * r)
    return np.abs(tape.gradient(total, copies).numpy()).sum(axis=-1).reshape(positions, positions)


def numpy_log_prob(logits: np.ndarray, codes: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    top = logits.max(-1, keepdims=True)
    log_softmax = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
    return np.take_along_axis(log_softmax, codes[..., None], -1)[..., 0].sum(axis=(1, 2))


@pytest.mark.parametrize(
    "options",
    [{}, {"attention_every": 2}, {"num_classes": 3, "label_embedding": 4, "condition_shape": (2, 3),
                                   "attention_every": 5, "dropout": 0.1}],
    ids=["gated", "attention", "conditional"],
)
def test_logits_at_p_depend_on_exactly_the_codes_before_p(options, rng):
    """Non-square 3x5 maps: zero gradient at and after (i, j), nonzero at every earlier position (no blind spot)."""
    model = PixelCNN(4, (3, 5), filters=8, num_layers=5, seed=0, **options)
    label = tf.constant([1]) if "num_classes" in options else None
    condition = tf.constant(rng.integers(0, 4, (1, 2, 3)), tf.int32) if "condition_shape" in options else None
    x = model.embed_codes(rng.integers(0, 4, (1, 3, 5))).numpy()
    seen = influence(lambda e: model.logits_from_embedding(e, label, condition, training=False), x)
    before = np.tril(np.ones((15, 15), bool), k=-1)
    assert not seen[~before].any(), "a logit sees its own code or a later one"
    assert (seen[before] > 0).all(), "some earlier code is out of reach"
    assert seen[1 * 5 + 2, 0 * 5 + 4] > 0  # (1, 2) sees (0, 4): up and to the right, the old blind spot


def test_label_and_condition_change_the_logits(rng):
    model = PixelCNN(4, (4, 4), filters=8, num_layers=2, num_classes=2, condition_shape=(2, 2), seed=0)
    codes = rng.integers(0, 4, (3, 4, 4))
    condition = rng.integers(0, 4, (3, 2, 2))
    zeros, ones = np.zeros(3, "int32"), np.ones(3, "int32")
    base = model({"codes": codes, "label": zeros, "condition": condition}).numpy()
    other_label = model({"codes": codes, "label": ones, "condition": condition}).numpy()
    other_map = model({"codes": codes, "label": zeros, "condition": (condition + 1) % 4}).numpy()
    assert np.abs(base - other_label)[:, 0, 0].min() > 0  # even the first code, which sees no other code
    assert np.abs(base - other_map)[:, 0, 0].max() > 1e-4
    # the condition map is seen where it is: changing its top-left cell moves the top-left logits
    moved = condition.copy()
    moved[:, 0, 0] = (moved[:, 0, 0] + 1) % 4
    changed = np.abs(base - model({"codes": codes, "label": zeros, "condition": moved}).numpy()).max(-1)
    assert changed[:, 0, 0].min() > 0


def test_condition_map_is_aligned_with_the_codes(rng):
    """Top codes 4x4 under bottom codes 8x8: cell (3, 3) (pixels 6-7, smeared by one 3x3 conv to 4-7) reaches
    the logits at (i, j) only through the condition at (i, j) and (i - 1, j) with one gated block."""
    model = PixelCNN(4, (8, 8), filters=8, num_layers=1, condition_shape=(4, 4), seed=0)
    codes, top = rng.integers(0, 4, (2, 8, 8)), rng.integers(0, 4, (2, 4, 4))
    moved = top.copy()
    moved[:, 3, 3] = (moved[:, 3, 3] + 1) % 4
    changed = np.abs(model({"codes": codes, "condition": top}).numpy()
                     - model({"codes": codes, "condition": moved}).numpy()).max(axis=(0, 3))
    assert (changed[:4] == 0).all() and (changed[:, :4] == 0).all(), changed
    assert (changed[4:, 4:] > 0).all(), changed


def test_log_prob_and_loss_terms_match_numpy(rng):
    model = PixelCNN(5, (3, 4), filters=8, num_layers=2, num_classes=2, seed=0)
    data = {"codes": rng.integers(0, 5, (6, 3, 4)).astype("int32"), "label": np.arange(6) % 2}
    expected = numpy_log_prob(model(data).numpy(), data["codes"])
    np.testing.assert_allclose(model.log_prob(data), expected, rtol=1e-5)
    p = model.distribution(data)
    assert isinstance(p, tfd.Independent) and p.batch_shape == (6,) and p.event_shape == (3, 4)
    terms = model.loss_terms(data)
    assert set(terms) == set(model.loss_term_names) == {"loss", "nll", "bits_per_dim"}
    np.testing.assert_allclose(terms["nll"], -expected.mean(), rtol=1e-5)
    np.testing.assert_allclose(terms["loss"], terms["nll"])
    np.testing.assert_allclose(terms["bits_per_dim"], -expected.mean() / (12 * math.log(2)), rtol=1e-5)
    # (codes, label) pairs are the same data
    np.testing.assert_allclose(model.log_prob((data["codes"], data["label"])), expected, rtol=1e-5)


@pytest.mark.slow  # a training run to convergence or a second driver/precision of a fast check: CI's slow pass
def test_fit_learns_constant_maps_and_samples_them(rng):
    """Each 4x4 map is one constant in [0, 4): the best NLL is log 4 nats, the uniform prior's 16 log 4."""
    codes = np.repeat(rng.integers(0, 4, 512), 16).reshape(512, 4, 4).astype("int32")
    model = PixelCNN(4, (4, 4), filters=16, num_layers=4, attention_every=2, seed=0)
    uniform_nll = 16 * math.log(4)
    np.testing.assert_allclose(model.loss_terms(codes)["nll"], uniform_nll, rtol=0.25)  # untrained: about uniform
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(codes, batch_size=64, epochs=6, verbose=0).history
    assert history["nll"][-1] < 0.15 * uniform_nll, history["nll"]  # optimum: log 4 = 0.0625 * uniform
    samples = model.sample(64, seed=3).numpy()
    assert samples.shape == (64, 4, 4) and samples.dtype == np.int32
    constant = (samples == samples[:, :1, :1]).all(axis=(1, 2))
    assert constant.mean() > 0.9, samples[~constant][:3]
    assert len(np.unique(samples[:, 0, 0])) >= 3  # all values, not one mode
    np.testing.assert_array_equal(model.sample(64, seed=3), samples)  # same seed, same draws
    assert not np.array_equal(model.sample(64, seed=4), samples)
    assert not np.array_equal(model.sample(64), model.sample(64))  # the seed generator moves on


def test_train_loop_learns_the_conditioning(rng):
    """Bottom codes = upsampled top codes shifted by the label: a VQ-VAE-2-like bottom prior must copy."""
    top = rng.integers(0, 4, (384, 2, 2)).astype("int32")
    label = rng.integers(0, 2, 384).astype("int32")
    codes = ((np.repeat(np.repeat(top, 2, 1), 2, 2) + label[:, None, None]) % 4).astype("int32")
    data = {"codes": codes, "label": label, "condition": top}
    model = PixelCNN(4, (4, 4), filters=16, num_layers=2, num_classes=2, condition_shape=(2, 2), seed=0)
    history = train_loop(model, data, batch_size=64, epochs=8, optimizer=keras.optimizers.Adam(1e-2), verbose=0)
    assert history["nll"][-1] < 0.1 * 16 * math.log(4), history["nll"]
    samples = model.sample(32, label=label[:32], condition=top[:32], seed=0).numpy()
    assert (samples == codes[:32]).mean() > 0.95
    # one map and one label broadcast over the samples
    one = model.sample(4, label=1, condition=top[0], seed=1).numpy()
    assert (one == (np.repeat(np.repeat(top[0], 2, 0), 2, 1) + 1) % 4).mean() > 0.9


def test_sampling_follows_the_softmax_and_the_raster_order(rng):
    model = PixelCNN(3, (2, 3), filters=8, num_layers=3, seed=0)
    for w in model.trainable_weights:  # off the initial values: zero biases make the first logits uniform
        w.assign(w + rng.normal(0, 0.3, w.shape).astype("float32"))
    first = tf.nn.softmax(model(np.zeros((1, 2, 3), "int32"))[0, 0, 0]).numpy()
    for temperature in (1.0, 2.0):
        draws = model.sample(3000, temperature=temperature, seed=0).numpy()[:, 0, 0]
        expected = first ** (1 / temperature) / (first ** (1 / temperature)).sum()
        np.testing.assert_allclose(np.bincount(draws, minlength=3) / 3000, expected, atol=0.03)
    # at a tiny temperature sampling is greedy decoding, one position at a time in raster order
    greedy = np.zeros((2, 2, 3), "int32")
    for p in range(6):
        i, j = divmod(p, 3)
        greedy[:, i, j] = model(greedy).numpy()[:, i, j].argmax(-1)
    np.testing.assert_array_equal(model.sample(2, temperature=1e-6, seed=5), greedy)


@pytest.mark.slow  # the conformance matrix checks this for every family (fast for its kind's representative)
def test_save_load_round_trip(rng, tmp_path):
    model = PixelCNN(6, (4, 4), filters=8, num_layers=3, num_classes=3, label_embedding=2,
                     condition_shape=(2, 2), condition_num_embeddings=5, condition_layers=2, attention_every=2,
                     dropout=0.1, seed=2)
    data = {"codes": rng.integers(0, 6, (4, 4, 4)), "label": np.array([0, 1, 2, 0]),
            "condition": rng.integers(0, 5, (4, 2, 2))}
    for w in model.trainable_weights:  # off the initial values
        w.assign(w + rng.normal(0, 0.1, w.shape).astype("float32"))
    config = json.loads(json.dumps(model.get_config()))
    assert json.loads(json.dumps(PixelCNN.from_config(config).get_config())) == config
    model.save(tmp_path / "prior.keras")
    loaded = keras.saving.load_model(tmp_path / "prior.keras")
    assert type(loaded) is PixelCNN and MODELS.get("pixelcnn") is PixelCNN
    np.testing.assert_array_equal(loaded(data), model(data))
    np.testing.assert_array_equal(loaded.sample(3, label=2, condition=data["condition"][:3], seed=9),
                                  model.sample(3, label=2, condition=data["condition"][:3], seed=9))


def test_bad_inputs_fail_with_clear_errors(rng):
    model = PixelCNN(4, (4, 4), filters=4, num_layers=1, num_classes=2, condition_shape=(2, 2), seed=0)
    codes, top = rng.integers(0, 4, (2, 4, 4)), rng.integers(0, 4, (2, 2, 2))
    good = {"codes": codes, "label": np.array([0, 1]), "condition": top}
    with pytest.raises(ValueError, match=r"codes must hold values in \[0, 4\), got values in \[\d, 4\]"):
        model.log_prob({**good, "codes": np.where(codes == 0, 4, codes)})
    with pytest.raises(ValueError, match=r"got values in \[-1"):
        model.log_prob({**good, "codes": codes - 1})
    with pytest.raises(TypeError, match="integer indices"):
        model.log_prob({**good, "codes": codes.astype("float32")})
    with pytest.raises(ValueError, match=r"codes must have shape \(batch, 4, 4\), got \(2, 4, 5\)"):
        model.log_prob({**good, "codes": rng.integers(0, 4, (2, 4, 5))})
    with pytest.raises(ValueError, match="conditioned on class labels"):
        model.log_prob({"codes": codes, "condition": top})
    with pytest.raises(ValueError, match=r"label must hold values in \[0, 2\)"):
        model.log_prob({**good, "label": [0, 2]})
    with pytest.raises(ValueError, match=r"condition must have shape \(batch, 2, 2\)"):
        model.log_prob({**good, "condition": rng.integers(0, 4, (2, 4, 4))})
    with pytest.raises(ValueError, match="label has 3 entries for a batch of 2"):
        model.log_prob({**good, "label": [0, 1, 1]})
    with pytest.raises(ValueError, match="keys"):
        model.log_prob({**good, "labels": [0, 1]})
    with pytest.raises(ValueError, match="temperature"):
        model.sample(2, label=0, condition=top, temperature=0.0)
    with pytest.raises(ValueError, match="conditioned on code maps"):
        model.sample(2, label=0)
    with pytest.raises(ValueError, match="no labels"):
        PixelCNN(4, (4, 4), filters=4, num_layers=1).log_prob({"codes": codes, "label": [0, 1]})
    # inside fit (a graph) the values are checked by an assert op (XLA would drop it: jit_compile off)
    model.compile(optimizer="adam", jit_compile=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"codes must hold values in \[0, 4\)"):
        model.fit({**good, "codes": codes + 4}, batch_size=2, epochs=1, verbose=0)
    for bad in ({"num_embeddings": 1}, {"kernel_size": 4}, {"num_classes": 1}, {"attention_every": 0},
                {"code_shape": (4,)}, {"label_embedding": 3}, {"condition_layers": -1}):
        with pytest.raises(ValueError):
            PixelCNN(**{"num_embeddings": 4, "code_shape": (4, 4), "filters": 4, "num_layers": 1, **bad})


@pytest.mark.slow  # the conformance matrix checks this for every family (fast for its kind's representative)
def test_mixed_precision_logits_are_float32(rng):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = PixelCNN(4, (4, 4), filters=8, num_layers=2, condition_shape=(2, 2), attention_every=2, seed=0)
    data = {"codes": rng.integers(0, 4, (2, 4, 4)), "condition": rng.integers(0, 4, (2, 2, 2))}
    assert model(data).dtype == tf.float32
    assert model.log_prob(data).dtype == tf.float32 and np.isfinite(model.log_prob(data)).all()
    assert model.blocks[0].compute_dtype == "bfloat16" and model.embed_codes(data["codes"]).dtype == tf.bfloat16
