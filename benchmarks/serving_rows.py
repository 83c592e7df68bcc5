"""What a request of N rows costs per signature of an exported VAE, vectorised against row by row.

The MLP VAE of ``tfvae train vae`` (784-512-256-16, Bernoulli, one Monte-Carlo
draw) is exported twice in one process: as tfvae exports it (``score`` and
``sample`` vectorised over the rows, :func:`tfvae.export.signatures.per_row`)
and with those two signatures computed one row after the other (``tf.map_fn``,
what tfvae did until 2026-12-07). Both SavedModels are loaded with
``tf.saved_model.load`` and sent the same requests of each ``--rows`` size,
interleaved for ``--rounds`` rounds; the best time of each is kept (a shared
machine's slow spells do not decide). Reported per signature and size:
seconds, rows per second, and the ratio to ``serving_default`` of the same
request in the same export (the reference row).

    python -m benchmarks.serving_rows
    python -m benchmarks.serving_rows --rows 1000 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from tfvae.export import ServingModule, export_saved_model, serving_signatures
from tfvae.models import VAE


def exports(directory: Path, max_rows: int) -> dict[str, str]:
    """``{"vectorised": path, "row by row": path}``: one model, two exports."""
    model = VAE.mlp((28, 28, 1), latent_dim=16, hidden_units=(512, 256), seed=0)
    signatures = serving_signatures(model)
    looped = {name: dataclasses.replace(s, vectorized=False) if s.row_outputs is not None else s
              for name, s in signatures.items()}
    paths = {}
    for label, chosen in (("vectorised", signatures), ("row by row", looped)):
        module = ServingModule(model, chosen, max_request_rows=max_rows)
        paths[label] = str(export_saved_model(model, directory / label.replace(" ", "-"), warmup=False,
                                              module=module))
    return paths


def requests(rows: int) -> dict[str, dict[str, tf.Tensor]]:
    rng = np.random.default_rng(0)
    x = tf.constant((rng.uniform(size=(rows, 28, 28, 1)) > 0.5).astype("float32"))
    seed = tf.constant(np.stack([np.full(rows, 7), np.arange(rows)], axis=1).astype("int64"))
    return {"serving_default": {"x": x}, "score": {"x": x, "seed": seed}, "sample": {"seed": seed}}


def measure(paths: dict[str, str], sizes: list[int], rounds: int, row_by_row_limit: int) -> list[dict]:
    loaded = {label: tf.saved_model.load(path).signatures for label, path in paths.items()}
    best: dict[tuple, float] = {}
    for _ in range(rounds):
        for rows in sizes:
            feeds = requests(rows)
            for label, signatures in loaded.items():
                for name, feed in feeds.items():
                    if label == "row by row" and (name == "serving_default" or rows > row_by_row_limit):
                        continue  # serving_default is the same graph in both; long loops are left out
                    signatures[name](**{k: v[:1] for k, v in feed.items()})  # warm
                    started = time.perf_counter()
                    signatures[name](**feed)
                    elapsed = time.perf_counter() - started
                    key = (label, name, rows)
                    best[key] = min(best.get(key, float("inf")), elapsed)
    table = []
    for (label, name, rows), seconds in sorted(best.items(), key=lambda item: (item[0][2], item[0][0], item[0][1])):
        reference = best[("vectorised", "serving_default", rows)]
        table.append({"export": label, "signature": name, "rows": rows, "seconds": round(seconds, 4),
                      "rows_per_s": round(rows / seconds), "ratio_to_serving_default": round(seconds / reference, 2)})
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--row-by-row-limit", type=int, default=10000,
                        help="largest request sent to the row-by-row export (its loop is slow)")
    parser.add_argument("--out", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        table = measure(exports(Path(directory), max(args.rows)), args.rows, args.rounds, args.row_by_row_limit)
    print(f"{'export':<11} {'signature':<16} {'rows':>7} {'seconds':>9} {'rows/s':>9} {'x serving_default':>18}")
    for row in table:
        print(f"{row['export']:<11} {row['signature']:<16} {row['rows']:>7} {row['seconds']:>9.4f} "
              f"{row['rows_per_s']:>9} {row['ratio_to_serving_default']:>18.2f}")
    if args.out:
        args.out.write_text(json.dumps({"rows": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
