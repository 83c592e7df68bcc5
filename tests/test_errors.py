"""Messages read as English: the article before a model's name."""

import pytest

from tfvae.errors import with_article


@pytest.mark.parametrize("noun, expected", [
    ("Autoencoder", "an Autoencoder"), ("ContractiveAE", "a ContractiveAE"), ("VAE", "a VAE"),
    ("VQVAE", "a VQVAE"), ("SparseAE", "a SparseAE"), ("RatingsAE", "a RatingsAE"),
    ("IWAE", "an IWAE"), ("MLP", "an MLP"), ("Encoder", "an Encoder"),
])
def test_the_article_follows_the_sound(noun, expected):
    assert with_article(noun) == expected


def test_a_misspelt_name_gets_the_closest_suggestion(capsys):
    from tfvae.cli import main
    from tfvae.registry import MODELS

    assert main(["train", "vea", "--epochs", "1"]) == 2
    assert "(did you mean 'vae'?)" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"unknown model 'vqvea2' \(did you mean 'vqvae2'\?\)"):
        MODELS.get("vqvea2")
    with pytest.raises(ValueError) as error:
        MODELS.get("zzzz")
    assert "did you mean" not in str(error.value)


def test_evaluate_does_not_announce_an_iwae_it_will_skip(tmp_path, capsys):
    from tfvae.cli import main

    run = tmp_path / "ae"
    tiny = ["--epochs", "1", "--set", "model.hidden_units=[8]", "--set", "model.latent_dim=2",
            "--set", "data.limit=256", "--quiet"]
    assert main(["train", "autoencoder", *tiny, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iwae-k", "5000", "--max-examples", "50"]) == 0
    err = capsys.readouterr().err
    assert "no IWAE (Autoencoder declares no likelihood bound" in err and "IWAE k=5000" not in err


def test_help_shows_only_real_defaults(capsys):
    from tfvae.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: True)" not in text and "(default: None)" not in text and "(default: False)" not in text
    assert text.count("(default: runs/<config name>") == 1


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["train", "vae", "--set", "train.epoch=3"], "tfvae: error: --set train.epoch: unknown key; did you mean 'epochs'?"),
        (["train", "vae", "--epochs", "0"], "tfvae: error: --epochs, train.epochs: must be >= 1, got 0"),
        (["train", "conv_vae", "--set", "model.latent_dim=0"], "tfvae: error: --set model.latent_dim: must be >= 1, got 0"),
    ],
)
def test_a_bad_override_is_named_as_the_user_wrote_it_not_as_the_config_file(argv, expected, capsys):
    from tfvae.cli import main

    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == expected
