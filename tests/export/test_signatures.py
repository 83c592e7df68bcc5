"""The signature registry, per-family hooks, warmup records and the seed contract."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE, Autoencoder, GenerativeModel
from tfvae.export import (
    ExportError,
    ServingModule,
    Signature,
    register_signatures,
    serving_signatures,
    vae_signatures,
    warmup_records,
)
from tfvae.export.signatures import default_example

SHAPE = (6, 1)


def small(cls=VAE, **kwargs):
    return cls.mlp(SHAPE, latent_dim=2, hidden_units=(4,), seed=0, **kwargs)


class HookedVAE(VAE):
    """A family that brings its own signatures through the model hook."""

    def serving_signatures(self):
        signatures = vae_signatures(self)
        signatures["embed"] = Signature(
            {"x": tf.TensorSpec([None, *self.data_shape], tf.float32)},
            lambda x: {"code": self.encode(x).mean()},
        )
        return signatures


class RegisteredAE(Autoencoder):
    """A family registered in the export registry (no hook on the class)."""


@register_signatures(RegisteredAE)
def _registered_signatures(model):
    return {"serving_default": Signature({"x": tf.TensorSpec([None, *model.data_shape], tf.float32)},
                                         lambda x: {"twice": 2.0 * model.reconstruct(x)})}


def test_families_get_their_signatures_by_mro_hook_or_registry():
    assert sorted(serving_signatures(small(Autoencoder))) == ["decode", "encode", "score", "serving_default"]
    assert sorted(serving_signatures(small())) == ["decode", "encode", "sample", "score", "serving_default"]
    assert "embed" in serving_signatures(small(HookedVAE))
    assert sorted(serving_signatures(small(RegisteredAE))) == ["serving_default"]

    model = small(RegisteredAE)
    x = np.full((2, *SHAPE), 0.5, "float32")
    out = ServingModule(model).concrete_functions["serving_default"](x=x)
    assert list(out) == ["twice"]
    np.testing.assert_allclose(out["twice"], 2.0 * model.reconstruct(x), rtol=1e-6)


def test_models_without_signatures_are_refused_clearly():
    with pytest.raises(ExportError, match="no serving signatures for GenerativeModel"):
        serving_signatures(GenerativeModel())

    class NoDefault(VAE):
        def serving_signatures(self):
            return {"encode": vae_signatures(self)["encode"]}

    with pytest.raises(ExportError, match="lack 'serving_default'"):
        serving_signatures(small(NoDefault))


def test_a_signature_must_return_tensors():
    model = small()
    spec = {"x": tf.TensorSpec([None, *SHAPE], tf.float32)}
    for fn, message in ((lambda x: model.encode(x), "non-empty dict"),
                        (lambda x: {"q": model.encode(x)}, "'q' is MultivariateNormalDiag, not a tensor")):
        with pytest.raises(ExportError, match=message):
            ServingModule(model, {"serving_default": Signature(spec, fn)})


def test_sample_and_score_depend_only_on_their_seed_row():
    model = small(num_samples=3)
    functions = ServingModule(model).concrete_functions
    seeds = np.array([[5, 0], [5, 1], [5, 0]], np.int64)
    samples = functions["sample"](seed=seeds)
    np.testing.assert_array_equal(samples["z"][0], samples["z"][2])  # drawn row by row
    np.testing.assert_allclose(samples["samples"][0], samples["samples"][2], rtol=1e-6)  # decoded as a batch
    assert not np.allclose(samples["z"][0], samples["z"][1])
    np.testing.assert_array_equal(functions["sample"](seed=seeds)["z"], samples["z"])  # deterministic
    # the model's own random stream is not touched by the signatures
    state = model.seed_generator.state.numpy().copy()
    x = np.full((3, *SHAPE), 0.5, "float32")
    score = functions["score"](x=x, seed=seeds)["score"].numpy()
    assert score[0] == score[2] and score[0] != score[1]
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)
    with pytest.raises(tf.errors.InvalidArgumentError, match="seed needs one row per example of x"):
        functions["score"](x=x, seed=seeds[:2])


def test_warmup_records_hold_one_valid_request_per_signature():
    model = small()
    signatures = serving_signatures(model)
    records = warmup_records(signatures, "digits")
    assert [r.predict_log.request.model_spec.signature_name for r in records] == list(signatures)
    functions = ServingModule(model, signatures).concrete_functions
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.name == "digits"
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        specs = signatures[request.model_spec.signature_name].inputs
        assert {k: (v.dtype, v.shape[1:]) for k, v in inputs.items()} == {
            k: (s.dtype.as_numpy_dtype, tuple(s.shape[1:])) for k, s in specs.items()}
        outputs = functions[request.model_spec.signature_name](**inputs)
        assert all(np.all(np.isfinite(v)) for v in outputs.values())


def test_default_example_fills_free_dimensions():
    spec = tf.TensorSpec([None, None, 3], tf.int32)
    value = default_example(spec, 2)
    assert value.shape == (2, 1, 3) and value.dtype == np.int32 and not value.any()
    assert default_example(tf.TensorSpec([None, 2], tf.float32), 1).tolist() == [[0.5, 0.5]]
