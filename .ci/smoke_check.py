"""The smoke checks that .ci/smoke runs in a fresh venv of one Python version.

Usage: python .ci/smoke_check.py WORKDIR   (the venv's python; WORKDIR an empty scratch folder)

1. ``import tfvae`` (and say which Python, TensorFlow, Keras and TFP it runs on);
2. ``tfvae train vae --epochs 1`` through the installed console script;
3. ``tfvae export`` of that run;
4. a clean process that imports only TensorFlow loads the SavedModel and calls each of its
   signatures (``serving_default`` must be one) on a batch of zeros: every output has that batch size
   and is finite.

Each step runs with WORKDIR as the working directory, so the installed package is what runs,
not the source tree. Exits non-zero, naming the step, at the first failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

BATCH = 3

LOAD_AND_CALL = textwrap.dedent(
    """
    import sys

    import numpy as np
    import tensorflow as tf

    path, batch = sys.argv[1], int(sys.argv[2])
    loaded = tf.saved_model.load(path)
    assert "tfvae" not in sys.modules, "loading the SavedModel imported tfvae"
    assert "serving_default" in loaded.signatures, sorted(loaded.signatures)
    for signature, fn in sorted(loaded.signatures.items()):
        _, specs = fn.structured_input_signature
        inputs = {}
        for name, spec in specs.items():
            shape = spec.shape.as_list()
            if not shape or None in shape[1:]:
                raise SystemExit(f"{signature}: input {name!r} has no fixed non-batch shape: {spec.shape}")
            inputs[name] = tf.zeros([batch] + shape[1:], spec.dtype)
        outputs = fn(**inputs)
        assert outputs, f"{signature} returned nothing"
        for name, value in outputs.items():
            value = value.numpy()
            assert value.shape[:1] == (batch,), (signature, name, value.shape)
            assert value.dtype.kind != "f" or np.isfinite(value).all(), f"{signature}: {name} is not finite"
        print(f"{signature}: {sorted(inputs)} -> {sorted(outputs)}, batch {batch}, finite")
    """
)

# TensorFlow's start-up chatter (absl, oneDNN, CUDA probing): not worth showing on success.
NOISE = ("I0000 ", "W0000 ", "E0000 ", "WARNING: All log messages before absl")


def step(title: str, argv: list[str], cwd: Path, shown: int = 6) -> str:
    print(f"--- {title}", flush=True)
    start = time.monotonic()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(argv, check=False, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.monotonic() - start
    if result.returncode != 0:
        print(result.stdout[-6000:], flush=True)
        raise SystemExit(f"smoke: '{title}' failed (exit {result.returncode}, {took:.0f} s)")
    lines = [line for line in result.stdout.splitlines() if line.strip() and not line.startswith(NOISE)]
    for line in lines[-shown:]:
        print(f"    {line}")
    print(f"    ok ({took:.0f} s)", flush=True)
    return result.stdout


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    work = Path(sys.argv[1]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    bindir = Path(sys.executable).parent
    tfvae_exe = bindir / ("tfvae.exe" if os.name == "nt" else "tfvae")
    run_dir, export_root = work / "run", work / "export"

    step(
        "import",
        [
            sys.executable,
            "-c",
            (
                "import sys, tfvae, tensorflow as tf, keras, tensorflow_probability as tfp; "
                "print('python', sys.version.split()[0], '| tfvae', tfvae.__version__, 'from', tfvae.__file__, "
                "'| tensorflow', tf.__version__, '| keras', keras.__version__, '| tfp', tfp.__version__)"
            ),
        ],
        work,
    )
    step("tfvae train vae --epochs 1", [str(tfvae_exe), "train", "vae", "--epochs", "1", "--out", str(run_dir)], work)
    step("tfvae export", [str(tfvae_exe), "export", str(run_dir), "--out-root", str(export_root)], work)
    versions = [p for p in export_root.glob("*/*") if p.is_dir() and (p / "saved_model.pb").is_file()]
    if len(versions) != 1:
        raise SystemExit(f"smoke: expected one SavedModel version under {export_root}, found {versions}")
    step(
        f"load {versions[0].relative_to(work)} in a process that imports only TensorFlow; call every signature",
        [sys.executable, "-c", LOAD_AND_CALL, str(versions[0]), str(BATCH)],
        work,
        shown=12,
    )
    print("smoke: all checks passed", flush=True)


if __name__ == "__main__":
    main()
