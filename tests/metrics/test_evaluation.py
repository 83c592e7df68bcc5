"""evaluate_model over a data set, and the `tfvae evaluate` command end to end."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tfvae.cli import main
from tfvae.metrics import elbo_terms, evaluate_model, iwae_log_likelihood
from tfvae.random import as_seed, fold_seed


def test_evaluate_model_summarises_a_vae(trained_vae):
    model, x_test = trained_vae
    x = x_test[:60]
    data = tf.data.Dataset.from_tensor_slices((x, np.zeros(60, np.int32))).batch(25)  # (x, y) batches
    result = evaluate_model(model, data, iwae_k=50, chunk_size=20, seed=4, verbose=0,
                            bits_per_dim_convention="discrete", bits_per_dim_note="test")
    assert result.num_examples == 60 and result.skipped == {}
    summary = json.loads(json.dumps(result.summary()))  # JSON-ready
    assert summary["iwae_nll"]["k"] == 50
    assert summary["iwae_nll"]["mean"] < -summary["elbo"]["mean"]
    assert 0 < summary["iwae_nll"]["mc_stderr"] < summary["iwae_nll"]["sem"]
    # per batch i the IWAE seed is [seed, i]: the first batch is reproducible by hand
    first = iwae_log_likelihood(model, x[:25], k=50, chunk_size=20, seed=tf.constant([4, 0], tf.int64))
    np.testing.assert_allclose(result.per_example["iwae_nll"][:25], first.nll, rtol=1e-6)
    nll = result.per_example["iwae_nll"]
    assert summary["iwae_nll"]["sem"] == pytest.approx(np.std(nll, ddof=1) / np.sqrt(60))
    assert summary["bits_per_dim"]["value"] == pytest.approx(nll.mean() / (784 * np.log(2)))
    assert summary["active_units"]["latent_dim"] == 8
    assert sum(summary["kl_per_dim"]) == pytest.approx(summary["rate"]["mean"], rel=1e-3)
    table = result.table()
    for label in ("ELBO", "IWAE NLL, k=50", "bits/dim (discrete)", "active units"):
        assert label in table


def test_evaluate_model_draws_every_column_from_its_seed_and_leaves_the_model_stream_alone(digits):
    model = tfvae.VAE.mlp(latent_dim=2, hidden_units=(8,), seed=0)
    x = digits[0][:6]
    state = model.seed_generator.state.numpy().copy()
    # the IWAE codes' seeds are checked above ([seed, i]); no IWAE here saves tracing its chunk function
    first, again = (evaluate_model(model, x, iwae_k=None, batch_size=3, seed=7, verbose=0) for _ in "ab")
    assert {"elbo", "distortion", "rate"} <= set(first.per_example)
    for name, values in first.per_example.items():  # the same seed: the same numbers, every column
        np.testing.assert_array_equal(again.per_example[name], values, err_msg=name)
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)
    # batch i's ELBO draws come from fold_seed([seed, i], 1), its IWAE codes from [seed, i]
    second_batch = elbo_terms(model, x[3:], seed=fold_seed(as_seed(7, index=1), 1))
    np.testing.assert_allclose(first.per_example["elbo"][3:], second_batch["elbo"].numpy(), rtol=1e-6)
    other = evaluate_model(model, x[:3], iwae_k=None, seed=8, verbose=0)
    assert not np.allclose(other.per_example["distortion"], first.per_example["distortion"][:3])  # the seed moves it
    evaluate_model(model, x[:3], iwae_k=None, seed=None, verbose=0)  # fresh draws, the stream still alone
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)


def test_evaluate_model_on_an_autoencoder_reports_its_distortion(digits):
    model = tfvae.Autoencoder.mlp(latent_dim=3, hidden_units=(16,), seed=0)
    x = digits[0][:30]
    result = evaluate_model(model, x, batch_size=8, max_examples=20, verbose=0)
    assert result.num_examples == 20
    assert {"elbo", "iwae_nll", "kl_per_dim"} <= set(result.skipped)
    assert "declares no likelihood bound" in result.skipped["iwae_nll"]
    np.testing.assert_allclose(result.per_example["distortion"], result.per_example["reconstruction_nll"])
    summary = result.summary()
    assert "elbo" not in summary and summary["kl_per_dim"] is None and summary["bits_per_dim"] is None
    assert "skipped iwae_nll" in result.table()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("evaluate") / "run"
    assert main(["train", "vae", "--epochs", "1", "--batch-size", "250", "--set", "model.hidden_units=[32]",
                 "--set", "model.latent_dim=2", "--quiet", "--out", str(run)]) == 0
    return run


def test_evaluate_command_writes_metrics_json(tiny_run, capsys):
    assert main(["evaluate", str(tiny_run), "--iwae-k", "30", "--chunk-size", "16", "--max-examples", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "IWAE NLL, k=30" in out and "metrics written to" in out
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["num_examples"] == 40 and metrics["epochs_done"] == 1 and metrics["split"] == "test"
    assert metrics["data"].startswith("digits test, static binarization")
    assert metrics["iwae_nll"]["k"] == 30 and metrics["iwae_nll"]["mean"] > 0
    assert metrics["iwae_nll"]["mean"] <= -metrics["elbo"]["mean"] + 1.0
    assert metrics["bits_per_dim"]["convention"] == "discrete"
    assert metrics["active_units"]["latent_dim"] == 2
    # the same command gives the same numbers (fixed test set and seeds)
    assert main(["evaluate", str(tiny_run), "--iwae-k", "30", "--chunk-size", "16", "--max-examples", "40", "--quiet",
                 "--out", str(tiny_run / "again.json")]) == 0
    again = json.loads((tiny_run / "again.json").read_text())
    assert again["iwae_nll"]["mean"] == pytest.approx(metrics["iwae_nll"]["mean"], abs=1e-6)


def test_evaluate_command_errors_are_one_line(tmp_path, tiny_run, capsys):
    assert main(["evaluate", str(tmp_path / "nothing")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    assert main(["evaluate", str(tiny_run), "--iwae-k", "-3"]) == 2
    assert "--iwae-k" in capsys.readouterr().err
    assert main(["evaluate", str(tiny_run), "--split", "validation", "--quiet"]) == 2
    assert "validation" in capsys.readouterr().err


def test_autoencoder_family_terms_and_data_outside_the_unit_interval():
    from tfvae.models import SparseAE

    model = SparseAE.mlp(data_shape=(6,), latent_dim=3, hidden_units=(8,), likelihood="gaussian",
                         sparsity="l1", seed=0)
    x = np.random.default_rng(0).normal(size=(24, 6)).astype("float32") * 3.0
    result = evaluate_model(model, x, batch_size=10, verbose=0)
    terms = model.per_example_terms(tf.constant(x))
    np.testing.assert_allclose(result.per_example["sparsity"], terms["sparsity"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(result.per_example["distortion"], terms["distortion"].numpy(), rtol=1e-5)
    assert "bce" not in result.per_example and result.skipped["bce"] == "the data is not in [0, 1]"
    assert "sparsity" in result.summary() and "sparsity" in result.table()


def test_conditional_models_are_refused_with_the_reason(digits):
    from tfvae.metrics import ModelCapabilityError
    from tfvae.models import ConditionalVAE

    cvae = ConditionalVAE.mlp(latent_dim=2, hidden_units=(16,), num_classes=10, seed=0)
    with pytest.raises(ModelCapabilityError, match="is conditional"):
        evaluate_model(cvae, digits[0][:10], verbose=0)
    with pytest.raises(ModelCapabilityError, match="is conditional"):
        iwae_log_likelihood(cvae, digits[0][:2], k=4)
