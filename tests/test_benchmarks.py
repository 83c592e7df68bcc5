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
    assert len(tfvae_rows) == 6 and all(row["median_s"] > 0 and row["peak_rss_mib"] > 0 for row in tfvae_rows)
    assert status == (0 if all(row["median_s"] < TARGET_S for row in tfvae_rows) else 1)
    assert "tfvae train vea" in capsys.readouterr().out
