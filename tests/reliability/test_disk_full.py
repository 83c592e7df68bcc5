"""A full disk is one ``tfvae: error:`` line naming the path, and leaves no partial files (issue 30).

Real ``ENOSPC``, not a mock: small tmpfs file systems are mounted in a user
and mount namespace (``unshare --user --map-root-user --mount``), where this
file runs itself as a script (:func:`_drive`). There one process (one
TensorFlow import, to keep the file fast) calls ``tfvae.cli.main`` for each
step of the scenario and records its exit status, output and the files left;
the tests below check the record:

1. ``tfvae train`` with its ``logs/`` folder on a full tmpfs: the TensorBoard writer fails;
2. the logs folder freed, ``train --resume`` (nothing to resume yet: it starts from scratch) on a 256 kB
   tmpfs: the checkpoint of epoch 1 fits, the one of epoch 2 does not;
3. the tmpfs grown to 4 MB (space freed), ``train --resume`` continues from epoch 1;
4. ``tfvae export`` onto a 64 kB tmpfs (the SavedModel needs about 300 kB), then ``--keras`` onto another;
5. ``tfvae train`` into a full tmpfs (its lock cannot be written);
6. ``tfvae evaluate --out`` onto a full tmpfs that holds an older metrics file.

Where no tmpfs can be mounted (no user namespaces), the tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a training process in a namespace: CI's slow pass

# 784-8-(2+2) / 2-8-784 with Adam: a checkpoint of about 165 kB; a run's other files take a few 4 kB pages
TINY = ["--set", "train.pictures=false", "--batch-size", "100", "--set", "data.limit=200", "--set",
        "model.hidden_units=[8]", "--set", "model.latent_dim=2", "--set", "train.jit_compile=false", "--quiet"]
REPO = Path(__file__).resolve().parents[2]


def _tmpfs_refused(where: Path) -> str | None:
    """Why a small tmpfs cannot be mounted in a user namespace here (``None``: it can)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return "no unshare or mount command"
    probe = where / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "-o",
                           "size=16k", "tmpfs", str(probe)], capture_output=True, text=True, timeout=30)
    probe.rmdir()
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    """The record :func:`_drive` writes: per step, ``rc``, ``err``, ``out`` and the files it left."""
    out = tmp_path_factory.mktemp("disk_full")
    why = _tmpfs_refused(out)
    if why is not None:
        pytest.skip(f"cannot mount a small tmpfs to fill (unshare --user --map-root-user --mount: {why})")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, __file__, str(out)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "record.json").read_text())


def tfvae_lines(step: dict) -> list[str]:
    """The ``tfvae:`` lines a step printed on stderr."""
    return [line for line in step["err"].splitlines() if line.startswith("tfvae:")]


def one_error(step: dict) -> str:
    """The step's only ``tfvae: error:`` line (exit status 2, no traceback, no other ``tfvae:`` line)."""
    assert step["rc"] == 2 and "Traceback" not in step["err"], step["err"]
    lines = tfvae_lines(step)
    assert len(lines) == 1 and lines[0].startswith("tfvae: error: "), step["err"]
    return lines[0]


def test_a_full_tensorboard_log_disk_is_one_line_naming_the_logs(scenario):
    line = one_error(scenario["logs_full"])
    assert f"cannot write {scenario['run']}/logs (the TensorBoard logs): No space left on device (0 kB free)" in line
    assert line.endswith("free some space, then continue with --resume")


def test_a_checkpoint_save_on_a_full_disk_is_one_line_and_leaves_the_previous_checkpoint(scenario):
    step = scenario["checkpoint_full"]
    line = one_error(step)
    assert f"cannot write {scenario['run']}/checkpoints/ckpt-2 (the checkpoint of epoch 2): No space left on " \
           "device (about " in line
    assert "its partial files were removed and the newest checkpoint is still ckpt-1" in line
    needed, free = map(int, re.search(r"about (\d+) kB needed, (\d+) kB free", line).groups())
    assert needed == round(step["ckpt-1 bytes"] / 1e3) and free < needed  # the previous checkpoint's size
    # no ckpt-2_temp/, no ckpt-2.* and no checkpoint.tmp*: only epoch 1, still the listed newest
    assert step["checkpoints"] == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
    assert 'model_checkpoint_path: "ckpt-1"' in step["checkpoint list"]


def test_resume_after_freeing_space_continues_from_the_last_good_checkpoint(scenario):
    step = scenario["resumed"]
    assert step["rc"] == 0, step["err"]
    # restored epoch 1: the history row of epoch 2 came before its failed checkpoint, it is trained again
    assert tfvae_lines(step) == [f"tfvae: warning: {scenario['run']}/history.csv: dropped the rows of epoch(s) 2, "
                                 "which the checkpoint of epoch 1 does not hold; they are trained again"]
    assert step["epochs"] == [1, 2] and step["summary epochs"] == 2
    assert step["checkpoints"] == ["checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index",
                                   "ckpt-2.data-00000-of-00001", "ckpt-2.index"]


