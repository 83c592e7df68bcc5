"""The CLI door: every family's shipped config through ``tfvae train / evaluate / plot / sample / export``.

For each family that names a config in ``training/`` (``Family.config``):

    tfvae train CONFIG --out RUN --set train.epochs=1 --set data.limit=64
    tfvae evaluate RUN --iwae-k 0 --max-examples 32
    tfvae plot RUN
    tfvae train vq_prior --from RUN ...   (models whose samples need a trained prior)
    tfvae sample RUN -n 4                 (exit 0 where the model can sample, else 2 with one error line)
    tfvae export RUN --out-root ROOT

All must exit as stated and write what they promise. The chains run through
the CLI's entry point in two processes (one per core, door.py); one command
also goes through ``python -m tfvae.cli`` itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conformance.families import FAMILIES

pytestmark = pytest.mark.slow

DOOR = Path(__file__).with_name("door.py")
TRAINING = Path(__file__).resolve().parents[2] / "training"
TINY = ["--set", "train.epochs=1", "--set", "data.limit=64", "--quiet"]
#: family -> its shipped config, one family per config
CONFIGS = {name: family.config for name, family in sorted(FAMILIES.items()) if family.config is not None}


#: the door's steps; a model whose samples need a trained prior trains it (`train vq_prior`) in the sample step
STEPS = ("train", "evaluate", "plot", "sample", "export")
#: (family, step) -> the library defect that step meets today (strict: fixing it turns the xfail into a failure)
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}
#: rough cost of a chain (CPU seconds / 10), to share the chains fairly between the two processes
COST = {"tdvae": 8, "seq2seq_ae": 4, "vqvae2": 5, "factor_vae_shapes": 5, "vqvae": 4, "beta_vae": 3}


def capabilities(name):
    return FAMILIES[name].build().capabilities


def chain(name: str, config: str, root: Path) -> list[dict]:
    """The commands of one family's run: ``step``, ``argv`` and whether the later ones need its output."""
    run, can = root / "runs" / config, capabilities(name)
    driver = "loop" if sorted(CONFIGS).index(name) % 2 else "fit"  # both drivers, each on half the configs
    commands = [
        ("train", ["train", str(TRAINING / f"{config}.toml"), "--out", str(run), "--driver", driver, *TINY]),
        ("evaluate", ["evaluate", str(run), "--iwae-k", "0", "--max-examples", "32", "--quiet"]),
        ("plot", ["plot", str(run), "--num-examples", "32"]),
    ]
    if can.needs_trained_prior:
        commands.append(("sample", ["train", "vq_prior", "--from", str(run), *TINY]))
    commands += [
        ("sample", ["sample", str(run), "-n", "4", "--npy", *(["--label", "1"] if can.conditional else [])]),
        ("export", ["export", str(run), "--out-root", str(root / "saved_models")]),
    ]
    return [{"step": step, "argv": argv, "needed": step == "train"} for step, argv in commands]


@pytest.fixture(scope="module")
def door(tmp_path_factory):
    """Every chain run (two processes, half each): config -> [(planned command, its result)]."""
    root = tmp_path_factory.mktemp("door")
    plans = {config: chain(name, config, root) for name, config in CONFIGS.items()
             if (TRAINING / f"{config}.toml").is_file()}
    parts: tuple[list[str], list[str]] = ([], [])
    for config in sorted(plans, key=lambda c: (-COST.get(c, 2), c)):  # longest first, to the lighter process
        min(parts, key=lambda part: sum(COST.get(c, 2) for c in part)).append(config)
    processes = []
    for part in (0, 1):
        plan = root / f"plan-{part}.json"
        plan.write_text(json.dumps({"chains": {n: plans[n] for n in parts[part]},
                                    "report": str(root / f"report-{part}.json")}))
        with open(root / f"stderr-{part}.txt", "w") as stderr:  # a file: a full pipe would block the child
            processes.append(subprocess.Popen([sys.executable, str(DOOR), str(plan)], cwd=root,
                                              stdout=subprocess.DEVNULL, stderr=stderr))
    report = {}
    for part, process in enumerate(processes):
        process.wait(timeout=900)
        assert process.returncode == 0, (root / f"stderr-{part}.txt").read_text()[-4000:]
        report.update(json.loads((root / f"report-{part}.json").read_text()))
    return {"root": root, "runs": {config: list(zip(plans[config], report[config])) for config in plans}}


def describe(result: dict) -> str:
    return f"tfvae {' '.join(result['argv'])} -> {result['status']}\n{result.get('traceback') or result['output']}"


def cases():
    for name in sorted(CONFIGS):
        for step in STEPS:
            reason = KNOWN_DEFECTS.get((name, step))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, step, marks=marks, id=f"{name}-{step}")


@pytest.mark.parametrize(("name", "step"), cases())
def test_the_shipped_config_goes_through_the_door(name, step, door):
    config = CONFIGS[name]
    if config not in door["runs"]:
        pytest.skip(f"training/{config}.toml is not in the tree yet")
    ran = door["runs"][config]
    train = ran[0][1]
    if step != "train" and train["status"] != 0:
        pytest.skip(f"train failed (see {name}-train)")
    results = [result for planned, result in ran if planned["step"] == step]
    run, can = door["root"] / "runs" / config, capabilities(name)

    if step == "sample" and not can.can_sample:  # refused with one error line, no traceback
        (sample,) = results
        assert sample["status"] == 2, describe(sample)
        assert "tfvae: error:" in sample["output"] and "Traceback" not in sample["output"], sample["output"]
        assert not sorted(run.glob("samples_n4_seed0*"))
        return
    assert results and all(result["status"] == 0 for result in results), "\n".join(map(describe, results))
    if step == "train":
        summary = json.loads((run / "summary.json").read_text())
        assert summary["epochs"] == 1 and np.isfinite(summary["test"]["loss"]), summary
        assert json.loads((run / "config.json").read_text())["data"]["limit"] == 64
    elif step == "evaluate":
        assert json.loads((run / "metrics.json").read_text())
    elif step == "plot":
        assert [p for p in (run / "plots").glob("*.png") if p.stat().st_size > 0], "plot drew pictures"
    elif step == "sample":
        samples = sorted(run.glob("samples_n4_seed0*"))
        assert any(p.suffix == ".npy" for p in samples), samples
        drawn = np.load(next(p for p in samples if p.suffix == ".npy"))
        assert len(drawn) == 4 and np.all(np.isfinite(drawn)), drawn.shape
    else:
        exports = list((door["root"] / "saved_models").glob(f"{run.name}/*/saved_model.pb"))
        assert len(exports) == 1, exports


def test_the_tfvae_script_itself_exits_0(door, tmp_path):
    """The entry point as users call it (``python -m tfvae.cli``), on the VAE run of the door."""
    run = door["root"] / "runs" / "vae"
    out = tmp_path / "grid.png"
    done = subprocess.run([sys.executable, "-m", "tfvae.cli", "sample", str(run), "-n", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert out.is_file() and out.stat().st_size > 0
