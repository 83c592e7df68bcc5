"""Damaged run files: a bad newest checkpoint falls back to the previous one; bad configs and missing
directories are one-line errors that name the file, before any training starts."""

from __future__ import annotations

import shutil
import warnings

import pytest

from tfvae.cli import main

TINY = ["--batch-size", "500", "--set", "train.pictures=false", "--set", "model.hidden_units=[16]", "--set",
        "model.latent_dim=2", "--quiet"]
STEPS_PER_EPOCH = 4000 // 500


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A two-epoch run (checkpoints ckpt-1 and ckpt-2), copied by each test that damages it."""
    run = tmp_path_factory.mktemp("corrupt") / "run"
    assert main(["train", "vae", "--out", str(run), "--epochs", "2", *TINY]) == 0
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("tfvae: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "truncated data": lambda ckpt: _truncate(next(ckpt.parent.glob(ckpt.name + ".data-*"))),
    "garbage index": lambda ckpt: ckpt.with_name(ckpt.name + ".index").write_bytes(b"\x00garbage" * 100),
    "missing data": lambda ckpt: next(ckpt.parent.glob(ckpt.name + ".data-*")).unlink(),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(run, damage):
    from tfvae.experiment import load_run

    DAMAGE[damage](run / "checkpoints" / "ckpt-2")
    with pytest.warns(RuntimeWarning, match=r"ckpt-2 could not be restored .*restored the newest usable one, "
                                            r".*ckpt-1 \(epoch 1\)"):
        loaded = load_run(run)
    assert loaded.epochs_done == 1 and int(loaded.model.optimizer.iterations) == STEPS_PER_EPOCH


def test_resume_after_a_damaged_newest_checkpoint_trains_that_epoch_again(run):
    from tfvae.experiment import RunDirectory, load_run

    _truncate(next((run / "checkpoints").glob("ckpt-2.data-*")))
    with pytest.warns(RuntimeWarning) as caught:
        assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", "--quiet"]) == 0
    messages = " | ".join(str(w.message) for w in caught)
    assert "ckpt-2 could not be restored" in messages
    assert "dropped the rows of epoch(s) 2" in messages
    assert [int(row["epoch"]) for row in RunDirectory(run).read_history()] == [1, 2, 3]
    loaded = load_run(run)  # ckpt-2 rewritten, ckpt-3 new: no warning now
    assert loaded.epochs_done == 3 and int(loaded.model.optimizer.iterations) == 3 * STEPS_PER_EPOCH


@pytest.mark.parametrize("command", [["evaluate", "--iwae-k", "0", "--max-examples", "20", "--quiet"],
                                     ["export", "--no-warmup", "--out-root", "EXPORT"]])
def test_no_usable_checkpoint_is_one_line_naming_every_file(run, command, capsys, tmp_path):
    _truncate(next((run / "checkpoints").glob("ckpt-2.data-*")))
    (run / "checkpoints" / "ckpt-1.index").write_bytes(b"not an index")
    args = [command[0], str(run), *[str(tmp_path / "export") if a == "EXPORT" else a for a in command[1:]]]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "ckpt-2 could not be restored" in line and "ckpt-1 could not be restored" in line
    assert "No checkpoint there is usable" in line
    assert not (tmp_path / "export").exists() and not (run / "metrics.json").exists()


@pytest.mark.parametrize("content", [b"garbage {{{ not a checkpoint list", b""])
def test_an_unreadable_checkpoint_list_does_not_hide_the_checkpoints(run, content):
    """checkpoints/checkpoint (TensorFlow's list of checkpoints) garbage or empty: the files still count."""
    from tfvae.experiment import RunDirectory, load_run

    (run / "checkpoints" / "checkpoint").write_bytes(content)
    assert load_run(run).epochs_done == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty list is moved aside with a warning
        assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", "--quiet"]) == 0
    assert [int(row["epoch"]) for row in RunDirectory(run).read_history()] == [1, 2, 3]
    assert load_run(run).epochs_done == 3


@pytest.mark.parametrize("content", [b"{ not json", b"\xff\xfe\x00 binary", b"[1, 2, 3]",
                                     b'{"model": {"latent_dim": 0}}'])
def test_a_damaged_config_json_is_one_line_naming_it(run, content, capsys):
    (run / "config.json").write_bytes(content)
    before = sorted(p.name for p in run.rglob("*"))
    for args in (["evaluate", str(run), "--iwae-k", "0", "--quiet"],
                 ["train", "vae", "--out", str(run), "--resume", "--epochs", "3", "--quiet"],
                 ["export", str(run), "--out-root", str(run / "export")]):
        assert main(args) == 2
        line = _one_error_line(capsys)
        assert f"{run / 'config.json'} is not a valid run config" in line, line
    assert sorted(p.name for p in run.rglob("*")) == before  # nothing trained, nothing written


@pytest.mark.parametrize("content", [b"[model\nlatent_dim = ", b"\xff\xfe garbage \x00\x01", None])
def test_a_bad_toml_config_is_one_line_naming_it_and_nothing_is_created(tmp_path, content, capsys):
    path = tmp_path / "bad.toml"
    if content is None:
        path.mkdir()  # a directory where the config should be
    else:
        path.write_bytes(content)
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert str(path) in line and ("not valid TOML" in line or "not a config file" in line), line
    assert not out.exists()


@pytest.mark.parametrize("command", ["evaluate", "export", "sample", "plot"])
def test_a_missing_run_directory_is_one_line(tmp_path, command, capsys):
    missing = tmp_path / "no_such_run"
    assert main([command, str(missing)]) == 2
    line = _one_error_line(capsys)
    assert str(missing) in line and ("not found" in line or "does not exist" in line), line
    assert not missing.exists()


def test_resume_without_a_config_but_with_checkpoints_is_refused_and_keeps_them(run, capsys):
    """Nothing to resume starts from scratch, but a directory whose config.json was lost still holds
    checkpoints: they are never overwritten."""
    (run / "config.json").unlink()
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert main(["train", "vae", "--resume", "--out", str(run), "--quiet"]) == 2
    assert f"{run} holds no run (no config.json)" in _one_error_line(capsys)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before


@pytest.mark.parametrize("key, value, words", [
    ("latent_dim", 3, "variable encoder.projection.kernel has shape (16, 4) in ckpt-2 but (16, 6) in the model "
                      "built from CONFIG"),
    ("hidden_units", [16, 16], "variable encoder.dense_1.kernel (and 3 more) is in the model built from CONFIG "
                               "but not in ckpt-2"),
])
def test_a_config_json_edited_after_training_is_named_with_a_variable_that_differs(run, key, value, words, capsys):
    """config.json no longer builds the model the checkpoints hold: one line says so, naming a variable,
    instead of calling every checkpoint unusable."""
    import json

    from tfvae.experiment import load_run
    from tfvae.experiment.run_dir import RunError

    config = json.loads((run / "config.json").read_text())
    config["model"][key] = value
    (run / "config.json").write_text(json.dumps(config))
    expected = (f"the checkpoints in {run / 'checkpoints'} do not match {run / 'config.json'}: "
                + words.replace("CONFIG", str(run / "config.json")) + " (was config.json edited?")
    assert main(["evaluate", str(run), "--iwae-k", "0", "--max-examples", "20", "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert expected in line and "could not be restored" not in line, line
    assert not (run / "metrics.json").exists()
    with pytest.raises(RunError) as caught:
        load_run(run)
    assert expected in str(caught.value)
