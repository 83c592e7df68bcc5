"""How noisy are the anomaly scores of a trained VAE, and how much do more samples help?

For each of the first ``--examples`` test digits, the score is computed with
``--seeds`` different seeds; the table gives the mean over examples of the
per-example standard deviation across seeds, and the mean score, for the
default ``-ELBO`` (the model's num_samples), ``num_samples=16`` and IWAE
``k = 16, 256``::

    tfvae train vae --out runs/vae
    python -m benchmarks.anomaly_variance runs/vae
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tfvae.applications import anomaly_scores
from tfvae.experiment import load_run, run_data


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a VAE run directory")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args(argv)
    loaded = load_run(args.run)
    data = run_data(loaded.config, "test", args.examples, with_labels=False)
    x, _ = data.arrays(limit=args.examples)  # the first test examples, statically binarised as `tfvae evaluate` does
    print(f"{loaded.directory}: {len(x)} examples of {data.description}, {args.seeds} seeds")
    print(f"{'score':<22} {'mean':>9} {'sd over seeds':>14} {'seconds':>8}")
    for label, options in [("-ELBO (model's draws)", {}), ("-ELBO, 16 draws", {"num_samples": 16}),
                           ("IWAE k=16", {"iwae_k": 16}), ("IWAE k=256", {"iwae_k": 256})]:
        start = time.perf_counter()
        scores = np.stack([anomaly_scores(loaded.model, x, seed=s, **options) for s in range(args.seeds)])
        seconds = time.perf_counter() - start
        print(f"{label:<22} {scores.mean():9.2f} {scores.std(axis=0).mean():14.3f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
