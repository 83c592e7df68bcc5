"""A damaged ``history.csv`` is repaired or refused in one line before a resume trains (issue 30).

The rows a kill or a hand edit can spoil: a row cut short, a value that is
not a number, a repeated epoch, mixed line endings (repaired: the row goes,
with a warning, and the file is rewritten whole); a missing row or an empty
history (refused: the checkpoints keep no metrics to rebuild it).
"""

import shutil

import pytest

from tfvae.cli import main
from tfvae.experiment import RunDirectory

pytestmark = pytest.mark.slow  # resumes of a damaged run: the reliability suite of CI's slow pass

TINY = ["--set", "train.pictures=false", "--batch-size", "100", "--set", "data.limit=200", "--set",
        "model.hidden_units=[8]", "--set", "model.latent_dim=2", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("history") / "run"
    assert main(["train", "vae", "--out", str(run), "--epochs", "2", *TINY]) == 0
    return run


def copy(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def epochs(run):
    return [int(row["epoch"]) for row in RunDirectory(run).read_history()]


@pytest.mark.parametrize("damage, words", [
    (lambda text: text[: text.rindex("\n", 0, len(text) - 1) + 1] + text.splitlines()[-1][:5],
     "no row for epoch(s) 2"),                                                    # the last row cut short
    (lambda text: "", "no row for epoch(s) 1-2"),                                 # emptied
    (lambda text: "\n".join(line for i, line in enumerate(text.split("\n")) if i != 1),
     "no row for epoch(s) 1"),                                                    # a row missing
    (lambda text: "loss,epoch\n1,2\n", "is not a history: its header is ['loss', 'epoch']"),
])
def test_a_history_that_lost_rows_is_refused_in_one_line_before_training(trained, tmp_path, capsys, damage, words):
    run = copy(trained, tmp_path)
    run_files = RunDirectory(run)
    run_files.history_path.write_text(damage(run_files.history_path.read_bytes().decode()), newline="")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing changed


def test_damaged_rows_are_removed_with_a_warning_and_the_resume_trains(trained, tmp_path):
    run = copy(trained, tmp_path)
    path = RunDirectory(run).history_path
    text = path.read_bytes().decode()
    width = len(text.splitlines()[0].split(","))
    # a repeated epoch, a value that is not a number, a row of the wrong width, with "\r\n" endings
    path.write_text(text + "2" + ",0.5" * (width - 1) + "\r\n" + "3,abc\r\n" + "4,1\r\n", newline="")
    with pytest.warns(RuntimeWarning, match=r"removed damaged row\(s\) at line\(s\) 4, 5, 6"):
        assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", *TINY]) == 0
    assert epochs(run) == [1, 2, 3]
    text = path.read_bytes().decode()
    assert text.count("\n") == 4 and "\r" not in text  # one kind of line ending


def test_resume_removes_what_killed_writes_left_and_says_so(trained, tmp_path, capsys):
    run = copy(trained, tmp_path)
    planted = [run / ".history.csv.1a2b3c4d.partial", run / "checkpoints" / "checkpoint.tmp5e6f",
               run / "checkpoints" / "ckpt-7_temp" / "part-00000-of-00001.data-00000-of-00001"]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", *TINY[:-1]]) == 0
    out = capsys.readouterr().out
    assert (f"Removed what an interrupted write left in {run}: .history.csv.1a2b3c4d.partial, "
            "checkpoints/checkpoint.tmp5e6f, checkpoints/ckpt-7_temp") in out
    assert not any(path.exists() for path in planted) and not (run / "checkpoints" / "ckpt-7_temp").exists()
    assert {"ckpt-2.index", "ckpt-3.index"} <= {p.name for p in (run / "checkpoints").iterdir()}  # real ones stay
    assert epochs(run) == [1, 2, 3]
