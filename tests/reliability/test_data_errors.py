"""Corrupt or missing data: errors that say what is wrong and where (gaps of tests/data only).

``tests/data/test_idx_format.py`` covers bad magic numbers, unknown dtypes,
truncated headers and data, truncated gzip streams, missing files and
directories. Here: a header that declares far more data than the file holds
(it used to raise a bare ``MemoryError``), a file given where a directory is
expected, a split with no examples, a bad batch size for the generated
datasets, and a corrupt file met in the middle of ``tfvae train`` (a one-line
error naming the file, not a traceback).
"""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from tfvae.cli import main
from tfvae.data import EmptySplitError, IdxFormatError, load_dataset, read_idx, write_idx
from tfvae.errors import TfvaeError


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_header_declaring_more_data_than_the_file_holds_is_reported_as_truncated(tmp_path, compress):
    # 100,000 images of 1000x1000: 100 GB declared, 10 bytes present
    content = b"\x00\x00\x08\x03" + struct.pack(">III", 100_000, 1000, 1000) + bytes(10)
    path = tmp_path / "liar"
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(IdxFormatError, match=r"liar: truncated data for shape \(100000, 1000, 1000\) \(uint8\): "
                                             r"expected 100000000000 bytes, found 10"):
        read_idx(path)


def write_split(directory, prefix, n):
    write_idx(directory / f"{prefix}-images-idx3-ubyte", np.zeros((n, 4, 4), np.uint8))
    write_idx(directory / f"{prefix}-labels-idx1-ubyte", np.zeros(n, np.uint8))


def test_a_file_where_the_idx_directory_should_be_is_named(tmp_path):
    write_split(tmp_path, "train", 2)
    target = tmp_path / "train-images-idx3-ubyte"
    with pytest.raises(FileNotFoundError, match=rf"{target} .* is a file, not a directory"):
        load_dataset(f"idx:{target}", "train")


def test_an_empty_split_is_refused_by_the_training_pipeline(tmp_path):
    write_split(tmp_path, "train", 0)
    write_split(tmp_path, "t10k", 2)
    with pytest.raises(EmptySplitError, match=rf"split 'train' of dataset 'idx:{tmp_path}' in {tmp_path} holds no"):
        load_dataset(f"idx:{tmp_path}", "train")
    assert len(list(load_dataset(f"idx:{tmp_path}", "test", batch_size=4))) == 1  # the other split still loads


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_generated_datasets_check_the_batch_size(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {batch_size}"):
        load_dataset("sines", "train", batch_size=batch_size)  # used to fail inside tf.data


def test_a_corrupt_file_met_during_tfvae_train_is_one_line_naming_it(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    write_split(data, "train", 8)
    write_split(data, "t10k", 4)
    labels = data / "t10k-labels-idx1-ubyte"  # the test split is read after the run has started
    labels.write_bytes(labels.read_bytes()[:-2])
    assert issubclass(IdxFormatError, TfvaeError) and issubclass(IdxFormatError, ValueError)
    status = main(["train", "vae", "--dataset", f"idx:{data}", "--epochs", "1", "--quiet",
                   "--set", "model.hidden_units=[4]", "--set", "model.latent_dim=2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2
    assert f"tfvae: error: {labels}: truncated data for shape (4,) (uint8): expected 4 bytes, found 2" in err
    assert "Traceback" not in err
