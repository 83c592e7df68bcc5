"""``tfvae plot RUN``: every picture a trained run's model can give -> ``RUN/plots/*.png``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfvae.commands._checks import announce_loading, existing_run, writable_dir
from tfvae.commands._common import DefaultsHelpFormatter, positive_int
from tfvae.fileio import refuse_symlink

PLOTS_DIR = "plots"


def run(args: argparse.Namespace) -> int:
    run_dir = existing_run(args.run)  # the mistakes a path can reveal, before TensorFlow is imported
    if not args.out:  # the run's own folder: never written through a link planted there
        refuse_symlink(run_dir / PLOTS_DIR, "the run's plots folder")
    writable_dir(args.out if args.out else run_dir / PLOTS_DIR, "--out")
    announce_loading(run_dir)

    from tfvae.errors import TfvaeError
    from tfvae.experiment import load_run, run_data
    from tfvae.models.catalogue import picture_names
    from tfvae.viz import Examples, draw_pictures, write_pictures

    if args.only:
        known = picture_names()
        unknown = [n for n in args.only if n not in known]
        if unknown:
            raise TfvaeError(f"unknown picture(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    loaded = load_run(args.run)
    # the run's data as it trained on it, in a fixed order; labels when the dataset has them
    x, labels = run_data(loaded.config, args.split, args.num_examples).arrays(limit=args.num_examples)
    if len(x) < 12:
        raise TfvaeError(f"the {args.split} split has {len(x)} examples; the pictures need at least 12")
    pictures = draw_pictures(loaded.model, Examples(x, labels, args.seed), args.only)
    out = Path(args.out) if args.out else loaded.directory / PLOTS_DIR
    for path in write_pictures(out, pictures):
        print(f"wrote {path}")
    for name, why in pictures.skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "plot",
        help="draw a trained run's pictures -> RUN/plots/*.png",
        description=(
            "Draw the pictures of a trained run as PNG files in RUN/plots/: reconstructions, "
            "stochastic_reconstructions, prior_samples, latent_manifold, latent_pca, interpolations "
            "and latent_traversals. Pictures the model cannot give (no prior of its own, point-mass posterior, discrete "
            "codes for traversals and interpolations, latent_dim != 2 for the manifold) are skipped with the reason. "
            "Each picture decodes only what it draws, a bounded chunk at a time: memory does not grow with the "
            "latent size."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run directory written by tfvae train")
    parser.add_argument("--split", default="test", help="dataset split to draw inputs from")
    parser.add_argument("--num-examples", type=positive_int, default=1000, help="examples encoded for the PCA scatter")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random draws (samples, stochastic reconstructions)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="draw only these pictures")
    parser.add_argument("--out", help=f"write the pictures here instead of RUN/{PLOTS_DIR}")
    parser.set_defaults(handler=run)
