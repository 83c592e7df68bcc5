"""Pictures decode only what they draw, in bounded chunks, and skip what means nothing for a family."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfvae
from tfvae.metrics import ModelCapabilityError
from tfvae.models import VQVAE, VQVAE2
from tfvae.viz import Examples, draw_pictures, latent, plot_latent_traversals


def count_rows(layer, monkeypatch) -> list[int]:
    """Wrap a real network's ``call``: the returned list gets the number of rows of every call."""
    rows: list[int] = []
    original = layer.call

    def call(inputs, *args, **kwargs):
        rows.append(int(inputs.shape[0]))
        return original(inputs, *args, **kwargs)

    monkeypatch.setattr(layer, "call", call)
    return rows


def test_traversals_decode_only_the_shown_dimensions(digits, monkeypatch):
    x = digits[0][:200]
    model = tfvae.VAE.mlp(latent_dim=24, hidden_units=(16,), seed=0)
    decoded = count_rows(model.decoder, monkeypatch)

    images, dims, values = latent.latent_traversals(model, x, steps=7, max_dims=5)
    assert images.shape == (5, 7, 28, 28, 1) and values.shape == (5, 7)
    assert sum(decoded) == 5 * 7  # shown dimensions x steps, not latent_dim x steps
    spread = latent.posterior_means(model, x).std(axis=0)  # ranked by encoding alone
    np.testing.assert_array_equal(dims, np.argsort(-spread, kind="stable")[:5])

    decoded.clear()
    plot_latent_traversals(model, x, max_dims=4, steps=6)
    assert sum(decoded) == 4 * 6


def test_every_picture_decodes_what_it_draws_in_bounded_chunks(digits, monkeypatch):
    monkeypatch.setattr(latent, "DECODE_CHUNK", 16)
    monkeypatch.setattr(latent, "ENCODE_CHUNK", 50)
    model = tfvae.VAE.mlp(latent_dim=2, hidden_units=(16,), seed=0)
    decoded = count_rows(model.decoder, monkeypatch)
    encoded = count_rows(model.encoder, monkeypatch)
    pictures = draw_pictures(model, Examples(digits[0][:300], digits[1][:300]))
    assert pictures.skipped == {}
    assert max(decoded) <= 16 and max(encoded) <= 50
    # reconstructions 16, stochastic 6 x 8, prior samples 64, manifold 15 x 15, interpolations 6 x 10, traversals 2 x 9
    assert sum(decoded) == 16 + 6 * 8 + 64 + 15 * 15 + 6 * 10 + 2 * 9


@pytest.mark.parametrize("family, pad", [(VQVAE, 0), (VQVAE2, 2)], ids=["VQVAE", "VQVAE2"])
def test_vq_pictures_that_mean_nothing_are_skipped_with_the_reason(family, pad, digits, monkeypatch):
    x = np.pad(digits[0][:100], ((0, 0), (pad, pad), (pad, pad), (0, 0)))  # VQ-VAE-2: sizes divisible by 8
    model = family.conv(data_shape=x.shape[1:], num_embeddings=8, embedding_dim=4, filters=8, residual_filters=4,
                        num_residual_blocks=1, seed=0)
    decoded = count_rows(model.decoder, monkeypatch)
    pictures = draw_pictures(model, Examples(x, digits[1][:100]))
    assert set(pictures.images) == {"reconstructions", "latent_pca"}
    skipped = pictures.skipped
    for name in ("latent_traversals", "interpolations"):
        assert "not a continuous latent vector" in skipped[name] and "discrete codebook entries" in skipped[name]
    assert "no prior p(z)" in skipped["prior_samples"] and "separately trained prior" in skipped["prior_samples"]
    assert "point-mass posterior" in skipped["stochastic_reconstructions"]
    assert "no prior p(z)" in skipped["latent_manifold"]
    assert sum(decoded) == 16  # the reconstructions only
    with pytest.raises(ModelCapabilityError, match="no latent traversals: .* not a continuous latent vector"):
        latent.latent_traversals(model, x[:10])
    assert sum(decoded) == 16


