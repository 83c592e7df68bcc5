"""``standardize=True``: every split standardised with the train split's per-feature mean and deviation."""

import numpy as np
import pytest

from tfvae.config import DataConfig
from tfvae.data import dataset_info, feature_statistics, load_arrays, load_dataset


@pytest.fixture
def table(tmp_path):
    x = np.random.default_rng(0).normal([3.0, -1.0, 0.0, 7.0], [1.0, 4.0, 0.5, 0.0], size=(300, 4))
    path = tmp_path / "t.npz"
    np.savez(path, x=x.astype("float32"))
    return f"npz:{path}"


def test_the_train_split_gets_zero_mean_and_unit_deviation_and_test_the_train_statistics(table):
    train_raw, _ = load_arrays(table, "train")
    test_raw, _ = load_arrays(table, "test")
    mean, std = feature_statistics(table)
    np.testing.assert_allclose(mean, train_raw.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std[:3], train_raw.std(axis=0)[:3], rtol=1e-5)
    assert std[3] == 1.0  # a constant feature is only centred
    train = np.concatenate([np.asarray(b) for b in load_dataset(table, "train", 64, standardize=True)])
    np.testing.assert_allclose(np.sort(train, axis=0), np.sort((train_raw - mean) / std, axis=0), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0)[:3], 1.0, rtol=1e-4)
    test = np.concatenate([np.asarray(b) for b in load_dataset(table, "test", 64, standardize=True)])
    np.testing.assert_allclose(test, (test_raw - mean) / std, rtol=1e-5, atol=1e-5)  # the TRAIN statistics
    arrays, _ = load_arrays(table, "test", standardize=True)
    np.testing.assert_allclose(arrays, test, rtol=1e-6, atol=1e-6)
    assert dataset_info(table, standardize=True).options["standardize"] is True


def test_standardize_flows_from_the_config_and_refuses_binarisation(table):
    options = DataConfig(dataset=table, standardize=True).source_options()
    assert options["standardize"] is True and "standardize" not in DataConfig(dataset=table).source_options()
    assert np.array_equal(feature_statistics(table, **options)[0], feature_statistics(table)[0])
    with pytest.raises(ValueError, match="cannot be combined with binarize or dequantize"):
        load_dataset(table, "train", 8, standardize=True, dequantize=True)
