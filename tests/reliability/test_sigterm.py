"""SIGTERM (what schedulers send before they kill a job) ends a run like Ctrl-C does (issue 30).

A real ``tfvae train`` process gets SIGTERM after its first epoch: it must
exit with 143 and one ``tfvae: terminated`` line, release its lock and leave
no temporary files, and ``--resume`` must continue from its checkpoint.
"""

import json
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow  # two training processes: CI's slow pass

TINY = ["--set", "train.pictures=false", "--batch-size", "50", "--set", "data.limit=400", "--set",
        "model.hidden_units=[16]", "--set", "model.latent_dim=2", "--quiet"]


def tfvae(*args: str) -> list[str]:
    return [sys.executable, "-m", "tfvae.cli", *args]


def test_sigterm_releases_the_lock_keeps_the_checkpoint_and_resume_continues(tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen(tfvae("train", "vae", "--out", str(run), "--epochs", "500", *TINY),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (run / "checkpoints" / "checkpoint").exists():  # the first epoch is checkpointed
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    lines = [line for line in err.splitlines() if line.startswith("tfvae:")]
    assert lines == ["tfvae: terminated (SIGTERM); the last checkpoint is kept: continue with --resume"], err
    assert "Traceback" not in err
    assert not (run / ".lock").exists()
    leftovers = [p.name for p in run.rglob("*") if p.name.endswith((".partial", ".tmp")) or "_temp" in p.name]
    assert leftovers == []
    rows = len((run / "history.csv").read_text().splitlines()) - 1  # epochs written (the last maybe not checkpointed)
    done = subprocess.run(tfvae("train", "vae", "--out", str(run), "--resume", "--epochs", str(rows + 1), *TINY),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    history = (run / "history.csv").read_text().splitlines()[1:]
    assert [int(float(line.split(",")[0])) for line in history] == list(range(1, rows + 2))  # each epoch once
    assert json.loads((run / "summary.json").read_text())["epochs"] == rows + 1
