"""A `tfvae train` killed with SIGKILL mid-epoch resumes exactly; a second `tfvae train` into its directory is refused.

One real victim process trains into RUN and is killed (``os.kill(pid,
SIGKILL)``) in the middle of epoch 3. While it runs, a second real process
tries to train into the same RUN: it must fail on the lock, naming the
victim's pid. Meanwhile this process trains the same config uninterrupted,
as the reference. Then ``tfvae train --resume`` continues RUN (taking over
the dead victim's lock) and must end with the reference's weights, optimizer
state, step counter and RNG state, and a history with each epoch once.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tfvae.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--batch-size", "250", "--set", "model.hidden_units=[32]", "--set", "model.latent_dim=4", "--quiet"]
STEPS_PER_EPOCH = 4000 // 250

RIVAL = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import tfvae.experiment.training  # noqa: F401  (import TensorFlow before the race, not during it)
    from tfvae.cli import main

    lock = Path(sys.argv[1]) / ".lock"
    deadline = time.time() + 180
    while not (lock.exists() and lock.stat().st_size) and time.time() < deadline:
        time.sleep(0.01)
    sys.exit(main(sys.argv[2:]))
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def _epochs(run: Path) -> list[int]:
    if not (run / "history.csv").exists():
        return []
    with (run / "history.csv").open(newline="") as handle:
        return [int(float(row["epoch"])) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    from tfvae.commands.train import resolve_config
    from tfvae.experiment import train

    root = tmp_path_factory.mktemp("kill")
    run = root / "run"
    args = ["train", "vae", "--out", str(run), *TINY]
    log = (root / "victim.log").open("w")
    victim = subprocess.Popen([sys.executable, "-m", "tfvae.cli", *args, "--epochs", "50"], cwd=ROOT, env=_env(),
                              stdout=log, stderr=subprocess.STDOUT)
    rival = subprocess.Popen([sys.executable, "-c", RIVAL, str(run), *args, "--epochs", "1"], cwd=ROOT, env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict = {}

    def kill_in_epoch_three():
        deadline = time.time() + 240
        while len(_epochs(run)) < 2 and victim.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # into epoch 3 (an epoch takes about a second here)
        seen["epochs_before_kill"] = _epochs(run)
        os.kill(victim.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_in_epoch_three)
    killer.start()
    try:
        # the same config, never interrupted, trained here while the victim runs
        config = resolve_config("vae", ["data.batch_size=250", "model.hidden_units=[32]", "model.latent_dim=4",
                                        "train.epochs=3"])
        reference = train(config, out=root / "reference", verbose=0)
    finally:
        killer.join()
        victim.wait()
        log.close()
    rival_out, rival_err = rival.communicate(timeout=240)
    return dict(run=run, victim=victim, rival=rival, rival_err=rival_err, reference=reference, root=root, **seen)


@pytest.mark.slow
def test_a_second_train_into_the_same_directory_is_refused_by_the_lock(killed):
    assert killed["rival"].returncode == 2
    err = [line for line in killed["rival_err"].splitlines() if line.startswith("tfvae:")]  # not TF's log lines
    assert len(err) == 1 and "Traceback" not in killed["rival_err"], killed["rival_err"]
    assert err[0].startswith(f"tfvae: error: {killed['run']} is in use by tfvae train (pid {killed['victim'].pid} ")
    assert "--out" in err[0]


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_exactly(killed):
    from tfvae.experiment import RunDirectory, load_run

    run = killed["run"]
    assert killed["victim"].returncode == -signal.SIGKILL
    assert killed["epochs_before_kill"][:2] == [1, 2]
    assert (run / ".lock").exists()  # left behind by the killed process
    newest = max(int(p.name[len("ckpt-"):-len(".index")]) for p in (run / "checkpoints").glob("ckpt-*.index"))
    # killed in epoch 3 (an epoch takes ~1 s, the kill comes 0.3 s into it; 3 only on a badly overloaded machine)
    assert newest in (2, 3) and set(_epochs(run)) <= {1, 2, 3}

    with pytest.warns(RuntimeWarning, match=rf"pid {killed['victim'].pid} .*no longer running.*taking the lock over"):
        assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", "--quiet"]) == 0
    assert not (run / ".lock").exists()

    assert _epochs(run) == [1, 2, 3]  # none missing, none repeated
    # both as checkpointed at the end of epoch 3 (the reference's in-memory model drew more seeds since, testing)
    resumed, reference = load_run(run).model, load_run(killed["root"] / "reference").model
    assert int(resumed.optimizer.iterations) == int(resumed.steps_done) == 3 * STEPS_PER_EPOCH
    for a, b in zip(resumed.weights, reference.weights):  # weights, step counter
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    for a, b in zip(resumed.optimizer.variables, reference.optimizer.variables):  # Adam moments, iterations
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=a.path)
    np.testing.assert_array_equal(resumed.seed_generator.state.numpy(), reference.seed_generator.state.numpy())
    history = RunDirectory(run).read_history()
    expected = RunDirectory(killed["root"] / "reference").read_history()
    assert history == expected  # the resumed epochs saw the same data and noise as the reference's


def test_a_run_file_write_that_fails_midway_leaves_the_previous_file(tmp_path):
    """config.json, history.csv and summary.json go through atomic_write_text: a failed (or killed) write
    leaves the old file whole and no temporary file behind (a plain open("w") would have truncated it)."""
    from tfvae.experiment import RunDirectory
    from tfvae.fileio import atomic_write_text

    run = RunDirectory(tmp_path)
    run.append_history(1, {"loss": 2.0})
    before = run.history_path.read_text()
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(run.history_path, before + "2,1.5\r\n" * 10_000 + "\udcff")  # not encodable
    assert run.history_path.read_text() == before and run.read_history() == [{"epoch": 1.0, "loss": 2.0}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]


def test_a_lock_of_a_live_process_is_refused_and_a_dead_ones_taken_over(tmp_path):
    from tfvae.fileio import LOCK_FILE, DirectoryLock, LockError

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_FILE).write_text(f'{{"pid": {sleeper.pid}, "host": "{os.uname().nodename}", '
                                          '"purpose": "tfvae train", "started": "then"}')
        with pytest.raises(LockError, match=rf"in use by tfvae train \(pid {sleeper.pid} "):
            DirectoryLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    with pytest.warns(RuntimeWarning, match=rf"pid {sleeper.pid} .*no longer running"):
        with DirectoryLock(tmp_path) as lock:
            assert f'"pid": {os.getpid()}' in lock.path.read_text()
    assert not (tmp_path / LOCK_FILE).exists()


def _lock_naming(path, pid: int, **fields) -> None:
    record = {"pid": pid, "host": os.uname().nodename, "purpose": "tfvae train", "started": "then", **fields}
    (path / ".lock").write_text(json.dumps(record))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process start times come from Linux /proc")
def test_a_lock_whose_pid_now_belongs_to_another_process_is_taken_over(tmp_path):
    """The pid of a killed run handed to a new process (a container restarted, pids wrapped): the recorded
    start time (and boot) tells them apart; the owner's own start time and boot still hold the lock."""
    from tfvae.fileio import DirectoryLock, LockError, _boot_id, _start_ticks

    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        ticks, boot = _start_ticks(sleeper.pid), _boot_id()
        assert ticks is not None and boot
        _lock_naming(tmp_path, sleeper.pid, boot_id=boot, start_ticks=ticks)  # the live owner itself
        with pytest.raises(LockError, match=rf"in use by tfvae train \(pid {sleeper.pid} "):
            DirectoryLock(tmp_path).acquire()
        for fields, why in (({"boot_id": boot, "start_ticks": ticks - 1}, "now belongs to another process"),
                            ({"boot_id": "0" * 8, "start_ticks": ticks}, "the machine has restarted since")):
            _lock_naming(tmp_path, sleeper.pid, **fields)
            DirectoryLock(tmp_path).check_free()  # the command line's early check lets it through too
            with pytest.warns(RuntimeWarning, match=rf"pid {sleeper.pid} .*no longer running \(.*{why}\)"):
                with DirectoryLock(tmp_path) as lock:
                    mine = json.loads(lock.path.read_text())
            assert mine["pid"] == os.getpid() and mine["start_ticks"] == _start_ticks(os.getpid())
            assert mine["boot_id"] == boot and not (tmp_path / ".lock").exists()
        _lock_naming(tmp_path, sleeper.pid)  # a lock written before start times were recorded: the pid decides
        with pytest.raises(LockError, match=rf"pid {sleeper.pid} "):
            DirectoryLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
