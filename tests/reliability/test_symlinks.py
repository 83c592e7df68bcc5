"""Links planted in a run directory are never written through (issue 30).

Someone else's run directory may hold symbolic links where tfvae writes: a
picture's name, the ``plots/`` or ``logs/`` folder. Files are replaced (the
link itself, never its target) and tfvae's own folders are refused by name
when they are links; the file outside stays as it was.
"""

import os

import pytest

from tfvae.cli import main
from tfvae.fileio import atomic_write_text

pytestmark = pytest.mark.slow  # real runs with planted links: the reliability suite of CI's slow pass

TINY = ["--set", "train.pictures=false", "--batch-size", "100", "--set", "data.limit=200", "--set",
        "model.hidden_units=[8]", "--set", "model.latent_dim=2", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("links") / "run"
    assert main(["train", "vae", "--out", str(run), "--epochs", "1", *TINY]) == 0
    return run


@pytest.fixture
def outside(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("precious")
    return target


def test_a_file_write_replaces_a_planted_link_not_its_target(tmp_path, outside):
    link = tmp_path / "config.json"
    link.symlink_to(outside)
    atomic_write_text(link, "{}")
    assert outside.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "{}"


def test_pictures_replace_planted_links_and_linked_folders_are_refused(run, outside, tmp_path, capsys):
    picture = run / "samples_n4_seed0.png"
    picture.symlink_to(outside)
    assert main(["sample", str(run), "-n", "4"]) == 0
    assert outside.read_text() == "precious" and not picture.is_symlink()
    assert picture.read_bytes()[:4] == b"\x89PNG"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run / "plots").symlink_to(elsewhere)
    capsys.readouterr()
    assert main(["plot", str(run), "--only", "reconstructions"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plots folder) is a symbolic link to" in err[0], err
    assert list(elsewhere.iterdir()) == []
    os.unlink(run / "plots")

    (run / "logs").rename(tmp_path / "real_logs")
    (run / "logs").symlink_to(elsewhere)
    config = (run / "config.json").read_text()
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "2", *TINY]) == 2
    assert (run / "config.json").read_text() == config  # refused before anything changed
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "TensorBoard logs) is a symbolic link" in err[0], err
    assert list(elsewhere.iterdir()) == []
