"""``python -m benchmarks.peers``: tfvae against pythae (figures in benchmarks/RESULTS.md).

The tfvae half runs end to end at a tiny size; the pythae half only where a
peer Python with pythae is installed (CI never installs it).
"""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.peers import PeerUnavailable, find_peer_python, prepare_data, run_row

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_peer_python_exits_2_with_one_line_naming_it():
    done = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--peer-python", "/nonexistent"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "/nonexistent does not exist" in lines[0] and "pythae" in lines[0], done.stderr
    assert "pip install" in lines[0] and done.stdout == ""


def test_a_python_without_pythae_is_refused():
    if importlib.util.find_spec("pythae") is not None:
        pytest.skip("this Python has pythae")
    with pytest.raises(PeerUnavailable, match="cannot import torch and pythae"):
        find_peer_python(sys.executable)


def _spec(folder, mode="speed", epochs=1):
    return {"mode": mode, "train": str(folder / "train.npy"), "test": str(folder / "test.npy"), "epochs": epochs,
            "batch_size": 128, "threads": 2, "seed": 0, "learning_rate": 1e-3, "latent_dim": 16, "k": 20}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("peers")
    shapes = prepare_data(str(folder), "digits", examples=512, test_examples=20)
    assert shapes["train_shape"] == [512, 28, 28, 1] and shapes["test_shape"] == [20, 28, 28, 1]
    return folder


@pytest.mark.slow
def test_the_tfvae_worker_trains_and_reports_its_speed_and_memory(tiny_data):
    import numpy as np

    x, test = np.load(tiny_data / "train.npy"), np.load(tiny_data / "test.npy")
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and x.max() > 0.9
    assert set(np.unique(test)) <= {0.0, 1.0}  # the test images are binarised once, for both peers
    for row in ("tfvae", "tfvae-bf16"):
        result = run_row(row, _spec(tiny_data))
        assert "error" not in result, result
        assert result["examples_per_s"] > 0 and len(result["epoch_seconds"]) == 1
        assert result["peak_rss_mib"] > 100 and math.isfinite(result["final_loss"])
        assert result["steps_per_execution"] == 32  # tfvae's default path
        assert result["policy"] == ("mixed_bfloat16" if row == "tfvae-bf16" else "float32")


@pytest.mark.slow
def test_the_tfvae_worker_estimates_a_test_nll(tiny_data):
    result = run_row("tfvae", _spec(tiny_data, mode="quality", epochs=1))
    assert "error" not in result, result
    assert result["k"] == 20 and result["test_examples"] == 20
    assert 50 < result["nll_nats"] < 784 * math.log(2) * 1.5  # nats of 784 binary pixels, after one epoch


@pytest.mark.slow
def test_the_pythae_worker_where_a_peer_python_is_installed(tiny_data):
    try:
        peer = find_peer_python()
    except PeerUnavailable as error:
        pytest.skip(f"no peer Python with pythae: {error}")
    result = run_row("pythae", _spec(tiny_data), peer)
    assert "error" not in result, result
    assert result["examples_per_s"] > 0 and result["threads"] == 2 and result["peak_rss_mib"] > 0
    quality = run_row("pythae", _spec(tiny_data, mode="quality", epochs=1), peer)
    assert "error" not in quality, quality
    assert 50 < quality["nll_nats"] < 784 * math.log(2) * 1.5


@pytest.mark.slow
def test_the_command_without_the_peer_row_prints_and_writes_the_tfvae_row(tmp_path, capsys):
    import json

    from benchmarks.peers import main

    report = tmp_path / "peers.json"
    assert main(["--rows", "tfvae", "--rounds", "1", "--epochs", "1", "--examples", "256", "--data", "digits",
                 "--test-examples", "10", "--json", str(report)]) == 0
    written = json.loads(report.read_text())
    assert written["summary"]["tfvae"]["median_examples_per_s"] > 0 and written["summary"]["tfvae"]["rounds_ok"] == 1
    assert written["rounds"][0]["tfvae"]["load_before"] is not None
    out = capsys.readouterr().out
    assert "no pythae row: no ratios" in out and "tfvae" in out.splitlines()[-2]
