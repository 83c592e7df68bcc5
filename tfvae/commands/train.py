"""``tfvae train``: train a model from a config or a model name."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tfvae.commands._checks import dataset_path, existing_run, run_out
from tfvae.commands._common import DefaultsHelpFormatter

TRAINING_DIRS = (Path("training"), Path(__file__).resolve().parents[2] / "training")


def _find_config(target: str) -> Path | None:
    path = Path(target)
    if path.suffix == ".toml" or path.is_file():
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        return path  # load_config says what is wrong with it, if anything
    for directory in TRAINING_DIRS:
        candidate = directory / f"{target}.toml"
        if candidate.is_file():
            return candidate
    return None


def resolve_config(target: str, overrides: list[str], labels: dict[str, str] | None = None):
    """The config for ``target``: a TOML path, a config in ``training/``, or a model name."""
    from tfvae.config import default_config, load_config
    from tfvae.registry import MODELS

    path = _find_config(target)
    if path is not None:
        return load_config(path, overrides, labels)
    if target in MODELS:
        return default_config(target, overrides, labels)
    from tfvae.errors import did_you_mean

    known = sorted({p.stem for d in TRAINING_DIRS if d.is_dir() for p in d.glob("*.toml")})
    raise FileNotFoundError(
        f"{target!r} is neither a config file, a config in training/ ({', '.join(known) or 'none'}), "
        f"nor a model ({', '.join(MODELS.names())}){did_you_mean(target, [*known, *MODELS.names()])}"
    )


#: Config key -> (the option that sets it, its argparse dest).
_FLAGS = {
    "data.dataset": ("--dataset", "dataset"),
    "data.batch_size": ("--batch-size", "batch_size"),
    "data.data_dir": ("--data-dir", "data_dir"),
    "train.driver": ("--driver", "driver"),
    "train.strategy": ("--strategy", "strategy"),
    "train.epochs": ("--epochs", "epochs"),
    "train.precision": ("--precision", "precision"),
    "train.jit_compile": ("--jit/--no-jit", "jit"),
    "train.steps_per_execution": ("--steps-per-execution", "steps_per_execution"),
    "train.seed": ("--seed", "seed"),
    "train.learning_rate": ("--learning-rate", "learning_rate"),
    "train.on_nonfinite": ("--on-nonfinite", "on_nonfinite"),
}


def _flag_overrides(args: argparse.Namespace) -> list[str]:
    values = {key: getattr(args, dest) for key, (_, dest) in _FLAGS.items()}
    return [f"{key}={_toml_value(value)}" for key, value in values.items() if value is not None]


def _override_labels(args: argparse.Namespace) -> dict[str, str]:
    """How the user wrote each overridden key, so an error names ``--set train.epoch`` or ``--epochs``."""
    labels = {}
    for text in args.set or []:
        key = text.split("=", 1)[0].strip()
        labels[key] = f"--set {key}"
    labels.update({key: f"{flag}, {key}" for key, (flag, dest) in _FLAGS.items() if getattr(args, dest) is not None})
    return labels


def _toml_value(value) -> str:
    """``value`` written as TOML (``nan`` and ``inf`` as TOML spells them, so the config check names them)."""
    if isinstance(value, float):
        return repr(value)  # 0.001, 1e+30, nan, inf, -inf: all TOML floats
    return json.dumps(value)


def run(args: argparse.Namespace) -> int:
    from tfvae.experiment.kinds import (
        run_kind,  # no TensorFlow: a wrong flag is answered at once
    )

    dataset_path(args.dataset)  # a missing npz:/images:/csv:/... path, before anything else
    overrides = list(args.set or []) + _flag_overrides(args)
    config = resolve_config(args.target, overrides, _override_labels(args))  # before TensorFlow is imported: errors answer fast
    if args.name is not None:
        config.name = args.name
        config.validate()
    verbose = 0 if args.quiet else 1
    kind = run_kind(config)  # a model run, or the prior of a VQ-VAE run (kind = "prior", --from RUN)
    kind.check(config, from_run=args.from_run, resume=args.resume)
    # the mistakes a path can reveal, still before TensorFlow: the data, the run directory, the run a prior learns
    if args.from_run:
        existing_run(args.from_run)  # a trained VQ-VAE run
    else:
        dataset_path(config.data.dataset)  # also set by --set data.dataset=... or the config file
    if args.out or kind.name == "model":
        run_out(args.out or Path("runs") / config.name)  # a file there: --out, or --resume of it
    changed = set(_override_labels(args))  # on --resume only what the command line set counts as a change
    kind.train(config, out=args.out, resume=args.resume, from_run=args.from_run, verbose=verbose, changed=changed)
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train a model from a config or a model name",
        description=(
            "Train a model. TARGET is a TOML config file, the name of a config in training/ "
            "(e.g. vae, conv_vae, beta_vae, autoencoder) or a registered model name. "
            "With no options it trains on the embedded digits (offline) and writes runs/<name>/: "
            "config.json, history.csv, TensorBoard logs, checkpoints, reconstructions.png, "
            "samples.png and summary.json. `tfvae train vq_prior --from RUN` trains the PixelCNN "
            "prior of a VQ-VAE run on its codes (into RUN/prior)."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("target", nargs="?", default="vae", metavar="CONFIG|MODEL", help="config file, config name or model name")
    parser.add_argument("--dataset", help="digits (embedded, offline), a tfds name (mnist, fashion_mnist, ...) or idx:<dir>")
    parser.add_argument("--data-dir", help="tfds data directory, or a directory of IDX files")
    parser.add_argument("--driver", choices=("fit", "loop"), help="Keras fit, or the custom tf.function loop")
    parser.add_argument(
        "--strategy",
        choices=("none", "mirrored", "multi_worker"),
        help="tf.distribute: none (one device), mirrored (every GPU of this machine), multi_worker "
        "(the machines TF_CONFIG lists; run the same command on each, with --driver loop); "
        "--batch-size is then the global batch",
    )
    parser.add_argument("--epochs", type=int, help="total epochs (on --resume: train up to this many)")
    parser.add_argument("--batch-size", type=int, help="examples per batch")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate")
    parser.add_argument(
        "--precision", choices=("float32", "mixed_float16", "mixed_bfloat16", "auto"),
        help="Keras mixed-precision policy; auto: mixed_bfloat16 on a GPU with compute capability >= 8.0 or a CPU "
        "with AVX512_BF16/AMX, else float32 (summary.json records the one used)",
    )
    parser.add_argument("--jit", dest="jit", action="store_true", default=None, help="compile steps with XLA")
    parser.add_argument("--no-jit", dest="jit", action="store_false", help="do not compile with XLA")
    parser.add_argument("--steps-per-execution", type=int, help="training steps per tf.function call")
    parser.add_argument("--seed", type=int, help="seed of initialisation, sampling and shuffling")
    parser.add_argument(
        "--on-nonfinite", choices=("stop", "skip"),
        help="a step with a NaN or infinite loss or gradient: stop with an error naming the step and the term "
        "(default; the last good checkpoint stays the newest), or skip it (weights unchanged) and go on",
    )
    parser.add_argument("--out", help="run directory (default: runs/<config name>; RUN/prior for vq_prior)")
    parser.add_argument("--from", dest="from_run", metavar="RUN",
                        help="vq_prior: the VQ-VAE run whose codes the prior learns")
    parser.add_argument("--name", help="name of the run (default: the config's name)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override any config key, e.g. --set model.latent_dim=8 (repeatable)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or summary line")
    parser.set_defaults(handler=run)