def test_wide_codes_get_the_same_pca_through_the_gram_matrix():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(40, 300)).astype(np.float32)
    means[:, 5] *= 10.0
    wide = latent.latent_pca(means)  # 300 > 40: the N x N route
    centred = means.astype(np.float64) - means.astype(np.float64).mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(wide.explained, singular[:2] ** 2 / np.sum(singular**2), rtol=1e-6)
    np.testing.assert_allclose(np.abs(wide.components), np.abs(vt[:2]), atol=1e-6)
    np.testing.assert_allclose(np.abs(wide.points), np.abs(centred @ vt[:2].T), atol=1e-4)


# ---------------------------------------------------------------- peak memory of `tfvae plot`

ROOT = Path(__file__).resolve().parents[2]
TFVAE = [sys.executable, "-c", "import sys; from tfvae.cli import main; sys.exit(main(sys.argv[1:]))"]


def peak_rss_kb(args: list[str], log: Path) -> int:
    """Run ``tfvae ARGS`` in a fresh process; its peak resident set size in KiB (Linux ``ru_maxrss``)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    with open(log, "w") as out:
        proc = subprocess.Popen([*TFVAE, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"tfvae {' '.join(args)} failed:\n{log.read_text()[-3000:]}"
    return int(usage.ru_maxrss)


VQVAE2 = """
[model]
name = "vqvae2"
architecture = "conv"
likelihood = "bernoulli"
options = { num_embeddings = 64, embedding_dim = 16, filters = 64, residual_filters = 32, num_residual_blocks = 2 }

[data]
batch_size = 50
"""


def shapes_idx(directory: Path, n: int) -> str:
    """``n`` train and ``n`` test 64x64 shapes as an MNIST-layout IDX directory; the ``--dataset`` value."""
    from tfvae.data.idx_format import write_idx
    from tfvae.data.shapes import sample

    for prefix, seed in (("train", 0), ("t10k", 1)):
        images, factors = sample(n, seed=seed)
        write_idx(directory / f"{prefix}-images-idx3-ubyte", images[..., 0])
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", factors[:, 0].astype(np.uint8))
    return f"idx:{directory}"


@pytest.mark.slow
def test_plot_of_a_vqvae2_run_stays_within_1_3x_the_vae_peak_rss(tmp_path):
    """Issue 17: the pictures of a VQ-VAE-2 on 64x64 shapes (latent_dim 5,120) decoded 46,080 traversal
    codes at once (an OOM at 20.6 GB); ``tfvae plot`` now stays within 1.3x a VAE's peak RSS on the same data."""
    (tmp_path / "data").mkdir()
    small = ["--epochs", "1", "--quiet", "--dataset", shapes_idx(tmp_path / "data", 300)]
    config = tmp_path / "vqvae2.toml"
    config.write_text(VQVAE2)
    peak_rss_kb(["train", "vae", *small, "--out", str(tmp_path / "vae")], tmp_path / "vae_train.log")
    peak_rss_kb(["train", str(config), *small, "--out", str(tmp_path / "vq")], tmp_path / "vq_train.log")

    vae = peak_rss_kb(["plot", str(tmp_path / "vae")], tmp_path / "vae_plot.log")
    vq = peak_rss_kb(["plot", str(tmp_path / "vq")], tmp_path / "vq_plot.log")
    log = (tmp_path / "vq_plot.log").read_text()
    assert "skipped latent_traversals" in log and "continuous latent" in log
    assert (tmp_path / "vq" / "plots" / "reconstructions.png").is_file()
    print(f"peak RSS of tfvae plot: VAE {vae / 1024:.0f} MiB, VQ-VAE-2 {vq / 1024:.0f} MiB ({vq / vae:.2f}x)")
    assert vq <= 1.3 * vae, f"VQ-VAE-2 plot peak RSS {vq / 1024:.0f} MiB > 1.3 x the VAE's {vae / 1024:.0f} MiB"
