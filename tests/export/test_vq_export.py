"""VQ-VAE export: codes out of ``encode``, into ``decode``, drawn by the PixelCNN prior in ``sample``."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

import tfvae.experiment
from tfvae import VAE, VQVAE, VQVAE2
from tfvae.cli import main
from tfvae.config import ExperimentConfig
from tfvae.experiment import prior_directory, save_prior
from tfvae.export import (
    ExportError,
    ServingModule,
    export_saved_model,
    read_warmup_file,
)

SMALL = {"num_embeddings": 16, "embedding_dim": 4, "filters": 8, "residual_filters": 4, "num_residual_blocks": 1}
PRIOR = {"filters": 16, "num_layers": 2, "seed": 0}
SIGNATURES = ["decode", "encode", "sample", "score", "serving_default"]


def traced(model, prior):
    return SimpleNamespace(model=model, prior=prior, functions=ServingModule(model, prior=prior).concrete_functions)


@pytest.fixture(scope="module")
def vq():
    """A VQ-VAE (7x7 codes of 16) and a class-conditional prior (3 classes)."""
    model = VQVAE.conv(seed=0, **SMALL)
    return traced(model, model.make_prior(num_classes=3, **PRIOR))


@pytest.fixture(scope="module")
def vq2():
    """A VQ-VAE-2 on 16x16 images (4x4 bottom and 2x2 top codes) and its unconditional prior."""
    model = VQVAE2.conv((16, 16, 1), seed=0, **SMALL)
    return traced(model, model.make_prior(**PRIOR))


def images(rng, model, n=3):
    return (rng.uniform(size=(n, *model.data_shape)) > 0.5).astype("float32")


def by_name(model, codes):
    return {"indices": codes} if isinstance(model, VQVAE) else {f"{k}_indices": v for k, v in codes.items()}


@pytest.mark.parametrize("which", ["vq", "vq2"])
def test_encode_gives_the_code_indices_and_decode_maps_them_to_the_reconstruction(which, request, rng):
    served = request.getfixturevalue(which)
    model, functions = served.model, served.functions
    x = images(rng, model)
    encoded = functions["encode"](x=x)
    indices = {k: v for k, v in encoded.items() if k.endswith("indices")}
    expected = by_name(model, model.encode_indices(x))
    assert sorted(indices) == sorted(expected)
    for key, value in expected.items():
        assert encoded[key].dtype == tf.int32
        np.testing.assert_array_equal(encoded[key], value, err_msg=key)
    np.testing.assert_allclose(encoded["z"], model.encode(x).mean(), rtol=1e-6, atol=1e-6)

    decoded = functions["decode"](**indices)
    reconstruction = model.reconstruct(x).numpy()
    np.testing.assert_allclose(decoded["mean"], reconstruction, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(decoded["logits"], model.decode_codes(model.encode_indices(x)).distribution.logits,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(functions["serving_default"](x=x)["reconstruction"], reconstruction,
                               rtol=1e-5, atol=1e-6)


def test_score_is_the_bound_under_the_uniform_prior(vq, vq2, rng):
    for served in (vq, vq2):
        model = served.model
        x = images(rng, model)
        score = {k: v.numpy() for k, v in served.functions["score"](x=x).items()}
        assert sorted(score) == ["distortion", "nll_bound", "rate", "score"]
        bound = model.bound(x)
        for key in ("distortion", "rate", "nll_bound"):
            np.testing.assert_allclose(score[key], bound[key], rtol=1e-5, err_msg=key)
        np.testing.assert_array_equal(score["score"], score["nll_bound"])
        np.testing.assert_allclose(score["nll_bound"], score["distortion"] + score["rate"], rtol=1e-6)
    np.testing.assert_allclose(vq.functions["score"](x=images(rng, vq.model, 1))["rate"], [49 * math.log(16)],
                               rtol=1e-6)  # 7 x 7 codes of 16, in nats


def test_sample_is_seeded_row_by_row_and_decodes_to_images(vq):
    model, prior, sample = vq.model, vq.prior, vq.functions["sample"]
    seeds = np.array([[3, 0], [4, 0], [3, 0], [3, 1]], np.int64)
    labels = np.array([1, 1, 1, 2], np.int32)
    out = sample(seed=seeds, label=labels)
    assert sorted(out) == ["indices", "samples"]
    assert out["samples"].shape == (4, 28, 28, 1) and out["samples"].dtype == tf.float32
    assert out["indices"].shape == (4, 7, 7) and out["indices"].dtype == tf.int32
    codes = out["indices"].numpy()
    assert codes.min() >= 0 and codes.max() < 16
    again = sample(seed=seeds, label=labels)
    for key in out:  # the same seeds give the same draws
        np.testing.assert_array_equal(again[key], out[key], err_msg=key)
    np.testing.assert_array_equal(codes[0], codes[2])  # each row depends on its own seed and label only
    assert (codes[0] != codes[1]).any() and (codes[0] != codes[3]).any()
    np.testing.assert_allclose(out["samples"], model.decode_indices(codes).mean(), rtol=1e-5, atol=1e-6)
    for i in (0, 3):  # row i is model.sample(1, prior, condition=label[i], seed=seed[i])
        np.testing.assert_array_equal(codes[i], model.sample_codes(1, prior, label=labels[i], seed=seeds[i])[0])
        np.testing.assert_allclose(out["samples"][i], model.sample(1, prior, condition=labels[i], seed=seeds[i])[0],
                                   rtol=1e-5, atol=1e-6)


def test_vq_vae2_samples_both_levels_as_the_model_does(vq2):
    model, prior = vq2.model, vq2.prior
    out = vq2.functions["sample"](seed=np.array([[5, 0], [6, 0]], np.int64))
    assert sorted(out) == ["bottom_indices", "samples", "top_indices"]
    assert out["bottom_indices"].shape == (2, 4, 4) and out["top_indices"].shape == (2, 2, 2)
    assert out["samples"].shape == (2, 16, 16, 1)
    for i, seed in enumerate((5, 6)):  # seed row [s, 0] is model.sample(1, prior, seed=s)
        codes = model.sample_codes(1, prior, seed=seed)
        np.testing.assert_array_equal(out["top_indices"][i], codes["top"][0])
        np.testing.assert_array_equal(out["bottom_indices"][i], codes["bottom"][0])
        np.testing.assert_allclose(out["samples"][i], model.sample(1, prior, seed=seed)[0], rtol=1e-5, atol=1e-6)


def test_bad_codes_labels_and_seeds_fail_in_the_graph(vq, vq2):
    decode = vq.functions["decode"]
    codes = np.zeros((2, 7, 7), np.int32)
    for value, found in ((16, r"from\] \[0\] \[to\] \[16\]"), (-1, r"from\] \[-1\] \[to\] \[0\]")):
        bad = codes.copy()
        bad[1, 3, 4] = value
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=rf"indices must hold code indices in \[0, 16\); got values {found}"):
            decode(indices=bad)
    # (wrong inner shapes never reach the graph through a concrete function; the conformance
    # suite feeds them through a TF1 session, as TF Serving does)

    decode2 = vq2.functions["decode"]
    bottom, top = np.zeros((2, 4, 4), np.int32), np.zeros((2, 2, 2), np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"top_indices must hold code indices in \[0, 16\)"):
        decode2(bottom_indices=bottom, top_indices=top + 20)
    with pytest.raises(tf.errors.InvalidArgumentError, match="top_indices needs one row per example of bottom_indices"):
        decode2(bottom_indices=bottom, top_indices=top[:1])

    sample = vq.functions["sample"]
    seeds = np.zeros((2, 2), np.int64)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must have shape \(batch,\) .* in \[0, 3\)"):
        sample(seed=seeds, label=np.array([0, 3], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one label per row"):
        sample(seed=seeds, label=np.array([0], np.int32))


def test_the_prior_is_saved_with_the_model_and_the_warmup_requests_replay(vq, tmp_path):
    model, prior = vq.model, vq.prior
    module = ServingModule(model, prior=prior)
    saved = {id(v) for v in module.serving_variables}
    assert all(id(v.value) in saved for v in prior.trainable_variables)  # the prior's weights travel too

    path = export_saved_model(model, tmp_path / "vqvae", prior=prior, module=None)
    loaded = tf.saved_model.load(str(path))
    assert sorted(loaded.signatures) == SIGNATURES
    records = read_warmup_file(path)
    assert sorted(r.predict_log.request.model_spec.signature_name for r in records) == SIGNATURES
    for record in records:  # what TF Serving replays at load
        request = record.predict_log.request
        feed = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = loaded.signatures[request.model_spec.signature_name](**feed)
        assert all(np.all(np.isfinite(v)) for v in outputs.values()), request.model_spec.signature_name

    seeds, labels = np.array([[9, 0], [9, 1]], np.int64), np.array([0, 2], np.int32)
    served = loaded.signatures["sample"](seed=tf.constant(seeds), label=tf.constant(labels))
    in_memory = vq.functions["sample"](seed=seeds, label=labels)
    np.testing.assert_array_equal(served["indices"], in_memory["indices"])
    np.testing.assert_allclose(served["samples"], in_memory["samples"], rtol=1e-5, atol=1e-6)


def test_priors_that_do_not_fit_are_refused(vq, vq2, tmp_path):
    vae = VAE.mlp((6, 1), latent_dim=2, hidden_units=(4,), seed=0)
    with pytest.raises(ExportError, match="VAE is exported without a prior"):
        ServingModule(vae, prior=vq.prior)
    cases = [
        (vq.model, vq2.prior, "the prior of a VQVAE is one PixelCNN"),
        (vq2.model, vq.prior, r"the prior of a VQVAE2 is a dict \{'top': PixelCNN, 'bottom': PixelCNN\}"),
        (vq.model, vq2.prior["top"], r"the prior models \(2, 2\) maps of 16 codes; the VQVAE has \(7, 7\) maps of 16"),
        (vq2.model, {"top": vq2.prior["top"], "bottom": vq2.prior["top"]}, r"the bottom prior models \(2, 2\) maps"),
    ]
    for model, prior, message in cases:
        with pytest.raises(ExportError, match=message):
            ServingModule(model, prior=prior)
    with pytest.raises(ExportError, match="either module or prior"):
        export_saved_model(vq.model, tmp_path / "vq", module=ServingModule(vq.model), prior=vq.prior)
    assert not (tmp_path / "vq").exists()


def test_cli_export_adds_sample_when_the_run_has_a_trained_prior(vq, monkeypatch, tmp_path, capsys):
    directory = tmp_path / "run"
    (directory / "checkpoints").mkdir(parents=True)  # what the command line checks before loading the run
    (directory / "config.json").write_text(ExperimentConfig(name="vqvae").to_json())
    (directory / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-3"\n')
    run = SimpleNamespace(config=SimpleNamespace(name="vqvae"), model=vq.model, directory=directory, epochs_done=3,
                          data_shape=(28, 28, 1))
    monkeypatch.setattr(tfvae.experiment, "load_run", lambda path: run)  # the VQ-VAE checkpoint, without training one
    root = tmp_path / "saved_models"
    assert main(["export", str(directory), "--out-root", str(root), "--no-warmup"]) == 0  # no RUN/prior/ yet
    out = capsys.readouterr().out
    assert "\n  sample " not in out and "with its prior" not in out
    assert "decode           indices int32 (-1, 7, 7)  ->  logits float32 (-1, 28, 28, 1), mean float32" in out

    save_prior(vq.prior, prior_directory(directory))  # what `tfvae train vq_prior --from RUN` leaves
    assert main(["export", str(directory), "--out-root", str(root), "--no-warmup"]) == 0
    out = capsys.readouterr().out
    assert f"with its prior (sample signature) to {root / 'vqvae' / '2'}" in out
    assert ("sample           label int32 (-1,), seed int64 (-1, 2)  ->  "
            "indices int32 (-1, 7, 7), samples float32 (-1, 28, 28, 1)") in out
    served = tf.saved_model.load(str(root / "vqvae" / "2")).signatures["sample"]
    seeds, labels = np.array([[2, 0], [2, 1]], np.int64), np.array([1, 0], np.int32)
    np.testing.assert_array_equal(served(seed=tf.constant(seeds), label=tf.constant(labels))["indices"],
                                  vq.functions["sample"](seed=seeds, label=labels)["indices"])
