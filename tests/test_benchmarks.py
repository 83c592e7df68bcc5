"""The benchmark commands the README documents run end to end (tiny sizes; the figures are in benchmarks/RESULTS.md)."""

import json
import math

import pytest

pytestmark = pytest.mark.slow


def test_run_quick_writes_every_row_with_its_ratio_and_the_iwae_row(tmp_path, capsys):
    from benchmarks.run import main

    assert main(["--quick", "--examples", "256", "--epochs", "1", "--iwae-k", "100", "--out", str(tmp_path)]) == 0
    (result,) = tmp_path.glob("*.json")
    report = json.loads(result.read_text())
    rows = {row["driver"]: row for row in report["rows"]}
    assert list(rows) == ["reference", "ref-noat", "default", "loop"], [r.get("error") for r in report["rows"]]
    assert rows["reference"]["ratio"] == 1.0 and rows["reference"]["spe"] == 1  # Keras' defaults
    assert rows["default"]["spe"] == 32 and rows["default"]["jit"] is False  # tfvae's CPU defaults
    for row in rows.values():
        assert row["examples_per_s"] > 0 and math.isfinite(row["held_out_loss"]) and row["peak_rss_mib"] > 0
        assert row["ratio"] == pytest.approx(row["examples_per_s"] / rows["reference"]["examples_per_s"])
    assert report["iwae"]["k"] == 100 and report["iwae"]["samples_per_s"] > 0
    assert "ref-noat" in capsys.readouterr().out


def test_interleaved_and_epoch_stall_print_every_row(capsys):
    from benchmarks.epoch_stall import main as epoch_stall
    from benchmarks.interleaved import main as interleaved

    assert interleaved(["--examples", "256", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("reference", "ref-noat", "default", "default-spe1"):
        assert sum(line.startswith(name + " ") for line in out.splitlines()) == 1, out
    assert "reference     examples/s" in out and "ratio: median 1.00  best 1.00" in out

    assert epoch_stall(["--examples", "256", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "autotune on (TF default)" in out and "autotune off (tfvae)" in out and out.count("destroy iterator") == 2


def test_cli_startup_times_every_row_against_import_tensorflow(tmp_path, capsys):
    from benchmarks.cli_startup import TARGET_S, main

    status = main(["--rounds", "1", "--json", str(tmp_path / "startup.json")])
    report = {row["row"]: row for row in json.loads((tmp_path / "startup.json").read_text())["rows"]}
    assert report["import tensorflow"]["ratio_to_import_tensorflow"] == 1.0
    tfvae_rows = [row for name, row in report.items() if name.startswith("tfvae")]
    assert len(tfvae_rows) == 13 and all(row["median_s"] > 0 and row["peak_rss_mib"] > 0 for row in tfvae_rows)
    assert status == (0 if all(row["median_s"] < TARGET_S for row in tfvae_rows) else 1)
    out = capsys.readouterr().out
    assert "tfvae train vea" in out and "tfvae plot FILE" in out and "tfvae sample RUN --out DIR" in out


def test_precision_auto_compares_float32_and_auto_runs(tmp_path, capsys):
    from benchmarks.precision_auto import main
    from tfvae.performance import resolve_precision

    tiny = ["--set", "model.hidden_units=[32]", "--set", "model.latent_dim=4", "--set", "data.batch_size=250",
            "--set", "data.limit=1000", "--set", "train.pictures=false"]
    assert main(["--configs", "vae", "--epochs", "1", "--json", str(tmp_path / "p.json"), *tiny]) == 0
    rows = json.loads((tmp_path / "p.json").read_text())["rows"]
    assert [(row["asked"], row["precision"]) for row in rows] == [("float32", "float32"), ("auto", resolve_precision("auto"))]
    for row in rows:
        assert row["epochs"] == 1 and row["train_seconds"] > 0 and row["elbo"] < 0 and row["elbo_float32_eval"] < 0
    out = capsys.readouterr().out
    assert "| vae | 1 |" in out and "ELBO within 0.5 nat of float32" in out


def test_jit_trial_reports_the_choice_its_cost_and_both_speeds(tmp_path, capsys):
    from benchmarks.jit_trial import main

    assert main(["--cases", "mlp:64", "--examples", "256", "--rounds", "1", "--json", str(tmp_path / "t.json")]) == 0
    (case,) = json.loads((tmp_path / "t.json").read_text())["cases"]
    assert case["case"] == "mlp:64" and case["trial"]["trial_cost_s"] > 0
    assert case["trial"]["jit_compile"] == (case["trial"]["xla_step_s"] < case["trial"]["graph_step_s"])
    faster = case["fit_examples_per_s"]["xla"] > case["fit_examples_per_s"]["graph"]
    assert case["trial_chose_the_faster"] == (case["trial"]["jit_compile"] == faster)
    assert "trial chose the faster" in capsys.readouterr().out


def test_serving_rows_times_every_signature_against_serving_default(tmp_path, capsys):
    from benchmarks.serving_rows import main

    assert main(["--rows", "3", "--rounds", "1", "--row-by-row-limit", "3", "--out", str(tmp_path / "rows.json")]) == 0
    rows = json.loads((tmp_path / "rows.json").read_text())["rows"]
    assert {(row["export"], row["signature"]) for row in rows} == {
        ("vectorised", "serving_default"), ("vectorised", "score"), ("vectorised", "sample"),
        ("row by row", "score"), ("row by row", "sample")}
    reference = next(row for row in rows if row["signature"] == "serving_default")
    assert reference["ratio_to_serving_default"] == 1.0
    assert all(row["rows"] == 3 and row["seconds"] > 0 for row in rows)
    assert "x serving_default" in capsys.readouterr().out
