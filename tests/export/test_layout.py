"""TF Serving layout: next version, explicit versions, atomic writes, races, interruptions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import tfvae.export.saved_model as saved_model_module
from tfvae import Autoencoder
from tfvae.export import ExportError, existing_versions, export_saved_model, next_version, write_version
from tfvae.export.layout import STAGING_PREFIX, check_model_name, publish

SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def model():
    return Autoencoder.mlp(SHAPE, latent_dim=3, hidden_units=(16,), seed=0)


def children(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir())


def test_next_version_counts_only_integer_folders(tmp_path):
    assert existing_versions(tmp_path / "missing") == [] and next_version(tmp_path / "missing") == 1
    for name in ("1", "2", "10", ".tmp-11-abc", "notes"):
        (tmp_path / name).mkdir()
    (tmp_path / "12").write_text("a file, not a version")
    assert existing_versions(tmp_path) == [1, 2, 10]
    assert next_version(tmp_path) == 11


def test_export_next_to_versions_1_and_2_creates_3(tmp_path, model):
    base = tmp_path / "ae"
    assert export_saved_model(model, base) == base / "1"
    assert export_saved_model(model, base, warmup=False) == base / "2"
    assert children(base) == ["1", "2"]
    path = export_saved_model(model, base)
    assert path == base / "3" and children(base) == ["1", "2", "3"]
    x = np.full((2, *SHAPE), 0.25, "float32")
    loaded = tf.saved_model.load(str(path))
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.constant(x))["reconstruction"],
                               model.reconstruct(x), rtol=1e-5, atol=1e-6)
    assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert not (base / "2" / "assets.extra").exists()  # warmup=False


def test_explicit_versions(tmp_path, model):
    base = tmp_path / "ae"
    assert export_saved_model(model, base, version=7) == base / "7"
    with pytest.raises(ExportError, match=r"7 already exists"):
        export_saved_model(model, base, version=7)
    assert export_saved_model(model, base) == base / "8"
    for bad in (0, -1, "3", True):
        with pytest.raises(ExportError, match="positive integer"):
            export_saved_model(model, base, version=bad)
    assert children(base) == ["7", "8"]


def test_model_names_and_base_paths_are_checked(tmp_path, model):
    assert check_model_name("digits-vae_2.1") == "digits-vae_2.1"
    for bad in ("", "../x", "a/b", ".hidden", "with space"):
        with pytest.raises(ExportError, match="model name"):
            check_model_name(bad)
    (tmp_path / "file").write_text("")
    with pytest.raises(ExportError, match="not a folder"):
        export_saved_model(model, tmp_path / "file")


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_export_failing_mid_write_leaves_nothing(tmp_path, model, monkeypatch, failure):
    base = tmp_path / "ae"
    (base / "1").mkdir(parents=True)
    seen = {}

    def fail_after_the_saved_model(directory, *args, **kwargs):
        seen["files"] = sorted(p.name for p in Path(directory).iterdir())  # the SavedModel is already there
        raise failure

    monkeypatch.setattr(saved_model_module, "write_warmup_file", fail_after_the_saved_model)
    with pytest.raises(type(failure)):
        export_saved_model(model, base)
    assert "saved_model.pb" in seen["files"] and "variables" in seen["files"]
    assert children(base) == ["1"]  # no version 2, no staging folder


def test_a_killed_export_leaves_no_version_behind(tmp_path):
    """SIGKILL in the middle of an export (SavedModel written, warmup not yet)."""
    base, ready = tmp_path / "ae", tmp_path / "ready"
    script = textwrap.dedent(f"""
        import time
        import tfvae.export.saved_model as module
        from tfvae import Autoencoder

        def hang(*args, **kwargs):
            open({str(ready)!r}, "w").close()
            time.sleep(120)

        module.write_warmup_file = hang
        module.export_saved_model(Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,)), {str(base)!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert process.poll() is None, "the exporter ended before it was interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    left = children(base)
    assert existing_versions(base) == [] and next_version(base) == 1
    assert len(left) == 1 and left[0].startswith(STAGING_PREFIX)  # ignored by TF Serving: not an integer
    assert (base / left[0] / "saved_model.pb").is_file()


def test_a_competing_exporter_that_takes_the_version_first(tmp_path):
    base = tmp_path / "m"

    def write_while_another_exporter_publishes(staging: Path) -> None:
        staging.mkdir()
        (staging / "saved_model.pb").write_text("ours")
        (base / "1").mkdir()  # another process finished version 1 meanwhile
        (base / "1" / "saved_model.pb").write_text("theirs")

    assert write_version(base, write_while_another_exporter_publishes) == base / "2"
    assert (base / "1" / "saved_model.pb").read_text() == "theirs"
    assert (base / "2" / "saved_model.pb").read_text() == "ours"
    assert children(base) == ["1", "2"]

    def write_then_version_3_appears(staging: Path) -> None:
        staging.mkdir()
        (base / "3").mkdir()
        (base / "3" / "saved_model.pb").write_text("theirs")

    with pytest.raises(ExportError, match="already exists"):  # an explicit version is never renumbered
        write_version(base, write_then_version_3_appears, version=3)
    assert children(base) == ["1", "2", "3"] and (base / "3" / "saved_model.pb").read_text() == "theirs"


def test_publish_renames_a_complete_folder(tmp_path):
    staging = tmp_path / ".tmp-1-x"
    staging.mkdir()
    (staging / "f").write_text("x")
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "g").write_text("y")
    assert publish(staging, tmp_path, 1, take_next=True) == tmp_path / "2"
    assert not staging.exists() and (tmp_path / "2" / "f").read_text() == "x"
