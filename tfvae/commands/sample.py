"""``tfvae sample``: draw new examples from a trained run's prior."""

from __future__ import annotations

import argparse
from pathlib import Path

from tfvae.commands._checks import (
    ARRAY_SUFFIX,
    announce_loading,
    checked_image_out,
    existing_run,
    sample_request,
    sampleable_run,
    writable_dir,
)
from tfvae.commands._common import DefaultsHelpFormatter, positive_int


def run(args: argparse.Namespace) -> int:
    # the mistakes a path or the run's record can reveal, before TensorFlow is imported
    run_dir = existing_run(args.run)
    if args.out:
        checked_image_out(args.out)
    else:
        writable_dir(run_dir, "RUN")
    sampleable_run(run_dir, args.label, args.temperature)
    sample_request(run_dir, args.num)  # a million samples of large images: one line, not an out-of-memory traceback
    announce_loading(run_dir)

    import numpy as np

    from tfvae.errors import TfvaeError, with_article
    from tfvae.experiment import load_prior, load_run
    from tfvae.models.catalogue import catalogue_of
    from tfvae.viz import image_grid, save_png

    loaded = load_run(args.run)
    model = loaded.model
    label = None if args.label is None else np.full(args.num, args.label, np.int32)
    offer = catalogue_of(model)  # how this family samples
    if offer.samples == "trained_prior":  # a VQ-VAE: codes from its trained PixelCNN prior(s)
        prior = load_prior(args.run, model)
        if prior is None:
            raise TfvaeError(f"{args.run} has no trained prior yet: run `tfvae train vq_prior --from {args.run}` first")
        samples = model.sample(args.num, prior, condition=label, temperature=args.temperature, seed=args.seed)
    elif offer.samples == "prior":
        if args.temperature != 1.0:
            raise TfvaeError("--temperature applies to autoregressive priors (VQ-VAE runs) only")
        if model.capabilities.conditional:
            if label is None:
                raise TfvaeError(f"{args.run} holds a conditional model: pass --label CLASS")
            samples = model.sample(args.num, condition=label, seed=[args.seed, 0])
        else:
            samples = model.sample(args.num, seed=[args.seed, 0])
    else:
        raise TfvaeError(f"{args.run} holds {with_article(type(model).__name__)}, which has no prior to sample from")
    samples = np.asarray(samples)
    standardization = loaded.record.get("data", {}).get("standardization")
    if standardization:  # a run on standardised data: back to the data's own units
        samples = samples * np.asarray(standardization["std"], np.float32) + np.asarray(standardization["mean"],
                                                                                        np.float32)
    out = Path(args.out) if args.out else Path(args.run) / f"samples_n{args.num}_seed{args.seed}.png"
    if samples.ndim == 4 and out.suffix.lower() != ARRAY_SUFFIX:  # an image grid (PNG or JPEG, by the suffix)
        save_png(out, image_grid(samples, columns=args.columns))
        if args.npy:
            np.save(out.with_suffix(ARRAY_SUFFIX), samples)
    else:  # asked for the array, or data that is not images (sequences, ratings): the array only
        out = out.with_suffix(ARRAY_SUFFIX)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, samples)
    print(f"{args.num} samples written to {out}")
    return 0


def register(commands) -> None:
    parser = commands.add_parser(
        "sample",
        help="draw samples from a trained run's prior",
        description=(
            "Draw samples from a run: a VQ-VAE run samples codes from its PixelCNN prior "
            "(tfvae train vq_prior --from RUN) and decodes them; a VAE-family run samples its "
            "prior p(z). Writes an image grid (--out FILE.png, .jpg or .jpeg), or the samples as an array "
            "(--out FILE.npy); data that is not images (sequences, ratings) is always written as a .npy, "
            "at --out with its extension replaced."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run directory written by tfvae train")
    parser.add_argument("-n", "--num", type=positive_int, default=64, help="number of samples")
    parser.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same samples")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of the code draws")
    parser.add_argument("--label", type=int, help="class of a class-conditional model or prior")
    parser.add_argument("--columns", type=positive_int, default=8, help="columns of the image grid")
    parser.add_argument("--out", metavar="FILE",
                        help="output file: .png, .jpg or .jpeg (the image grid) or .npy (the array); "
                             "default RUN/samples_n<N>_seed<S>.png")
    parser.add_argument("--npy", action="store_true",
                        help="with an image grid, also save the samples beside it as .npy")
    parser.set_defaults(handler=run)
