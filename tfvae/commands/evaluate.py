"""``tfvae evaluate RUN``: likelihood and latent metrics of a trained run -> ``RUN/metrics.json``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tfvae.commands._common import DefaultsHelpFormatter, positive_int

METRICS_FILE = "metrics.json"


def evaluation_data(config, split: str, batch_size: int, seed: int = 0, with_labels: bool = False):
    """The run's dataset, split ``split``, in a fixed order, as the metrics need it.

    Binarised runs (dynamic or static) are evaluated on a *static* binarisation
    (one fixed Bernoulli draw per example keyed on ``(seed, index)``), so the
    test set is the same every time; dequantised runs get uniform noise from
    ``seed``.

    Returns:
      ``(dataset, number of examples or None, description)``.
    """
    from tfvae.data import dataset_info, load_dataset

    data = config.data
    binarize = "static" if data.binarize else None
    dataset = load_dataset(
        data.dataset, split, batch_size, shuffle=False, seed=seed, binarize=binarize,
        dequantize=data.dequantize, with_labels=with_labels, cache=False, **data.source_options(),
    )
    info = dataset_info(data.dataset, **data.source_options())
    how = "static binarization" if binarize else ("uniform dequantization" if data.dequantize else "values as loaded")
    return dataset, info.num_examples.get(split), f"{data.dataset} {split}, {how} (seed {seed})"


def run(args: argparse.Namespace) -> int:
    from tfvae.errors import TfvaeError
    from tfvae.metrics import bits_per_dim_convention, evaluate_model
    from tfvae.runs import load_run

    loaded = load_run(args.run)
    config = loaded.config
    if args.iwae_k < 0:
        raise TfvaeError(f"--iwae-k must be >= 1 (or 0 to skip the IWAE estimate), got {args.iwae_k}")
    try:
        data, total, described = evaluation_data(config, args.split, args.batch_size, args.seed,
                                                   with_labels=loaded.model.capabilities.conditional)
    except ValueError as error:
        raise TfvaeError(str(error)) from None
    convention, why = bits_per_dim_convention(
        loaded.model.likelihood, config.data.binarize, config.data.dequantize
    )
    verbose = 0 if args.quiet else 1
    if verbose:
        if not loaded.model.capabilities.has_prior:
            k = f"no IWAE ({type(loaded.model).__name__} has no prior p(z))"
        else:
            k = f"IWAE k={args.iwae_k}" if args.iwae_k else "no IWAE"
        print(f"Evaluating {loaded.directory} (epoch {loaded.epochs_done}) on {described}, {k}", file=sys.stderr)
    evaluation = evaluate_model(
        loaded.model,
        data,
        iwae_k=args.iwae_k or None,
        chunk_size=args.chunk_size,
        seed=args.seed,
        max_examples=args.max_examples,
        bits_per_dim_convention=convention,
        bits_per_dim_note=why,
        total=total,
        verbose=verbose,
    )
    disentanglement = disentanglement_scores(loaded, args.seed, verbose) if args.disentanglement else None
    vq_bound = None
    if loaded.model.capabilities.needs_trained_prior:  # VQ-VAEs: the bound under the uniform and the trained priors
        vq_bound = vq_bound_terms(loaded, data, args.max_examples)
    out = Path(args.out) if args.out else loaded.directory / METRICS_FILE
    record = {
        "run": str(loaded.directory),
        "model": config.model.name,
        "epochs_done": loaded.epochs_done,
        "data": described,
        "split": args.split,
        "seed": args.seed,
        "evaluated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        **evaluation.summary(),
    }
    if disentanglement is not None:
        record["disentanglement"] = disentanglement
    if vq_bound is not None:
        record["vq_bound"] = vq_bound
    from tfvae.fileio import atomic_write_text

    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(evaluation.table())
    if disentanglement is not None:
        print("disentanglement: " + ", ".join(f"{name} {value:.3f}" for name, value in disentanglement.items()))
    for prior, bound in (vq_bound or {}).items():
        levels = bound.get("levels")
        by_level = f": {', '.join(f'{level} {rate:.2f}' for level, rate in levels.items())}" if levels else ""
        print(f"VQ-VAE bound, {prior} prior: {bound['nats']:.2f} nats = {bound['bits_per_dim']:.4f} bits/dim "
              f"(rate {bound['rate']:.2f} nats{by_level})")
    print(f"metrics written to {out}")
    return 0


def vq_bound_terms(loaded, data, max_examples: int | None) -> dict[str, dict]:
    """The VQ-VAE bound ``distortion - log p(codes)`` on ``data``, uniform and learned (``RUN/prior``) prior.

    Returns:
      ``{"uniform": {...}, "pixelcnn": {...}}`` (``pixelcnn`` only when the
      run has a trained prior), each with ``rate`` (the codes' NLL), ``nats``
      and ``bits_per_dim`` of the bound; for a VQ-VAE-2 each also has
      ``levels``: the rate of the top codes and of the bottom codes given
      the top ones (their sum is ``rate``).
    """
    import math

    import numpy as np

    from tfvae.prior_runs import code_nll, load_prior, uniform_code_nll

    model = loaded.model
    prior = load_prior(loaded.directory)
    distortions: list[np.ndarray] = []
    learned: dict[str, list[np.ndarray]] = {}
    seen = 0
    for batch in data:
        x = batch[0] if isinstance(batch, tuple) else batch
        if max_examples is not None:
            x = x[: max_examples - seen]
        distortions.append(model.bound(x)["distortion"].numpy())
        if prior is not None:
            for level, nll in code_nll(model, prior, x).items():
                learned.setdefault(level, []).append(nll)
        seen += len(x)
        if max_examples is not None and seen >= max_examples:
            break
    distortion = float(np.mean(np.concatenate(distortions)))
    dims = int(np.prod(model.data_shape)) * math.log(2)
    rates = {"uniform": uniform_code_nll(model)}
    if learned:
        rates["pixelcnn"] = {level: float(np.mean(np.concatenate(parts))) for level, parts in learned.items()}
    out = {}
    for name, levels in rates.items():
        rate = sum(levels.values())
        out[name] = {"rate": rate, "nats": distortion + rate, "bits_per_dim": (distortion + rate) / dims}
        if set(levels) != {"prior"}:
            out[name]["levels"] = levels
    return out


#: datasets with known generative factors: name -> ground-truth sampler factory
def _ground_truth(dataset: str):
    from tfvae.data.shapes import ShapesDataset, load_dsprites

    if dataset == "shapes":
        return ShapesDataset()
    if dataset == "dsprites":
        return load_dsprites("train")
    return None


def disentanglement_scores(loaded, seed: int, verbose: int) -> dict[str, float]:
    """BetaVAE, FactorVAE, MIG and DCI disentanglement of the run's posterior means.

    Needs a dataset with known factors (``shapes``, or ``dsprites`` when prepared).
    """
    from tfvae.errors import TfvaeError
    from tfvae.metrics import beta_vae_score, dci_score, factor_vae_score, mig_score

    data = _ground_truth(loaded.config.data.dataset)
    if data is None:
        raise TfvaeError(
            f"--disentanglement needs a dataset with known factors (shapes, dsprites); "
            f"this run trained on {loaded.config.data.dataset!r}"
        )

    def encode(images):
        return loaded.model.embed(images).numpy()

    if verbose:
        print("Scoring disentanglement (BetaVAE, FactorVAE, MIG, DCI) ...", file=sys.stderr)
    return {
        "beta_vae": float(beta_vae_score(encode, data, seed=seed).score),
        "factor_vae": float(factor_vae_score(encode, data, seed=seed).score),
        "mig": float(mig_score(encode, data, seed=seed).score),
        "dci_disentanglement": float(dci_score(encode, data, seed=seed).score),
    }


def register(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="ELBO, IWAE NLL, bits/dim, active units of a trained run -> RUN/metrics.json",
        description=(
            "Evaluate a trained run: per-example ELBO, distortion and rate, the importance-weighted "
            "log-likelihood estimate (Burda et al. 2016) with its standard errors, bits/dim where a "
            "convention applies, reconstruction MSE/BCE, active units and the KL per latent dimension. "
            "Writes RUN/metrics.json and prints a table. Binarised runs are evaluated on a static "
            "binarisation of the split."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run directory written by tfvae train")
    parser.add_argument("--iwae-k", type=int, default=5000, help="importance samples per example (0: skip)")
    parser.add_argument("--chunk-size", type=positive_int, default=500, help="IWAE samples decoded at a time")
    parser.add_argument("--split", default="test", help="dataset split")
    parser.add_argument("--batch-size", type=positive_int, default=20, help="examples per batch")
    parser.add_argument("--max-examples", type=positive_int, help="evaluate only the first N examples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the IWAE draws and the static binarisation")
    parser.add_argument("--out", help=f"write the JSON here instead of RUN/{METRICS_FILE}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--disentanglement", action="store_true",
                        help="also score BetaVAE, FactorVAE, MIG and DCI (runs on shapes or dsprites)")
    parser.set_defaults(handler=run)
