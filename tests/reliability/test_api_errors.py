"""Bad input at the Python API and at the serving door: refused with an error that names it.

Only what ``tests/models`` and ``tests/export`` do not already check: arguments
that used to be truncated (``latent_dim=2.5``), non-finite weights (``beta=inf``)
that turned every loss into ``inf``, method arguments that failed deep inside
TensorFlow (``num_samples=-1``, a seed of three numbers), and the dtype door of
a SavedModel loaded with ``tf.saved_model.load``.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE, BetaVAE
from tfvae.distributions import (
    DiagonalGaussianPosterior,
    GaussianLikelihood,
    MixtureOfGaussiansPrior,
)
from tfvae.models import TDVAE, VQVAE, ConditionalVAE, KSparseAE, Seq2SeqAE
from tfvae.networks import MLP, ConvEncoder
from tfvae.validation import check_int, check_number

SHAPE = (6, 1)
#: the export's max_request_rows in the serving-door tests
MAX_ROWS = 8


def small(cls=VAE, **kwargs):
    options = {"latent_dim": 2, "hidden_units": (4,), "seed": 0, **kwargs}
    return cls.mlp(SHAPE, **options)


# ------------------------------------------------------------ constructors
@pytest.mark.parametrize(
    "build, error, message",
    [
        # sizes: refused, not truncated or coerced (2.5 used to build a 2-D latent space)
        (lambda: small(latent_dim=2.5), TypeError, r"latent_dim must be an integer, got 2\.5"),
        (lambda: small(latent_dim="3"), TypeError, r"latent_dim must be an integer, got '3' \(str\)"),
        (lambda: small(latent_dim=True), TypeError, r"latent_dim must be an integer, got True \(bool\)"),
        (lambda: small(num_samples=1.5), TypeError, r"num_samples must be an integer, got 1\.5"),
        (lambda: small(hidden_units=4), TypeError, r"hidden_units must be a sequence of integers"),
        (lambda: small(hidden_units=(8, -4)), ValueError, r"hidden_units\[1\] must be >= 1, got -4"),
        (lambda: small(ConditionalVAE, num_classes=2.5), TypeError, r"num_classes must be an integer, got 2\.5"),
        (lambda: small(KSparseAE, latent_dim=4, k=2.5), TypeError, r"k must be an integer, got 2\.5"),
        (lambda: VAE.conv((8, 8, 1), latent_dim=2, filters=(4, 0)), ValueError, r"filters\[1\] must be >= 1, got 0"),
        (lambda: ConvEncoder((4,), (4,), kernel_size=0), ValueError, r"kernel_size must be >= 1, got 0"),
        (lambda: MLP((3,), (2.5,)), TypeError, r"hidden_units\[0\] must be an integer"),
        (lambda: Seq2SeqAE.recurrent((5, 1), latent_dim=2, hidden_units=(0,)), ValueError, r"hidden_units\[0\] must be >= 1"),
        (lambda: TDVAE.mlp((5, 2), max_jump=1.5), TypeError, r"max_jump must be an integer, got 1\.5"),
        (lambda: VQVAE.conv((8, 8, 1), num_embeddings=4, embedding_dim=2, filters=(4,)), TypeError,
         r"filters must be an integer, got \(4,\) \(tuple\)"),
        (lambda: MixtureOfGaussiansPrior(2, num_components=0.5), TypeError, r"num_components must be an integer"),
        # weights: finite, or every loss is inf / nan
        (lambda: small(beta=float("inf")), ValueError, r"beta must be a finite number, got inf"),
        (lambda: small(BetaVAE, gamma=float("inf"), capacity_max=5.0), ValueError, r"gamma must be a finite number"),
        (lambda: small(free_bits=float("inf")), ValueError, r"free_bits must be a finite number"),
        (lambda: small(BetaVAE, beta=-1.0), ValueError, r"beta must be >= 0, got -1"),
        # scales: a Gaussian sigma that float32 turns into 0, inf or a NaN log-density
        (lambda: GaussianLikelihood(SHAPE, scale=float("inf")), ValueError, r"scale must be a finite number"),
        (lambda: GaussianLikelihood(SHAPE, scale=1e-30), ValueError, r"below scale_floor"),
        (lambda: GaussianLikelihood(SHAPE, learn_scale="global", scale_floor=0.0), ValueError,
         r"scale_floor must be > 0, got 0"),
        (lambda: GaussianLikelihood(SHAPE, learn_scale="global", scale_floor=-1.0), ValueError,
         r"scale_floor must be > 0, got -1"),
        (lambda: GaussianLikelihood(SHAPE, scale=1e-44, scale_floor=1e-45), ValueError, r"float32 rounds it to 0"),
        (lambda: DiagonalGaussianPosterior(2, scale_floor=float("inf")), ValueError, r"scale_floor must be a finite"),
        (lambda: DiagonalGaussianPosterior(2, max_scale=1e-5), ValueError, r"max_scale .* must exceed scale_floor"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_constructor_arguments_are_refused_by_name(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_integral_floats_and_numpy_ints_are_still_accepted():
    # JSON configs may carry 16.0; numpy ints come from array arithmetic
    model = small(latent_dim=np.int64(3), num_samples=2.0, hidden_units=[np.int32(4)])
    assert model.latent_dim == 3 and model.num_samples == 2 and isinstance(model.num_samples, int)
    assert check_int(np.int64(7), "n") == 7 and check_number(np.float32(0.5), "w", 0.0) == 0.5


# ------------------------------------------------------------------ methods
def test_elbo_and_sample_check_their_counts_and_seeds():
    model = small()
    x = np.full((3, *SHAPE), 0.5, "float32")
    with pytest.raises(ValueError, match="num_samples must be >= 1, got 0"):  # used to fall back to the default
        model.elbo(x, num_samples=0)
    with pytest.raises(ValueError, match="num_samples must be >= 1, got -1"):  # used to fail inside Philox
        model.elbo(x, num_samples=-1)
    with pytest.raises(ValueError, match=r"seed must be an int or a length-2 int seed, got shape \(3,\)"):
        model.elbo(x, seed=[1, 2, 3])  # used to run with an ignored third number
    with pytest.raises(TypeError, match="seed must be an int or a length-2 int seed, got dtype float32"):
        model.sample(2, seed=[0.5, 1.5])
    with pytest.raises(ValueError, match="num_samples must be >= 0, got -1"):
        model.sample(-1)
    with pytest.raises(TypeError, match=r"num_samples must be an integer, got 2\.5"):
        model.sample(2.5)  # used to give 2 samples
    assert model.sample(0).shape == (0, *SHAPE)
    # an int seed is a valid seed, the same as [seed, 0]
    np.testing.assert_array_equal(model.sample(2, seed=7), model.sample(2, seed=[7, 0]))
    np.testing.assert_array_equal(model.elbo(x, seed=7)["elbo"], model.elbo(x, seed=(7, 0))["elbo"])


def test_conditional_sample_checks_labels_and_handles_zero_samples():
    model = small(ConditionalVAE, num_classes=3)
    with pytest.raises(TypeError, match="integer class labels"):
        model.sample(2, condition=2.5)  # used to draw class 2
    with pytest.raises(ValueError, match="condition has 3 labels for a batch of 2"):
        model.sample(2, condition=[0, 1, 2])
    with pytest.raises(ValueError, match="needs condition="):
        model.sample(2)
    assert model.sample(0, condition=1).shape == (0, *SHAPE)  # used to divide by zero
    assert model.elbo(np.zeros((0, *SHAPE), "float32"), condition=np.zeros((0,), "int32"))["elbo"].shape == (0,)


def test_messages_describe_the_argument_they_are_about():
    model = small()
    # codes are not images: no "scale integer images" advice for z
    with pytest.raises(TypeError, match=r"z must be floating point with shape \(batch, 2\), got dtype int64$"):
        model.decode(np.zeros((3, 2), "int64"))
    with pytest.raises(ValueError, match=r"x must be a rectangular array of shape \(batch, 6, 1\)"):
        model.encode([[[0.5]] * 6, [[0.5]] * 5])
    sequences = TDVAE.mlp((5, 2), latent_dim=2, hidden_units=(4,), belief_units=4, block_units=4, max_jump=2, seed=0)
    # the time axis is called time, not a second "batch"
    with pytest.raises(TypeError, match=r"x_context must be floating point with shape \(batch, time, 2\)"):
        sequences.rollout(np.zeros((2, 5, 2), "int32"), horizon=2)
    with pytest.raises(TypeError, match=r"horizon must be an integer, got 2\.5"):
        sequences.rollout(np.zeros((2, 5, 2), "float32"), horizon=2.5)
    vq = VQVAE.conv((8, 8, 1), num_embeddings=4, embedding_dim=2, filters=4, residual_filters=4,
                    num_residual_blocks=0, seed=0)
    with pytest.raises(ValueError, match=r"prior_nll must hold one NLL per example, shape \(2,\); got \(3,\)"):
        vq.bound(np.zeros((2, 8, 8, 1), "float32"), prior_nll=np.zeros(3))


# ------------------------------------------------------------- serving door
@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from tfvae.export import export_saved_model

    model = small()
    path = export_saved_model(model, tmp_path_factory.mktemp("export") / "vae", warmup=False,
                              max_request_rows=MAX_ROWS)
    return tf.saved_model.load(str(path))


def test_loaded_signatures_refuse_wrong_dtypes_instead_of_casting(loaded):
    x = np.full((2, *SHAPE), 0.5)
    serve, score = loaded.signatures["serving_default"], loaded.signatures["score"]
    for bad in (tf.constant(x), tf.constant(x.astype("int32"))):  # float64 data, integer images
        with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a float tensor"):
            serve(x=bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a int64 tensor but is a int32"):
        score(x=tf.constant(x, tf.float32), seed=tf.zeros((2, 2), tf.int32))
    assert serve(x=tf.constant(x, tf.float32))["reconstruction"].dtype == tf.float32


def test_loaded_signatures_name_the_input_with_a_wrong_inner_shape_or_nan(loaded):
    signatures = loaded.signatures
    cases = [
        ("serving_default", {"x": tf.zeros((2, 7, 1))}, r"x must have shape \(batch, 6, 1\); got\] \[2 7 1\]"),
        ("encode", {"x": tf.zeros((2, 6))}, r"x must have shape \(batch, 6, 1\); got\] \[2 6\]"),
        ("decode", {"z": tf.zeros((2, 3))}, r"z must have shape \(batch, 2\); got\] \[2 3\]"),
        ("sample", {"seed": tf.zeros((2, 3), tf.int64)}, r"seed must have shape \(batch, 2\)"),
        ("score", {"x": tf.fill((2, 6, 1), np.nan), "seed": tf.zeros((2, 2), tf.int64)}, "x contains NaN"),
        ("decode", {"z": tf.fill((2, 2), np.inf)}, "z contains NaN or infinite values"),
    ]
    for name, inputs, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            signatures[name](**inputs)
    # an empty request is valid: every signature answers with zero rows
    assert signatures["score"](x=tf.zeros((0, 6, 1)), seed=tf.zeros((0, 2), tf.int64))["score"].shape == (0,)
    assert signatures["sample"](seed=tf.zeros((0, 2), tf.int64))["samples"].shape == (0, 6, 1)


def test_loaded_signatures_refuse_more_rows_than_the_export_takes(loaded):
    from conformance.refusals import expected_message, too_many_rows

    from tfvae.export import serving_signatures

    cases = too_many_rows(serving_signatures(small()), MAX_ROWS)
    assert {case["signature"] for case in cases} == {"serving_default", "encode", "decode", "score", "sample"}
    for case in cases:
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
            loaded.signatures[case["signature"]](**{k: tf.constant(v) for k, v in case["feeds"].items()})
        assert expected_message(case) in error.value.message and f"[{MAX_ROWS + 1}]" in error.value.message
        at_limit = {k: tf.constant(v[:MAX_ROWS]) for k, v in case["feeds"].items()}
        assert len(next(iter(loaded.signatures[case["signature"]](**at_limit).values()))) == MAX_ROWS
