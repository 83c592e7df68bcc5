"""tfvae against a peer library: pythae (PyTorch), the same VAE on the same data.

Both train the same model: an MLP VAE, encoder 784-512-256 -> 16-d diagonal
Gaussian, the mirrored decoder, a Bernoulli likelihood, batch 128, Adam with
learning rate 1e-3, dynamic binarisation (every batch drawn afresh from the
grey levels each epoch) on both sides. The data is materialised once
(``benchmarks/_peer_tfvae.py``, mode ``prepare``) as ``.npy`` files in a
temporary folder that both workers read: the first ``--examples`` (20,000)
training images of Fashion-MNIST, read from its IDX files
(``/usr/share/datasets/fashion-mnist``) by tfvae's own
:func:`tfvae.data.load_arrays`, scaled to [0, 1]; ``--data digits`` uses
tfvae's embedded digits instead, tiled to ``--examples``.

Rows, each in its own fresh process, alternated ``--rounds`` times so a slow
spell of this shared machine hits every row alike:

- ``pythae``: pythae 0.1.2's ``VAE`` (``VAEConfig(input_dim=(1, 28, 28),
  latent_dim=16, reconstruction_loss="bce")``) with a ``BaseEncoder`` and a
  ``BaseDecoder`` of those sizes, trained by a plain torch loop that does per
  step what pythae's ``BaseTrainer.train_step`` does (the model's
  ``forward``, ``zero_grad``, ``backward``, ``step``, ``loss.item()``),
  without its DataLoader and callbacks, under the peer's Python
  (``benchmarks/_peer_pythae.py``); torch gets ``--threads`` threads, by
  default the CPUs this process may run on, which is what TensorFlow's
  thread pools use (2 on the 2-core benchmark machine);
- ``tfvae``: ``tfvae.VAE.mlp`` built by :func:`benchmarks.run.build_tfvae`,
  ``compile(optimizer=keras.optimizers.Adam(1e-3))`` with tfvae's defaults
  (tfvae's default path), ``fit`` on a ``tf.data`` pipeline that binarises per
  batch as :func:`tfvae.data.load_dataset` does (``benchmarks/_peer_tfvae.py``);
- ``tfvae-bf16``: the same after
  ``keras.mixed_precision.set_global_policy("mixed_bfloat16")``;
- ``tfvae-xla`` / ``tfvae-xla-bf16`` (not in the default ``--rows``):
  ``compile(jit_compile=True)``, what ``jit_compile="auto"`` trains a run of
  2,000 steps or more with when its timed trial picks XLA, as it does for
  this model at batch 128 on the 2-core CPU (``python -m benchmarks.jit_trial``);
- ``pythae-1t`` (not in the default ``--rows``): ``pythae`` with one torch
  thread, for a busy machine (below).

Each process trains one warm-up epoch, then times ``--epochs`` epochs
(examples/s: an epoch's examples over its median epoch time); its peak
memory is the process's high-water resident set as ``os.wait4`` reports it
to this parent (which never imports TensorFlow or torch). It prints every
round and each row's median and its median ratio to ``pythae``; the JSON
also has the 1-minute load average before each process. torch's OpenMP
threads suffer more than TensorFlow's pool when other jobs take the cores
(on 2 busy cores a 2-thread torch matmul ran slower than a 1-thread one), so
compare rounds run on a quiet machine, or try ``--threads 1``.

``--architecture conv`` trains the conv VAE of ``tfvae.VAE.conv`` instead on both
sides (``benchmarks/_peer_pythae.py`` rebuilds its layers in torch: two 3x3
stride-2 convolutions of 32 and 64 channels, a 256-unit dense layer, the
mirrored transposed convolutions).

``--quality`` is the equal-budget comparison instead: both trained on the
same ``--quality-examples`` (4,000) images for ``--quality-epochs`` (30)
epochs, then the test NLL of both, in nats, on the same ``--test-examples``
(1,000) test images binarised once: importance sampling with ``--k`` (1000)
samples, pythae's ``VAE.get_nll`` and tfvae's
:func:`tfvae.metrics.likelihood.iwae_log_likelihood`.

    python -m benchmarks.peers                      # 4 rounds, batch 128
    python -m benchmarks.peers --batch-size 1024 --json benchmarks/results/peers.json
    python -m benchmarks.peers --quality
    python -m benchmarks.peers --architecture conv --examples 4000   # the conv VAE of VAE.conv on both sides

The peer lives in its own Python (``--peer-python``; default: the
environment variable ``TFVAE_PEER_PYTHON``, else ``/tmp/peer-venv/bin/python``
when it exists, else this Python when it can import pythae)::

    python -m venv /tmp/peer-venv
    /tmp/peer-venv/bin/pip install torch==2.13.0 pythae==0.1.2 numpy
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_WORKER = Path(__file__).resolve().parent / "_peer_pythae.py"
ROW_PREFIX = "ROW "
ROWS = ("pythae", "tfvae", "tfvae-bf16", "pythae-1t", "tfvae-xla", "tfvae-xla-bf16")
DEFAULT_ROWS = ROWS[:3]
DEFAULT_PEER_VENV = "/tmp/peer-venv/bin/python"
FASHION_MNIST = "idx:/usr/share/datasets/fashion-mnist"
INSTALL_HINT = (
    "install the peer in its own venv: python -m venv /tmp/peer-venv && "
    "/tmp/peer-venv/bin/pip install torch==2.13.0 pythae==0.1.2 numpy "
    "(or pip install -e '.[peers]' here), then pass --peer-python or set TFVAE_PEER_PYTHON"
)


class PeerUnavailable(Exception):
    """No Python that can import pythae (the message says why)."""


def default_threads() -> int:
    """The CPUs this process may run on: what TensorFlow sizes its thread pools by."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def find_peer_python(requested: str | None = None) -> str:
    """The Python to run pythae with: ``requested``, ``$TFVAE_PEER_PYTHON``, the venv, or this one.

    Raises:
      PeerUnavailable: the chosen Python does not exist or cannot import torch and pythae.
    """
    candidate = requested or os.environ.get("TFVAE_PEER_PYTHON")
    if not candidate:
        if os.path.exists(DEFAULT_PEER_VENV):
            candidate = DEFAULT_PEER_VENV
        elif importlib.util.find_spec("pythae") is not None:
            candidate = sys.executable
        else:
            raise PeerUnavailable(f"no Python with pythae found (not at {DEFAULT_PEER_VENV}, not in this one)")
    if not os.path.exists(candidate):
        raise PeerUnavailable(f"peer Python {candidate} does not exist")
    try:
        done = subprocess.run([candidate, "-c", "import torch, pythae"], capture_output=True, text=True, timeout=120)
    except OSError as error:
        raise PeerUnavailable(f"peer Python {candidate} cannot run: {error.strerror or error}") from error
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()][-1:] or [f"exit {done.returncode}"]
        raise PeerUnavailable(f"peer Python {candidate} cannot import torch and pythae ({said[0].strip()})")
    return candidate


