"""`tfvae train --resume` on a run directory with nothing to resume starts the run from scratch.

A preemptible job relaunches the same command line, ``--resume`` included,
after a kill that may come before the run wrote anything. Each state such a
kill leaves (no directory, only ``.lock``, ``config.json`` but no checkpoint,
a history row but no checkpoint) must train the run from scratch, say so in
one line, and end as an uninterrupted run does. The fast tests build those
states by hand; the slow one makes them with real SIGKILLs of a real
``tfvae train`` process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tfvae.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--batch-size", "500", "--set", "train.pictures=false", "--set", "model.hidden_units=[16]", "--set",
        "model.latent_dim=2", "--quiet"]
SCRATCH = "starting the run from scratch"


def _train(run: Path, *extra: str) -> int:
    return main(["train", "vae", "--out", str(run), "--epochs", "1", *TINY, *extra])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted one-epoch run: what every relaunch must end as."""
    root = tmp_path_factory.mktemp("scratch")
    assert _train(root / "reference") == 0
    return root / "reference"


def _assert_same_run(run: Path, reference: Path) -> None:
    from tfvae.experiment import RunDirectory, load_run

    assert RunDirectory(run).read_history() == RunDirectory(reference).read_history()
    assert json.loads((run / "config.json").read_text()) == json.loads((reference / "config.json").read_text())
    for a, b in zip(load_run(run).model.weights, load_run(reference).model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    assert not (run / ".lock").exists()


def _relaunch(run: Path, capsys) -> str:
    """The same command line with --resume, progress shown: returns what it printed."""
    assert main(["train", "vae", "--out", str(run), "--epochs", "1", *TINY[:-1], "--resume"]) == 0
    out = capsys.readouterr().out
    assert out.count(SCRATCH) == 1 and "Resuming" not in out, out
    return out


def test_resume_into_a_missing_directory_starts_from_scratch(reference, tmp_path, capsys):
    run = tmp_path / "never_written"
    out = _relaunch(run, capsys)
    assert f"Nothing to resume in {run} (no config.json yet)" in out
    _assert_same_run(run, reference)


def test_resume_with_only_a_stale_lock_starts_from_scratch(reference, tmp_path, capsys):
    run = tmp_path / "locked"
    run.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "purpose": "tfvae train",
                                           "started": "then"}))
    with pytest.warns(RuntimeWarning, match="no longer running"):
        _relaunch(run, capsys)
    _assert_same_run(run, reference)


def test_resume_before_the_first_checkpoint_starts_from_scratch_with_the_saved_config(reference, tmp_path, capsys):
    """Killed between the history row of epoch 1 and its checkpoint: the row is dropped and trained again."""
    run = tmp_path / "no_checkpoint"
    shutil.copytree(reference, run)
    shutil.rmtree(run / "checkpoints")
    for name in ("summary.json", "reconstructions.png", "samples.png"):
        (run / name).unlink(missing_ok=True)
    with pytest.warns(RuntimeWarning, match=r"dropped the rows of epoch\(s\) 1, which no checkpoint holds"):
        out = _relaunch(run, capsys)
    assert f"Nothing to resume in {run} (no checkpoint yet)" in out
    _assert_same_run(run, reference)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


MOMENTS = {
    # killed while Python starts, before the run directory exists
    "before any file": lambda run: True,
    # killed as soon as the lock is taken, before config.json
    "only the lock": lambda run: (run / ".lock").exists(),
    # killed as soon as config.json is written, before the first checkpoint
    "config, no checkpoint": lambda run: (run / "config.json").exists(),
}


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_a_job_sigkilled_before_its_first_checkpoint_relaunches_with_resume(moment, reference, tmp_path, capsys):
    run = tmp_path / "run"
    victim = subprocess.Popen([sys.executable, "-m", "tfvae.cli", "train", "vae", "--out", str(run), "--epochs", "1",
                               *TINY], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not MOMENTS[moment](run) and victim.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    written = sorted(p.name for p in run.iterdir()) if run.exists() else []
    assert not (run / "checkpoints").exists() or not any((run / "checkpoints").glob("ckpt-*.index")), written
    if moment == "before any file":
        assert written == []
    elif moment == "only the lock":
        assert ".lock" in written and "config.json" not in written, written
    else:
        assert "config.json" in written, written

    if ".lock" in written:
        with pytest.warns(RuntimeWarning, match=rf"pid {victim.pid} .*no longer running"):
            _relaunch(run, capsys)
    else:
        _relaunch(run, capsys)
    _assert_same_run(run, reference)
