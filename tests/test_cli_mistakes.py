"""Every mistake a path or a file on the command line can reveal: one ``tfvae: error:`` line, exit 2, at once.

The runs the mistakes need are written without training: a ``config.json``
(``ExperimentConfig().to_json()``), a ``run.json`` written by
:meth:`tfvae.experiment.RunDirectory.write_record` and an empty
``checkpoints/checkpoint`` list stand for a trained run, which the path checks
never open. The path-only mistakes run in ONE fresh Python process that calls
``tfvae.cli.main`` on each in turn and reports, after each, whether
TensorFlow has been imported: they must be answered before it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tfvae.cli import main

REPO = Path(__file__).resolve().parents[1]


def _unwritable_dir(tmp: Path) -> Path | None:
    """A directory in which no file can be created, for this user (root ignores permission bits: /sys), or None."""
    candidates = [Path("/sys")]
    if os.geteuid() != 0:
        locked = tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        candidates.insert(0, locked)
    for candidate in candidates:
        try:
            with tempfile.TemporaryFile(dir=candidate):
                pass
        except OSError:
            return candidate
    return None


def _fake_run(path: Path, model: str = "vae", capabilities: dict | None = None, checkpoint: bool = True) -> Path:
    """A run directory as training leaves it, without the training: config.json, run.json, a checkpoint list."""
    from tfvae.config import ExperimentConfig
    from tfvae.data import dataset_info
    from tfvae.experiment import RunDirectory
    from tfvae.models.contract import Capabilities

    config = ExperimentConfig()
    config.model.name = model
    run = RunDirectory(path)
    path.mkdir(parents=True)
    run.config_path.write_text(config.to_json() + "\n")  # unvalidated on purpose: only its file matters here
    if capabilities is not None:
        run.write_record(config, dataset_info("digits"), Capabilities(**capabilities))
    if checkpoint:
        run.checkpoint_dir.mkdir()
        (run.checkpoint_dir / "checkpoint").write_text("")
    return path


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> dict[str, str]:
    """The files and runs the mistakes name, by placeholder."""
    tmp = tmp_path_factory.mktemp("mistakes")
    (tmp / "afile").write_text("not a run")
    (tmp / "empty").mkdir()
    (tmp / "outdir").mkdir()
    _fake_run(tmp / "untrained", checkpoint=False)
    (tmp / "badjson").mkdir()
    (tmp / "badjson" / "config.json").write_text("{ not json")
    image = dict(autoencoder=True, image_data=True)
    _fake_run(tmp / "vae", capabilities=dict(has_prior=True, stochastic_encoder=True, **image))
    _fake_run(tmp / "cvae", "cvae", capabilities=dict(has_prior=True, conditional=True, **image))
    _fake_run(tmp / "vq", "vqvae", capabilities=dict(needs_trained_prior=True, discrete_codes=True, **image))
    (tmp / "exports" / "vae" / "3").mkdir(parents=True)
    locked = _unwritable_dir(tmp)
    return {"TMP": str(tmp), "LOCKED": str(locked) if locked else "",
            "LOCKED_PARENT": str(locked.parent) if locked else "", "LOCKED_NAME": locked.name if locked else ""}


def _argv(template: str, place: dict[str, str]) -> list[str]:
    for key in sorted(place, key=len, reverse=True):
        template = template.replace(key, place[key])
    return template.split()


# (id, command line with placeholders, words the one error line must contain), all answered before TensorFlow is
# imported: paths of runs and outputs, what run.json says a run can do, config mistakes, dataset paths
PATH_MISTAKES = [
    ("run missing", "evaluate TMP/nosuch", ["run directory not found: TMP/nosuch"]),
    ("run is a file", "plot TMP/afile", ["TMP/afile is a file, not a run directory"]),
    ("no config.json", "sample TMP/empty", ["TMP/empty holds no run (no config.json)"]),
    ("no checkpoint", "export TMP/untrained",
     ["TMP/untrained has no checkpoint yet: train it with `tfvae train vae --out TMP/untrained --resume"]),
    ("config not json", "evaluate TMP/badjson", ["TMP/badjson/config.json is not a valid run config"]),
    ("vq without prior", "sample TMP/vq",
     ["TMP/vq has no trained prior yet: run `tfvae train vq_prior --from TMP/vq` first"]),
    ("conditional without label", "sample TMP/cvae", ["holds a conditional model: pass --label CLASS (0 to 9)"]),
    ("label out of range", "sample TMP/cvae --label 10", ["--label 10 is out of range", "10 classes"]),
    ("temperature of a vae", "sample TMP/vae --temperature 0.5", ["--temperature applies to autoregressive priors"]),
    ("sample out without extension", "sample TMP/vae --out TMP/grid", ["--out must end in .png", "TMP/grid"]),
    ("sample out a directory", "sample TMP/vae --out TMP/outdir", ["--out TMP/outdir is a directory"]),
    ("keras not .keras", "export TMP/vae --keras TMP/model.h5", ["--keras must name a .keras file"]),
    ("export name", "export TMP/vae --name ../up --out-root TMP/exports", ["model name '../up'"]),
    ("export out-root a file", "export TMP/vae --out-root TMP/afile", ["--out-root TMP/afile is a file"]),
    ("export version taken", "export TMP/vae --out-root TMP/exports --version 3",
     ["TMP/exports/vae/3 already exists; choose another --version"]),
    ("export out-root not writable", "export TMP/vae --out-root LOCKED", ["cannot write in LOCKED"]),
    ("export base not writable", "export TMP/vae --out-root LOCKED_PARENT --name LOCKED_NAME",
     ["cannot write in LOCKED"]),
    ("evaluate out in a missing dir", "evaluate TMP/vae --out TMP/nodir/m.json",
     ["--out TMP/nodir/m.json: its directory TMP/nodir does not exist"]),
    ("evaluate out a directory", "evaluate TMP/vae --out TMP/outdir", ["--out TMP/outdir is a directory"]),
    ("evaluate out not writable", "evaluate TMP/vae --out LOCKED/m.json", ["cannot write in LOCKED"]),
    ("evaluate negative k", "evaluate TMP/vae --iwae-k -1", ["--iwae-k must be >= 1"]),
    ("train out a file", "train vae --out TMP/afile", ["--out TMP/afile is a file, not a run directory"]),
    ("resume a file", "train vae --out TMP/afile --resume --epochs 2",
     ["--out TMP/afile is a file, not a run directory"]),
    ("train out below a file", "train vae --out TMP/afile/run", ["TMP/afile is a file, not a directory"]),
    ("prior from an untrained run", "train vq_prior --from TMP/untrained", ["TMP/untrained has no checkpoint yet"]),
    ("unknown model", "train vea --out TMP/new", ["neither a config file", "did you mean 'vae'"]),
    ("set unknown key", "train vae --set train.epoch=3 --out TMP/new", ["--set train.epoch: unknown key"]),
    ("epochs 0", "train vae --epochs 0 --out TMP/new", ["train.epochs: must be >= 1, got 0"]),
    ("npz missing", "train vae --dataset npz:TMP/missing.npz --out TMP/new", ["npz:TMP/missing.npz: no such file"]),
    ("npy missing", "train vae --dataset npy:TMP/missing.npy --out TMP/new", ["no such file"]),
    ("csv missing", "train vae --set data.dataset=\"csv:TMP/missing.csv\" --out TMP/new", ["no such file"]),
    ("images a file", "train vae --dataset images:TMP/afile --out TMP/new", ["is a file, not a directory"]),
    ("idx missing", "train vae --dataset idx:TMP/nosuch --out TMP/new", ["no such directory"]),
    ("tfrecord no match", "train vae --dataset tfrecord:TMP/none-*.tfrecord --out TMP/new", ["no file matches"]),
    ("csv without path", "train vae --dataset csv: --out TMP/new", ["no path after 'csv:'"]),
]
_NEEDS_LOCKED = {case for case, template, _ in PATH_MISTAKES if "LOCKED" in template}

# Runs each command line of stdin in turn; after each: exit status, standard error, whether TensorFlow is imported.
_CHILD = r"""
import contextlib, io, json, sys, traceback
import tfvae.commands._checks
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "numpy"))
from tfvae.cli import main
results = []
for argv in json.loads(sys.stdin.read()):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as stop:
            status = stop.code
        except BaseException:
            status, _ = None, traceback.print_exc()
    results.append({"status": status, "err": err.getvalue(), "tensorflow": "tensorflow" in sys.modules})
