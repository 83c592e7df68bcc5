"""The ``tfvae`` command line.

    tfvae train [CONFIG|MODEL] [options]     train, checkpoint, plot, summarise
    tfvae configs                            list the configs and models

Run ``tfvae train --help`` for every option.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TRAINING_DIRS = (Path("training"), Path(__file__).resolve().parents[1] / "training")


def _find_config(target: str) -> Path | None:
    path = Path(target)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        return path
    for directory in TRAINING_DIRS:
        candidate = directory / f"{target}.toml"
        if candidate.is_file():
            return candidate
    return None


def _flag_overrides(args: argparse.Namespace) -> list[str]:
    flags = {
        "data.dataset": args.dataset,
        "data.batch_size": args.batch_size,
        "data.data_dir": args.data_dir,
        "train.driver": args.driver,
        "train.epochs": args.epochs,
        "train.precision": args.precision,
        "train.jit_compile": args.jit,
        "train.steps_per_execution": args.steps_per_execution,
        "train.seed": args.seed,
        "train.learning_rate": args.learning_rate,
    }
    return [f"{key}={json.dumps(value)}" for key, value in flags.items() if value is not None]


def resolve_config(target: str, overrides: list[str]):
    """The config for ``target``: a TOML path, a config in ``training/``, or a model name."""
    from tfvae.config import default_config, load_config
    from tfvae.registry import MODELS

    path = _find_config(target)
    if path is not None:
        return load_config(path, overrides)
    if target in MODELS:
        return default_config(target, overrides)
    known = sorted({p.stem for d in TRAINING_DIRS if d.is_dir() for p in d.glob("*.toml")})
    raise FileNotFoundError(
        f"{target!r} is neither a config file, a config in training/ ({', '.join(known) or 'none'}), "
        f"nor a model ({', '.join(MODELS.names())})"
    )


def _train(args: argparse.Namespace) -> int:
    from tfvae.runs import train

    overrides = list(args.set or []) + _flag_overrides(args)
    config = resolve_config(args.target, overrides)
    if args.name:
        config.name = args.name
    train(config, out=args.out, resume=args.resume, verbose=0 if args.quiet else 1)
    return 0


def _configs(args: argparse.Namespace) -> int:
    from tfvae.registry import MODELS

    print("models:", ", ".join(MODELS.names()))
    for directory in TRAINING_DIRS:
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                print(f"config: {path}")
            break
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfvae",
        description="Train and inspect autoencoders and VAEs (TensorFlow, Keras 3, TFP).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a model from a config or a model name",
        description=(
            "Train a model. TARGET is a TOML config file, the name of a config in training/ "
            "(e.g. vae, conv_vae, beta_vae, autoencoder) or a registered model name. "
            "With no options it trains on the embedded digits (offline) and writes runs/<name>/: "
            "config.json, history.csv, TensorBoard logs, checkpoints, reconstructions.png, "
            "samples.png and summary.json."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    train.add_argument("target", nargs="?", default="vae", metavar="CONFIG|MODEL", help="config file, config name or model name")
    train.add_argument("--dataset", help="digits (embedded, offline), a tfds name (mnist, fashion_mnist, ...) or idx:<dir>")
    train.add_argument("--data-dir", help="tfds data directory, or the manual directory of a tfds dataset")
    train.add_argument("--driver", choices=("fit", "loop"), help="Keras fit, or the custom tf.function loop")
    train.add_argument("--epochs", type=int, help="total epochs (on --resume: train up to this many)")
    train.add_argument("--batch-size", type=int, help="examples per batch")
    train.add_argument("--learning-rate", type=float, help="Adam learning rate")
    train.add_argument(
        "--precision", choices=("float32", "mixed_float16", "mixed_bfloat16"), help="Keras mixed-precision policy"
    )
    train.add_argument("--jit", dest="jit", action="store_true", default=None, help="compile steps with XLA")
    train.add_argument("--no-jit", dest="jit", action="store_false", help="do not compile with XLA")
    train.add_argument("--steps-per-execution", type=int, help="training steps per tf.function call")
    train.add_argument("--seed", type=int, help="seed of initialisation, sampling and shuffling")
    train.add_argument("--out", help="run directory (default: runs/<config name>)")
    train.add_argument("--name", help="name of the run (default: the config's name)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override any config key, e.g. --set model.latent_dim=8 (repeatable)"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars or summary line")
    train.set_defaults(handler=_train)

    configs = commands.add_parser("configs", help="list the experiment configs and the registered models")
    configs.set_defaults(handler=_configs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfvae`` script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    from tfvae.config import ConfigError
    from tfvae.data import DatasetUnavailableError
    from tfvae.runs import RunError

    try:
        return args.handler(args)
    except (ConfigError, RunError, DatasetUnavailableError, FileNotFoundError) as error:
        print(f"tfvae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
