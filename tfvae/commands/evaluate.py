"""``tfvae evaluate RUN``: likelihood and latent metrics of a trained run -> ``RUN/metrics.json``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tfvae.commands._checks import announce_loading, existing_run, iwae_request, writable_file
from tfvae.commands._common import DefaultsHelpFormatter, positive_int

METRICS_FILE = "metrics.json"
#: ``--iwae-k`` by default: on the embedded digits' 1,000 test examples it takes less time than training the
#: ``vae`` config (benchmarks/RESULTS.md, "tfvae evaluate against tfvae train"); 5000 for paper-comparable figures.
DEFAULT_IWAE_K = 1000
PAPER_IWAE_K = 5000


def run(args: argparse.Namespace) -> int:
    from tfvae.errors import TfvaeError

    # the mistakes a path can reveal, before TensorFlow is imported (and before the evaluation, for --out)
    if args.iwae_k < 0:
        raise TfvaeError(f"--iwae-k must be >= 1 (or 0 to skip the IWAE estimate), got {args.iwae_k}")
    run_dir = existing_run(args.run)
    iwae_request(run_dir, args.iwae_k, min(args.batch_size, args.max_examples or args.batch_size))
    writable_file(args.out if args.out else run_dir / METRICS_FILE, "--out")
    announce_loading(run_dir, quiet=args.quiet)

    from tfvae.experiment import load_prior, load_run, run_data
    from tfvae.metrics import bits_per_dim_convention, evaluate_model, prior_is_conditional, vq_bound
    from tfvae.models.catalogue import catalogue_of

    loaded = load_run(args.run)
    offer = catalogue_of(loaded.model)  # what this family is scored by
    config = loaded.config
    # the run's data in a fixed order: binarised runs on a static binarisation keyed on --seed
    data = run_data(config, args.split, args.batch_size, seed=args.seed,
                    with_labels=loaded.model.capabilities.conditional)
    convention, why = bits_per_dim_convention(
        loaded.model.likelihood, config.data.binarize, config.data.dequantize
    )
    verbose = 0 if args.quiet else 1
    if verbose:
        if "iwae_nll" not in offer.metrics:
            k = f"no IWAE ({offer.skipped_metrics['iwae_nll']})"
        else:
            k = f"IWAE k={args.iwae_k}" if args.iwae_k else "no IWAE"
        print(f"Evaluating {loaded.directory} (epoch {loaded.epochs_done}) on {data.description}, {k}",
              file=sys.stderr)
        if args.iwae_k and "iwae_nll" in offer.metrics:
            examples = data.num_examples if args.max_examples is None else min(
                args.max_examples, data.num_examples or args.max_examples)
            print(iwae_forecast(loaded.model, data.dataset, args.iwae_k, args.chunk_size, examples, args.seed),
                  file=sys.stderr)
    evaluation = evaluate_model(
        loaded.model,
        data.dataset,
        iwae_k=args.iwae_k or None,
        chunk_size=args.chunk_size,
        seed=args.seed,
        max_examples=args.max_examples,
        bits_per_dim_convention=convention,
        bits_per_dim_note=why,
        total=data.num_examples,
        verbose=verbose,
    )
    disentanglement = disentanglement_scores(loaded, args.seed, verbose) if args.disentanglement else None
    bound = None
    if "vq_bound" in offer.metrics:  # VQ-VAEs: the bound under the uniform and the trained priors
        prior = load_prior(loaded.directory, loaded.model)
        if prior is not None and prior_is_conditional(prior):  # a class-conditional prior scores codes with labels
            data = run_data(config, args.split, args.batch_size, seed=args.seed, with_labels=True)
        bound = vq_bound(loaded.model, prior, data.dataset, args.max_examples,
                         bits_per_dim_convention=convention, bits_per_dim_note=why)
    out = Path(args.out) if args.out else loaded.directory / METRICS_FILE
    record = {
        "run": str(loaded.directory),
        "model": config.model.name,
        "epochs_done": loaded.epochs_done,
        "data": data.description,
        "split": args.split,
        "seed": args.seed,
        "evaluated": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        **evaluation.summary(),
    }
    if disentanglement is not None:
        record["disentanglement"] = disentanglement
    if bound is not None:
        record["vq_bound"] = bound
    from tfvae.errors import writing
    from tfvae.fileio import atomic_write_text

    text = json.dumps(record, indent=2) + "\n"
    # a full disk: one line naming the file; atomic_write_text leaves no partial file and any old one whole
    with writing(out, "the metrics", needed=lambda: len(text.encode("utf-8")),
                 then="; the file is unchanged: free some space, then evaluate again"):
        atomic_write_text(out, text)
    print(evaluation.table())
    if disentanglement is not None:
        print("disentanglement: " + ", ".join(f"{name} {value:.3f}" for name, value in disentanglement.items()))
    for name, terms in (bound or {}).items():
        levels = terms.get("levels")
        by_level = f": {', '.join(f'{level} {rate:.2f}' for level, rate in levels.items())}" if levels else ""
        which = "uniform prior" if name == "uniform" else "trained prior"
        bits = "" if terms["bits_per_dim"] is None else f" = {terms['bits_per_dim']:.4f} bits/dim"
        print(f"VQ-VAE bound, {which}: {terms['nats']:.2f} nats{bits} (rate {terms['rate']:.2f} nats{by_level})")
    print(f"metrics written to {out}")
    return 0


def iwae_forecast(model, dataset, k: int, chunk_size: int, examples: int | None, seed: int) -> str:
    """``IWAE k=K on N examples: about S s``: the IWAE estimate's time, from one timed call on the first batch.

    The call draws ``min(k, chunk_size)`` samples per example of the first
    batch, after an untimed one that traces the chunk function (the
    evaluation reuses that trace); the time scales with ``k`` and the number
    of examples. Its draws use their own seed: the evaluation's numbers do not
    change. The ELBO, reconstruction and latent metrics add a few seconds.

    Args:
      model: a model whose evaluation computes the IWAE estimate.
      dataset: the evaluation's batches (``x`` or ``(x, labels)``).
      k: importance samples per example.
      chunk_size: samples decoded at a time.
      examples: the number of examples evaluated, when known.
      seed: the evaluation's seed.
    """
    from tfvae.metrics import iwae_log_likelihood

    batch = next(iter(dataset))
    x = batch[0] if isinstance(batch, tuple) else batch
    probe = min(k, chunk_size)
    iwae_log_likelihood(model, x, probe, chunk_size, seed=seed)  # traces the chunk function: not timed
    started = time.perf_counter()
    iwae_log_likelihood(model, x, probe, chunk_size, seed=seed)
    per_example = (time.perf_counter() - started) * (k / probe) / int(x.shape[0])
    if examples is None:
        return f"IWAE k={k}: about {_seconds(per_example * 1000)} per 1,000 examples"
    return f"IWAE k={k} on {examples:,} examples: about {_seconds(per_example * examples)}"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:,.0f} s"


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
            "log-likelihood estimate (Burda et al. 2016) with its standard errors (its expected time is "
            "printed first, from one timed batch), bits/dim where a "
            "convention applies, reconstruction MSE/BCE, active units and the KL per latent dimension. "
            "Writes RUN/metrics.json and prints a table. Binarised runs are evaluated on a static "
            "binarisation of the split."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("run", metavar="RUN", help="a run directory written by tfvae train")
    parser.add_argument("--iwae-k", type=int, default=DEFAULT_IWAE_K,
                        help=f"importance samples per example (0: skip); {PAPER_IWAE_K} for figures comparable with "
                             "papers (5x the time; about 0.3 nats lower on the digits)")
    parser.add_argument("--chunk-size", type=positive_int, default=500, help="IWAE samples decoded at a time")
    parser.add_argument("--split", default="test", help="dataset split")
    parser.add_argument("--batch-size", type=positive_int, default=20, help="examples per batch")
    parser.add_argument("--max-examples", type=positive_int, help="evaluate only the first N examples")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of every draw (ELBO, IWAE) and the static binarisation")
    parser.add_argument("--out", help=f"write the JSON here instead of RUN/{METRICS_FILE}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--disentanglement", action="store_true",
                        help="also score BetaVAE, FactorVAE, MIG and DCI (runs on shapes or dsprites)")
    parser.set_defaults(handler=run)