def test_an_export_onto_a_full_disk_is_one_line_and_leaves_nothing(scenario):
    step = scenario["export_full"]
    line = one_error(step)
    assert f"cannot write {step['root']}/vae/1 (the export): No space left on device (at least " in line
    assert line.endswith("its partial files were removed: free some space, then export again")
    assert step["files"] == []  # no version, no .tmp-1-* staging folder, not even the vae/ folder it made


def test_a_keras_file_onto_a_full_disk_is_one_line_naming_it_and_leaves_nothing(scenario):
    step = scenario["keras_full"]
    line = one_error(step)
    assert f"cannot write {step['file']} (the Keras model file): No space left on device" in line
    assert step["files"] == []  # no .vae.*.tmp.keras staging file


def test_a_run_lock_on_a_full_disk_is_one_line_and_no_empty_lock_is_left(scenario):
    step = scenario["lock_full"]
    line = one_error(step)
    assert f"cannot write {step['lock']} (the run's lock): No space left on device" in line
    assert ".lock" not in " ".join(step["files"])  # an empty lock would block the next run


def test_evaluate_out_onto_a_full_disk_is_one_line_naming_the_file_and_keeps_the_old_one(scenario):
    step = scenario["evaluate_full"]
    line = one_error(step)
    assert f"cannot write {step['out']} (the metrics): No space left on device (about " in line
    assert step["files"] == ["filler", "metrics.json"]  # no .metrics.json.*.partial
    assert step["old metrics"] == '{"old": true}\n'


def _drive(out: Path) -> None:
    """Run the scenario (see the module docstring) inside a mount namespace; write ``out/record.json``."""
    import contextlib
    import io
    import time
    import traceback

    started = time.perf_counter()
    from tfvae.cli import main

    record: dict = {"import seconds": round(time.perf_counter() - started, 1)}

    disk, export_root, metrics_dir = out / "disk", out / "export", out / "metrics"
    run = disk / "run"
    record["run"] = str(run)

    def mount(where: Path, size: str, *options: str) -> None:
        where.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([*options, f"size={size}"]), "tmpfs", str(where)],
                       check=True)

    def fill(where: Path) -> None:
        """Write zeros into ``where/filler`` until the file system is full."""
        fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, bytes(4096))
        os.close(fd)

    def files(where: Path) -> list[str]:
        return sorted(str(p.relative_to(where)) for p in where.rglob("*"))

    def step(name: str, *argv: str) -> dict:
        err, said = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(said):
            try:
                rc = main(list(argv))
            except BaseException:  # a traceback: recorded, the test names it
                rc = None
                traceback.print_exc(file=err)
        record[name] = {"rc": rc, "err": err.getvalue(), "out": said.getvalue(),
                        "seconds": round(time.perf_counter() - started, 1)}
        return record[name]

    mount(disk, "256k")
    mount(run / "logs", "16k")
    fill(run / "logs")
    step("logs_full", "train", "vae", "--out", str(run), "--epochs", "2", *TINY)
    subprocess.run(["umount", str(run / "logs")], check=True)

    saved = step("checkpoint_full", "train", "vae", "--out", str(run), "--resume", "--epochs", "2", *TINY)
    saved["checkpoints"] = files(run / "checkpoints")
    saved["checkpoint list"] = (run / "checkpoints" / "checkpoint").read_text()
    saved["ckpt-1 bytes"] = sum(p.stat().st_size for p in (run / "checkpoints").glob("ckpt-1.*"))

    subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)  # space freed
    resumed = step("resumed", "train", "vae", "--out", str(run), "--resume", "--epochs", "2", *TINY)
    resumed["checkpoints"] = files(run / "checkpoints")
    resumed["epochs"] = [int(float(row.split(",")[0])) for row in (run / "history.csv").read_text().splitlines()[1:]]
    resumed["summary epochs"] = json.loads((run / "summary.json").read_text())["epochs"]

    mount(export_root, "64k")
    exported = step("export_full", "export", str(run), "--out-root", str(export_root))
    exported.update(root=str(export_root), files=files(export_root))

    keras_dir = out / "keras"
    mount(keras_dir, "64k")
    kept = step("keras_full", "export", str(run), "--out-root", str(out / "export-ok"), "--no-warmup",
                "--keras", str(keras_dir / "vae.keras"))
    kept.update(file=str(keras_dir / "vae.keras"), files=files(keras_dir))

    lock_disk = out / "lock-disk"
    mount(lock_disk, "16k")
    fill(lock_disk)
    locked = step("lock_full", "train", "vae", "--out", str(lock_disk / "run"), "--epochs", "1", *TINY)
    locked.update(lock=str(lock_disk / "run" / ".lock"), files=files(lock_disk))

    mount(metrics_dir, "16k")
    (metrics_dir / "metrics.json").write_text('{"old": true}\n')
    fill(metrics_dir)
    evaluated = step("evaluate_full", "evaluate", str(run), "--out", str(metrics_dir / "metrics.json"),
                     "--iwae-k", "0", "--max-examples", "50", "--quiet")
    evaluated.update(out=str(metrics_dir / "metrics.json"), files=files(metrics_dir),
                     **{"old metrics": (metrics_dir / "metrics.json").read_text()})
    (out / "record.json").write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    _drive(Path(sys.argv[1]))