print(json.dumps({"heavy_after_importing_checks": heavy, "results": results}))
"""


def _run_child(argvs: list[list[str]]) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(argvs),
                           capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=True)
    return json.loads(child.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def answered(place) -> dict:
    """Each path mistake's exit status, standard error and whether TensorFlow was imported by then (one process)."""
    cases = [(case, _argv(template, place)) for case, template, _ in PATH_MISTAKES
             if place["LOCKED"] or case not in _NEEDS_LOCKED]
    report = _run_child([argv for _, argv in cases])
    return {"heavy": report["heavy_after_importing_checks"],
            **{case: result for (case, _), result in zip(cases, report["results"])}}


def _check_one_line(result: dict, words: list[str], place: dict[str, str]) -> None:
    err = result["err"]
    assert result["status"] == 2, err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("tfvae: error: "), err
    for expected in words:
        assert " ".join(_argv(expected, place)) in err, (expected, err)


def test_the_checks_module_imports_no_tensorflow_keras_or_numpy(answered):
    assert answered["heavy"] == []


@pytest.mark.parametrize("case, template, words", PATH_MISTAKES, ids=[c for c, _, _ in PATH_MISTAKES])
def test_a_path_mistake_is_one_line_before_tensorflow(case, template, words, answered, place):
    if case in _NEEDS_LOCKED and not place["LOCKED"]:
        pytest.skip("no directory here refuses new files to this user")
    _check_one_line(answered[case], words, place)
    assert not answered[case]["tensorflow"], f"{template}: answered after importing TensorFlow"


