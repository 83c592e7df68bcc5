"""``tfvae train --dataset npz:/images:/csv:/tfrecord:`` end to end, and the run without its data.

Each source trains from the command line on files the test writes; then
``evaluate``, ``plot``, ``sample`` and ``export`` run on the run, and after
the data file has moved away ``export`` and ``sample`` still work (the run's
``run.json`` records the shape) while ``evaluate`` says in one line that it
needs the data. The npz run is the fast representative; the other sources
run with ``-m slow``.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvae.cli import main

TINY = ["--epochs", "1", "--set", "train.pictures=false", "--batch-size", "16", "--set", "model.latent_dim=2",
        "--quiet"]
MLP = ["--set", "model.hidden_units=[8]"]
CONV = ["--set", "model.hidden_units=[8]", "--set", "model.filters=[4,4]"]


def images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """uint8 images with some structure (a bright square) and noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, (n, *shape)).astype(np.uint8)
    x[:, 2:5, 2:5] = 230
    return x


def write_npz(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, x=images(40, (9, 7, 1)))
    return f"npz:{path}", path, ["vae", *MLP], (9, 7, 1)


def write_image_folder(tmp_path, channels: int):
    root = tmp_path / "pictures"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i, pixels in enumerate(images(12, (10, 14, channels), seed=len(label))):
            Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(root / label / f"{i}.png")
    return f"images:{root}", root, ["conv_vae", *CONV], (10, 14, channels)


def write_csv(tmp_path):
    path = tmp_path / "table.csv"
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(40, 5)) * [1, 2, 3, 4, 5]
    lines = ["a,b,c,d,e,kind"] + [",".join(f"{v:.5f}" for v in row) + f",{i % 3}" for i, row in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return (f"csv:{path}", path, ["vae", *MLP, "--set", 'model.likelihood="gaussian"', "--set",
                                  'data.label_column="kind"', "--set", "data.standardize=true"], (5,))


def write_tfrecord(tmp_path):
    directory = tmp_path / "shards"
    directory.mkdir()
    pixels = images(40, (8, 8, 1))
    for shard in range(2):
        with tf.io.TFRecordWriter(str(directory / f"part-{shard}.tfrecord")) as writer:
            for x in pixels[shard::2]:
                feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.encode_png(x).numpy()]))}
                writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return (f"tfrecord:{directory}/part-*.tfrecord", directory, ["vae", *MLP, "--set", 'data.features={image="png"}'],
            (8, 8, 1))


SOURCES = {
    "npz": write_npz,
    "images_grey": lambda tmp_path: write_image_folder(tmp_path, 1),
    "images_colour": lambda tmp_path: write_image_folder(tmp_path, 3),
    "csv": write_csv,
    "tfrecord": write_tfrecord,
}


@pytest.mark.parametrize("source", [pytest.param(name, marks=() if name == "npz" else pytest.mark.slow)
                                    for name in SOURCES])
def test_a_user_source_trains_and_the_commands_work_also_after_the_data_moved(source, tmp_path, capsys):
    dataset, path, target, shape = SOURCES[source](tmp_path)
    run = tmp_path / "run"
    assert main(["train", *target[:1], "--dataset", dataset, "--out", str(run), *TINY, *target[1:]]) == 0
    record = json.loads((run / "run.json").read_text())
    assert tuple(record["data"]["data_shape"]) == shape
    assert record["data"]["source"] in dataset.split(":")[0] or dataset.startswith(record["data"]["source"])
    assert record["data"]["test_fraction"] == 0.1 and record["data"]["source_options"]["split_seed"] == 0
    if source == "csv":  # standardised: the train statistics are in the run, and binarize (vae.toml) went off
        scale = np.array(record["data"]["standardization"]["std"])
        assert scale.shape == (5,) and np.all(np.diff(scale) > 0)  # columns of deviation 1, 2, 3, 4, 5
        assert json.loads((run / "config.json").read_text())["data"]["binarize"] is None
    summary = json.loads((run / "summary.json").read_text())
    assert np.isfinite(summary["test"]["loss"])

    assert main(["evaluate", str(run), "--iwae-k", "2", "--max-examples", "4", "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_done"] == 1
    assert main(["plot", str(run), "--only", "reconstructions", "--split", "train"]) == 0
    assert (run / "plots" / "reconstructions.png").is_file() == (len(shape) == 3)

    path.rename(path.with_name(path.name + ".moved"))  # the data goes away
    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "samples.png")]) == 0
    if source == "csv":  # in the data's own units: the columns' deviations grow 1..5 as the table's do
        samples = np.load(tmp_path / "samples.npy")
        assert samples.shape == (4, 5) and np.std(samples[:, 4]) > np.std(samples[:, 0])
    assert main(["export", str(run), "--out-root", str(tmp_path / "served"), "--no-warmup"]) == 0
    assert any((tmp_path / "served").rglob("saved_model.pb"))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs the data the run trained on" in err[0] and str(path) in err[0], err
