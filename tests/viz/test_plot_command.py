"""`tfvae plot RUN` end to end."""

from PIL import Image

from tfvae.cli import main
from tfvae.viz import PICTURES


def train_tiny(run, latent_dim, model="vae"):
    assert main(["train", model, "--epochs", "1", "--batch-size", "250", "--set", "model.hidden_units=[32]",
                 "--set", f"model.latent_dim={latent_dim}", "--quiet", "--out", str(run)]) == 0


def test_plot_writes_every_picture(tmp_path, capsys):
    run = tmp_path / "run"
    train_tiny(run, 2)
    assert main(["plot", str(run), "--num-examples", "200"]) == 0
    out = capsys.readouterr().out
    for name in PICTURES:
        path = run / "plots" / f"{name}.png"
        assert f"wrote {path}" in out
        with Image.open(path) as png:
            assert png.width >= 300 and png.height >= 200
    # --only, and another directory
    assert main(["plot", str(run), "--only", "latent_pca", "--out", str(tmp_path / "elsewhere")]) == 0
    assert [p.name for p in (tmp_path / "elsewhere").iterdir()] == ["latent_pca.png"]


def test_plot_skips_with_reasons_and_refuses_bad_names(tmp_path, capsys):
    run = tmp_path / "ae"
    train_tiny(run, 3, model="autoencoder")
    assert main(["plot", str(run), "--num-examples", "100"]) == 0
    captured = capsys.readouterr()
    assert "skipped prior_samples: Autoencoder has no prior" in captured.err
    assert "skipped latent_manifold" in captured.err
    assert (run / "plots" / "latent_traversals.png").is_file()
    assert not (run / "plots" / "prior_samples.png").exists()
    assert main(["plot", str(run), "--only", "samples"]) == 2
    assert "unknown picture(s) samples" in capsys.readouterr().err
