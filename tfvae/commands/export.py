"""``tfvae export``: a trained run as a TF Serving SavedModel (and optionally a ``.keras`` file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tfvae.commands._checks import (
    announce_loading,
    existing_run,
    export_target,
    model_name,
    run_config,
    writable_file,
)


def run(args: argparse.Namespace) -> int:
    # the mistakes a path can reveal, before TensorFlow is imported: a run to export, a name, folders to write
    if args.name is not None:
        model_name(args.name)
    if args.keras:
        writable_file(args.keras, "--keras", create_parents=True, suffix=".keras")
    run_dir = existing_run(args.run)
    export_target(args.out_root, args.name or _config_name(run_dir), args.version)
    announce_loading(run_dir)

    from tfvae.experiment import load_run
    from tfvae.export import (
        ServingModule,
        export_saved_model,
        save_keras,
        signature_table,
    )
    from tfvae.export.layout import check_model_name, check_target

    loaded = load_run(args.run)
    name = check_model_name(args.name or loaded.config.name)
    base = check_target(Path(args.out_root) / name, args.version)  # a taken version fails before the work
    prior = trained_prior(loaded)
    module = ServingModule(loaded.model, prior=prior, options=dict(args.option or []),
                           max_request_rows=args.max_request_rows)
    path = export_saved_model(loaded.model, base, args.version, warmup=args.warmup, model_name=name, module=module)
    with_prior = " with its prior (sample signature)" if prior is not None else ""
    print(f"Exported {loaded.directory} (epoch {loaded.epochs_done}){with_prior} to {path}")
    table = signature_table(module)
    width = max(len(row[0]) for row in table)
    for signature, inputs, outputs in table:
        print(f"  {signature:<{width}}  {inputs}  ->  {outputs}")
    if args.keras:
        print(f"Saved the Keras model (training resume, fine-tuning) to {save_keras(loaded.model, args.keras)}")
    return 0


def _config_name(run_dir: Path) -> str | None:
    """The run's config name (the default model name), as ``config.json`` has it; ``None`` when absent."""
    name = run_config(run_dir).get("name")
    return name if isinstance(name, str) else None


def trained_prior(loaded):
    """The prior trained for a VQ-VAE run (``RUN/prior/``, ``tfvae train vq_prior --from RUN``), or ``None``.

    With it the export gets a ``sample`` signature that runs the prior.
    """
    if not loaded.model.capabilities.needs_trained_prior:  # only VQ models have a prior over codes
        return None
    from tfvae.experiment import load_prior

    return load_prior(loaded.directory, loaded.model)


def _option(text: str) -> tuple[str, int]:
    """``KEY=VALUE`` with an integer value, e.g. ``horizon=8``."""
    key, sep, value = text.partition("=")
    try:
        if not sep or not key.strip():
            raise ValueError
        return key.strip(), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid option {text!r}: KEY=INTEGER, e.g. horizon=8") from None


def _positive(what: str):
    """An argparse type: a positive integer, or a usage error naming ``what``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: a positive integer")
        return value

    return parse


_version = _positive("version")


def register(commands) -> None:
    parser = commands.add_parser(
        "export",
        help="export a trained run as a TF Serving SavedModel",
        description=(
            "Export the newest checkpoint of RUN (a run directory written by `tfvae train`) as a "
            "SavedModel in TF Serving layout, OUT_ROOT/NAME/VERSION/, with signatures serving_default, "
            "encode, decode, score (and sample for VAEs, and for VQ-VAEs whose run has a trained prior in "
            "RUN/prior/; serving_default, rollout and score for TD-VAEs) and TF Serving warmup requests. The version "
            "is written into a hidden temporary folder and renamed into place when complete."
        ),
    )
    parser.add_argument("run", metavar="RUN", help="run directory, e.g. runs/vae")
    parser.add_argument("--name", help="model name (folder under OUT_ROOT); default: the run's config name")
    parser.add_argument("--version", type=_version, help="version number; default: the next free one")
    parser.add_argument("--out-root", default="saved_models", help="export root holding one base path per model (default: saved_models)")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="do not write assets.extra/tf_serving_warmup_requests")
    parser.add_argument("--option", metavar="KEY=VALUE", type=_option, action="append",
                        help="a family's export-time setting, repeatable; TD-VAE: horizon=H (predicted frames of "
                             "the rollout signature, default 2 * max_jump) and jump=J (steps per frame, default "
                             "max_jump, or 1 without jump conditioning)")
    parser.add_argument("--max-request-rows", metavar="N", type=_positive("row count"), default=65_536,
                        help="the most rows (examples) one request may hold; larger requests are refused in one "
                             "line (default: 65536; lower it for large examples)")
    parser.add_argument("--keras", metavar="FILE", help="also save the model as a .keras file (resume, fine-tune)")
    parser.set_defaults(handler=run)
