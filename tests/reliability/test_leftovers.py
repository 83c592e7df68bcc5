"""What kills leave among the checkpoints, tidied by ``--resume`` (issue 30).

A run killed after TensorFlow wrote ``ckpt-4`` but before it deleted
``ckpt-1`` and listed ``ckpt-4`` leaves four checkpoints where three are kept
and a ``checkpoints/checkpoint`` list naming ``ckpt-3``. ``CheckpointManager``
deletes only what it listed, so without tidying the surplus stays forever
and ``tf.train.latest_checkpoint`` (TensorBoard, TF tools) disagrees with the
checkpoint tfvae restores. These runs are real; the stale list is written by
TensorFlow's own function, as the manager writes it.
"""

from __future__ import annotations

import shutil

import pytest
import tensorflow as tf

from tfvae.cli import main
from tfvae.experiment import RunDirectory, load_run

pytestmark = pytest.mark.slow  # resumes of real runs: the reliability suite of CI's slow pass

TINY = ["--set", "train.pictures=false", "--batch-size", "100", "--set", "data.limit=200", "--set",
        "model.hidden_units=[8]", "--set", "model.latent_dim=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Four epochs, three checkpoints kept (ckpt-2, ckpt-3, ckpt-4)."""
    run = tmp_path_factory.mktemp("leftovers") / "run"
    assert main(["train", "vae", "--out", str(run), "--epochs", "4", *TINY, "--quiet"]) == 0
    return run


@pytest.fixture
def killed(trained, tmp_path):
    """The run as a kill between ckpt-4's files and its listing leaves it: ckpt-1 (a copy of ckpt-2) still
    there, and the list TensorFlow wrote after ckpt-3 (ckpt-1, ckpt-2, ckpt-3)."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    folder = run / "checkpoints"
    for file in folder.glob("ckpt-2.*"):
        shutil.copy2(file, folder / file.name.replace("ckpt-2", "ckpt-1"))
    _list(folder, ["ckpt-1", "ckpt-2", "ckpt-3"])
    assert tf.train.latest_checkpoint(str(folder)) == str(folder / "ckpt-3")
    return run


def _list(folder, names: list[str]) -> None:
    """Write ``folder/checkpoint`` naming ``names`` (the last the newest) as ``CheckpointManager`` writes it."""
    times = [(folder / f"{name}.index").stat().st_mtime for name in names]
    tf.__internal__.train.update_checkpoint_state(str(folder), names[-1], all_model_checkpoint_paths=names,
                                                  all_model_checkpoint_timestamps=times,
                                                  last_preserved_timestamp=min(times) - 1,
                                                  save_relative_paths=True)


def _on_disk(run) -> list[str]:
    return sorted(p.name.removesuffix(".index") for p in (run / "checkpoints").glob("ckpt-*.index"))


def _listed(run) -> tuple[str, list[str]]:
    folder = run / "checkpoints"
    state = tf.train.get_checkpoint_state(str(folder))
    return tf.train.latest_checkpoint(str(folder)), [p.rsplit("/", 1)[-1] for p in state.all_model_checkpoint_paths]


def test_resume_removes_surplus_checkpoints_and_rewrites_a_stale_list(killed, capsys):
    run, folder = killed, killed / "checkpoints"
    assert _on_disk(run) == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"]
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "4", *TINY]) == 0
    out = capsys.readouterr().out
    assert (f"Tidied the checkpoints of {run}: removed ckpt-1 (beyond the 3 kept); checkpoints/checkpoint now "
            "names ckpt-4 (named ckpt-3)") in out, out
    assert _on_disk(run) == ["ckpt-2", "ckpt-3", "ckpt-4"]
    assert _listed(run) == (str(folder / "ckpt-4"), ["ckpt-2", "ckpt-3", "ckpt-4"])
    assert load_run(run).epochs_done == 4  # what tfvae restores is what TensorFlow names
    assert not [p.name for p in folder.iterdir() if "tmp" in p.name or p.name.endswith(".partial")]
    # TensorFlow's manager goes on from the rewritten list: it deletes the oldest as it saves
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "5", *TINY, "--quiet"]) == 0
    assert _on_disk(run) == ["ckpt-3", "ckpt-4", "ckpt-5"]
    assert _listed(run) == (str(folder / "ckpt-5"), ["ckpt-3", "ckpt-4", "ckpt-5"])
    assert [int(row["epoch"]) for row in RunDirectory(run).read_history()] == [1, 2, 3, 4, 5]


def test_a_damaged_newest_checkpoint_stays_as_it_is_and_the_list_names_the_one_restored(killed, capsys):
    run, folder = killed, killed / "checkpoints"
    data = next(folder.glob("ckpt-4.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    damaged = data.read_bytes()
    _list(folder, ["ckpt-2", "ckpt-3", "ckpt-4"])  # listed, but unreadable
    with pytest.warns(RuntimeWarning) as caught:
        assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", *TINY]) == 0
    assert any("ckpt-4 could not be restored" in str(w.message) for w in caught)
    out = capsys.readouterr().out
    assert f"Tidied the checkpoints of {run}: checkpoints/checkpoint now names ckpt-3 (named ckpt-4)" in out, out
    assert data.read_bytes() == damaged  # left as it is, as the warning says
    assert _on_disk(run) == ["ckpt-1", "ckpt-2", "ckpt-3", "ckpt-4"]  # ckpt-3 and the two before it are kept
    assert _listed(run) == (str(folder / "ckpt-3"), ["ckpt-1", "ckpt-2", "ckpt-3"])
    # epoch 4 trained again replaces the damaged files; the manager then drops ckpt-1
    with pytest.warns(RuntimeWarning):
        assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "4", *TINY, "--quiet"]) == 0
    assert _on_disk(run) == ["ckpt-2", "ckpt-3", "ckpt-4"]
    assert _listed(run) == (str(folder / "ckpt-4"), ["ckpt-2", "ckpt-3", "ckpt-4"])
    assert load_run(run).epochs_done == 4