def run_worker(command: list[str]) -> dict:
    """Run one worker process; its ``ROW`` answer plus ``peak_rss_mib`` from ``os.wait4`` (or ``error``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # other jobs on this shared machine
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    for line in reversed(stdout.splitlines()):
        if line.startswith(ROW_PREFIX):
            return {**json.loads(line[len(ROW_PREFIX):]), "peak_rss_mib": usage.ru_maxrss / 1024, "load_before": load}
    tail = [line for line in stderr.splitlines() if line.strip()][-3:]
    return {"error": f"exit {process.returncode}: " + " | ".join(tail)}


def prepare_data(folder: str, data: str, examples: int, test_examples: int, seed: int = 0) -> dict:
    """Write ``train.npy`` and ``test.npy`` into ``folder`` (in a child process: this one stays small)."""
    spec = {"mode": "prepare", "dir": folder, "data": data, "examples": examples,
            "test_examples": test_examples, "seed": seed}
    result = run_worker([sys.executable, "-m", "benchmarks._peer_tfvae", json.dumps(spec)])
    if "error" in result:
        raise RuntimeError(f"preparing the data failed: {result['error']}")
    return result


def run_row(row: str, spec: dict, peer_python: str | None = None) -> dict:
    """Train row ``row`` (``pythae``, ``pythae-1t``, ``tfvae``, ``tfvae-bf16``) in a fresh process; its report."""
    spec = {**spec, "row": row, **({"threads": 1} if row == "pythae-1t" else {})}
    if row.startswith("pythae"):
        if peer_python is None:
            raise ValueError("the pythae row needs a peer Python")
        command = [peer_python, str(PEER_WORKER), json.dumps(spec)]
    else:
        command = [sys.executable, "-m", "benchmarks._peer_tfvae", json.dumps(spec)]
    return {**run_worker(command), "row": row}


def base_spec(args, folder: str, mode: str, epochs: int) -> dict:
    return {"mode": mode, "train": os.path.join(folder, "train.npy"), "test": os.path.join(folder, "test.npy"),
            "epochs": epochs, "batch_size": args.batch_size, "threads": args.threads, "seed": args.seed,
            "learning_rate": 1e-3, "latent_dim": 16, "k": args.k, "architecture": args.architecture}


def speed(args, folder: str, rows: list[str], peer_python: str) -> dict:
    spec = base_spec(args, folder, "speed", args.epochs)
    rounds: list[dict[str, dict]] = []
    print(f"{'round':>5} " + " ".join(f"{row:>22}" for row in rows) + "   (examples/s, peak RSS MiB)", flush=True)
    for number in range(1, args.rounds + 1):
        results = {row: run_row(row, spec, peer_python) for row in rows}
        rounds.append(results)
        cells = []
        for row in rows:
            r = results[row]
            cells.append(f"{'failed':>22}" if "error" in r else f"{r['examples_per_s']:>12.0f} {r['peak_rss_mib']:>6.0f} MiB")
        print(f"{number:>5} " + " ".join(cells), flush=True)
        for row in rows:
            if "error" in results[row]:
                print(f"      {row} failed: {results[row]['error'][:300]}", flush=True)
    baselines = [row for row in ("pythae", "pythae-1t") if row in rows]
    summary = {}
    for row in rows:
        done = [r[row] for r in rounds if "error" not in r[row]]
        if not done:
            continue
        summary[row] = {
            "median_examples_per_s": statistics.median(r["examples_per_s"] for r in done),
            "median_peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in done),
            "max_peak_rss_mib": max(r["peak_rss_mib"] for r in done),
            "rounds_ok": len(done),
        }
        for baseline in baselines:  # the ratio within each round, then the median over rounds
            ratios = [r[row]["examples_per_s"] / r[baseline]["examples_per_s"] for r in rounds
                      if "error" not in r[row] and "error" not in r[baseline]]
            summary[row][f"median_ratio_to_{baseline}"] = statistics.median(ratios) if ratios else None
    columns = "".join(f" {'/ ' + baseline:>12}" for baseline in baselines)
    print(f"\n{'row':12} {'median examples/s':>18}{columns} {'peak RSS MiB':>13}   (ratios: median of the rounds' ratios)")
    for row, s in summary.items():
        ratios = "".join(f" {s[f'median_ratio_to_{b}']:>12.2f}" if s[f"median_ratio_to_{b}"] is not None
                         else f" {'-':>12}" for b in baselines)
        print(f"{row:12} {s['median_examples_per_s']:>18.0f}{ratios} {s['median_peak_rss_mib']:>13.0f}")
    return {"rounds": rounds, "summary": summary}


def quality(args, folder: str, peer_python: str) -> dict:
    spec = base_spec(args, folder, "quality", args.quality_epochs)
    results = {row: run_row(row, spec, peer_python) for row in ("pythae", "tfvae")}
    print(f"{args.quality_examples} training images x {args.quality_epochs} epochs, batch {args.batch_size}; "
          f"test NLL of {args.test_examples} test images, importance sampling k={args.k}")
    print(f"{'row':8} {'test NLL nats':>14} {'last train loss':>16} {'train s':>8} {'NLL s':>7} {'peak RSS MiB':>13}")
    for row, r in results.items():
        if "error" in r:
            print(f"{row:8} failed: {r['error'][:300]}")
            continue
        print(f"{row:8} {r['nll_nats']:>14.2f} {r['final_loss']:>16.2f} {r['train_seconds']:>8.1f} "
              f"{r['nll_seconds']:>7.1f} {r['peak_rss_mib']:>13.0f}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds of fresh processes, the rows alternated")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process (after one warm-up)")
    parser.add_argument("--examples", type=int, default=20000, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--architecture", choices=("mlp", "conv"), default="mlp",
                        help="the MLP VAE, or the conv VAE of VAE.conv on both sides")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="torch threads (default: the CPUs TensorFlow uses here, %(default)s)")
    parser.add_argument("--data", default=FASHION_MNIST,
                        help="a tfvae dataset name for load_arrays (default Fashion-MNIST IDX files; 'digits': embedded, tiled)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quality", action="store_true", help="the equal-budget test-NLL comparison instead")
    parser.add_argument("--quality-examples", type=int, default=4000)
    parser.add_argument("--quality-epochs", type=int, default=30)
    parser.add_argument("--test-examples", type=int, default=1000)
    parser.add_argument("--k", type=int, default=1000, help="importance samples of the NLL")
    parser.add_argument("--peer-python", help="a Python that imports torch and pythae (see above)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    rows = [row for row in args.rows.split(",") if row]
    if not rows or not set(rows) <= set(ROWS):
        parser.error(f"--rows: choose from {', '.join(ROWS)}")

    peer_python = None
    if args.quality or any(row.startswith("pythae") for row in rows):
        try:
            peer_python = find_peer_python(args.peer_python)
        except PeerUnavailable as error:
            print(f"benchmarks.peers: {error}; {INSTALL_HINT}", file=sys.stderr)
            return 2
    if not args.quality and "pythae" not in rows:
        print("no pythae row: no ratios", flush=True)

    examples = args.quality_examples if args.quality else args.examples
    with tempfile.TemporaryDirectory(prefix="tfvae-peers-") as folder:
        data = prepare_data(folder, args.data, examples, args.test_examples, args.seed)
        print(f"data: {args.data}, train {data['train_shape']}, test {data['test_shape']}; {args.architecture} VAE; "
              f"batch {args.batch_size}; "
              f"torch threads {args.threads}; peer Python {peer_python}", flush=True)
        if args.quality:
            report = {"quality": quality(args, folder, peer_python)}
        else:
            print(f"{args.rounds} rounds of {', '.join(rows)}, each a fresh process: 1 warm-up epoch + "
                  f"{args.epochs} timed of {examples} examples", flush=True)
            report = speed(args, folder, rows, peer_python)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": " ".join(["python -m benchmarks.peers", *(argv if argv is not None else sys.argv[1:])]),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} x{os.cpu_count()}",
            "data": args.data, "examples": examples, "batch_size": args.batch_size, "threads": args.threads,
            "architecture": args.architecture,
            "peer_python": peer_python, **report,
        }, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
