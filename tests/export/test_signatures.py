"""Signatures declared by the models, the export's generic checks, warmup records and the seed contract."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE, Autoencoder, GenerativeModel
from tfvae.export import ExportError, ServingModule, Signature, serving_signatures, warmup_records
from tfvae.models.contract import ServingInput, data_input

SHAPE = (6, 1)


def small(cls=VAE, **kwargs):
    return cls.mlp(SHAPE, latent_dim=2, hidden_units=(4,), seed=0, **kwargs)


class EmbeddingVAE(VAE):
    """A family that adds a signature by extending its parent's declaration."""

    def serving_signatures(self, prior=None, options=None):
        signatures = super().serving_signatures(prior, options)
        signatures["embed"] = Signature({"x": data_input(self.data_shape)}, lambda x: {"code": self.embed(x)})
        return signatures


class TwiceAE(Autoencoder):
    """A family that replaces its parent's signatures."""

    def serving_signatures(self, prior=None, options=None):
        self.refuse_serving_extras(prior, options)
        return {"serving_default": Signature({"x": data_input(self.data_shape)},
                                             lambda x: {"twice": 2.0 * self.reconstruct(x)})}


def test_families_declare_their_signatures():
    assert sorted(serving_signatures(small(Autoencoder))) == ["decode", "encode", "score", "serving_default"]
    assert sorted(serving_signatures(small())) == ["decode", "encode", "sample", "score", "serving_default"]
    assert "embed" in serving_signatures(small(EmbeddingVAE))
    assert sorted(serving_signatures(small(TwiceAE))) == ["serving_default"]

    model = small(TwiceAE)
    x = np.full((2, *SHAPE), 0.5, "float32")
    out = ServingModule(model).concrete_functions["serving_default"](x=x)
    assert list(out) == ["twice"]
    np.testing.assert_allclose(out["twice"], 2.0 * model.reconstruct(x), rtol=1e-6)


def test_models_without_signatures_are_refused_clearly():
    with pytest.raises(ExportError, match="GenerativeModel has no serving signatures"):
        serving_signatures(GenerativeModel())
    with pytest.raises(ExportError, match="not a tfvae model"):
        serving_signatures(object())

    class NoDefault(VAE):
        def serving_signatures(self, prior=None, options=None):
            return {"encode": super().serving_signatures()["encode"]}

    with pytest.raises(ExportError, match="lack 'serving_default'"):
        serving_signatures(small(NoDefault))
    with pytest.raises(ExportError, match="VAE is exported without a prior") as caught:
        serving_signatures(small(), prior=small())
    assert caught.value.__cause__ is not None  # the model's ServingError, chained
    with pytest.raises(ExportError, match=r"take no export options, got \['horizon'\]"):
        serving_signatures(small(), options={"horizon": 3})


def test_a_signature_must_return_tensors():
    model = small()
    spec = {"x": data_input(SHAPE)}
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
    np.testing.assert_allclose(samples["samples"][0], samples["samples"][2], rtol=1e-6)
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
        specs = signatures[request.model_spec.signature_name].specs
        assert {k: (v.dtype, v.shape[1:]) for k, v in inputs.items()} == {
            k: (s.dtype.as_numpy_dtype, tuple(s.shape[1:])) for k, s in specs.items()}
        outputs = functions[request.model_spec.signature_name](**inputs)
        assert all(np.all(np.isfinite(v)) for v in outputs.values())


def test_example_inputs_fill_free_dimensions_with_valid_values():
    value = ServingInput("sequence", (None, 3), min_length=4).example(2)
    assert value.shape == (2, 4, 3) and value.dtype == np.float32 and np.all(value == 0.5)
    codes = ServingInput("codes", (2, 2), "int32", depth=5).example(1)
    assert codes.shape == (1, 2, 2) and codes.dtype == np.int32 and not codes.any()
    with pytest.raises(ValueError, match="kind must be one of"):
        ServingInput("pixels", (2,))