def test_nothing_is_created_by_a_refused_command(answered, place):
    tmp = Path(place["TMP"])
    assert not (tmp / "new").exists() and not (tmp / "nodir").exists() and not (tmp / "grid").exists()
    assert sorted(p.name for p in (tmp / "exports").rglob("*")) == ["3", "vae"]
    assert not any(tmp.rglob("*.partial")) and not (tmp / "vae" / "plots").exists()


def test_an_unknown_picture_is_one_line(place, capsys):
    """A mistake answered after TensorFlow's import (the picture names live with the pictures)."""
    assert main(["plot", f"{place['TMP']}/vae", "--only", "nosuch"]) == 2
    _check_one_line({"status": 2, "err": capsys.readouterr().err}, ["unknown picture(s) nosuch"], place)


def test_the_file_names_agree_with_the_modules_that_write_them(tmp_path):
    from tfvae.commands import _checks
    from tfvae.experiment import prior, run_dir
    from tfvae.export.layout import check_model_name

    assert (_checks.CONFIG_FILE, _checks.RECORD_FILE) == (run_dir.CONFIG_FILE, run_dir.RECORD_FILE)
    assert run_dir.RunDirectory(tmp_path).checkpoint_dir == tmp_path / _checks.CHECKPOINT_DIR
    assert prior.prior_directory(tmp_path) == tmp_path / _checks.PRIOR_DIR
    from tfvae.models import VQVAE, VQVAE2

    small = dict(num_embeddings=4, embedding_dim=2, filters=4, residual_filters=2, num_residual_blocks=1, seed=0)
    written = {frozenset(path.name for path in prior.prior_files(family.conv((16, 16, 1), **small), tmp_path).values())
               for family in (VQVAE, VQVAE2)}  # the files the levels of model.code_levels() name
    assert written == {frozenset(files) for files in _checks.PRIOR_FILES}
    for name in ("vae", "digits-2", "a.b_c", "../up", ".hidden", "", "a b", "vae\n", "v\x00ae"):
        try:
            check_model_name(name)
            accepted = True
        except ValueError:
            accepted = False
        assert (_checks._MODEL_NAME.fullmatch(name) is not None) == accepted, name


def test_the_status_line_goes_to_a_terminal_only(tmp_path):
    from tfvae.commands._checks import announce_loading

    probe = "import tfvae.commands._checks as c; print(c.STDERR_IS_TERMINAL)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    master, slave = os.openpty()
    try:  # standard error a terminal at start (as the command line sees it before its log filter), then a pipe
        seen = [subprocess.run([sys.executable, "-c", probe], stdout=subprocess.PIPE, stderr=stderr, text=True,
                               cwd=REPO, env=env, timeout=60, check=True).stdout.strip()
                for stderr in (slave, subprocess.PIPE)]
    finally:
        os.close(slave)
        os.close(master)
    assert seen == ["True", "False"]

    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert announce_loading("runs/vae", stream=terminal)
        assert not announce_loading("runs/vae", quiet=True, stream=terminal)
    assert os.read(master, 1000).decode().strip() == "Loading runs/vae (TensorFlow) ..."
    os.close(master)
    with (tmp_path / "log").open("w") as piped:
        assert not announce_loading("runs/vae", stream=piped)
    assert (tmp_path / "log").read_text() == ""


def test_the_iwae_forecast_times_a_probe_and_leaves_the_evaluation_alone():
    import numpy as np

    from tfvae.commands.evaluate import iwae_forecast
    from tfvae.metrics import iwae_log_likelihood
    from tfvae.models import VAE

    model = VAE.mlp(data_shape=(6,), latent_dim=2, hidden_units=(8,), likelihood="bernoulli", seed=0)
    x = (np.random.default_rng(0).uniform(size=(4, 6)) > 0.5).astype("float32")
    before = iwae_log_likelihood(model, x, 8, 4, seed=3).nll
    line = iwae_forecast(model, [x], k=40, chunk_size=10, examples=1000, seed=3)
    assert line.startswith("IWAE k=40 on 1,000 examples: about ") and line.endswith(" s")
    assert float(line.split("about ")[1].removesuffix(" s").replace(",", "")) > 0
    assert "per 1,000 examples" in iwae_forecast(model, [(x, None)], k=40, chunk_size=10, examples=None, seed=3)
    np.testing.assert_array_equal(iwae_log_likelihood(model, x, 8, 4, seed=3).nll, before)
