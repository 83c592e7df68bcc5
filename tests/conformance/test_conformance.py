"""Generic checks run over every family of the conformance registry (families.py).

The SavedModel checks export the selected families (the representatives of their kind in the fast
pass, the others with ``-m slow``: ``families.tiered``), then load all exports in separate Python
processes (one, or two sharing the work when there are more than 8 exports) that import neither tfvae
nor TFP (clean_load.py), and compare what they compute with the in-memory model.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conformance.cli_output import parse_show_all
from conformance.families import FAMILIES, tiered
from conformance.refusals import REFUSALS, bad_requests, expected_message

from tfvae.export import ServingModule, export_saved_model, load_keras, save_keras, serving_signatures
from tfvae.models import gradient_step

CLEAN_LOAD = Path(__file__).with_name("clean_load.py")
NAMES = sorted(name for name, family in FAMILIES.items() if family.serves)  # test_models.py: all
#: a kind's representative in the fast pass, every other family with -m slow (families.tiered)
TIERED = tiered(NAMES)
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def as_tensors(feed):
    return {key: tf.constant(value) for key, value in feed.items()}


def reference_outputs(family, model, prior, inputs):
    return {name: family.reference_outputs(model, prior, name, feed) for name, feed in inputs.items()}


def selected_families(request) -> list[str]:
    """The families whose tests in this module were selected for this session (the fast tier or -m slow)."""
    names = {item.callspec.params["name"] for item in request.session.items
             if item.module is request.module and "served" in item.fixturenames and hasattr(item, "callspec")}
    return sorted(names) or [NAMES[0]]  # the import check alone still loads one export


@pytest.fixture(scope="module")
def served(tmp_path_factory, request):
    """The selected families exported, then loaded in clean processes: name -> results."""
    root = tmp_path_factory.mktemp("served")
    jobs, results = [], {}
    for name in selected_families(request):
        family = FAMILIES[name]
        model, prior = family.make()
        inputs = family.inputs(model, np.random.default_rng(0))
        export_dir = export_saved_model(model, root / "saved_models" / name, prior=prior)
        flat = {f"{sig}/{key}": value for sig, feed in inputs.items() for key, value in feed.items()}
        np.savez(root / f"{name}-inputs.npz", **flat)
        refused = bad_requests(serving_signatures(model, prior=prior))  # what the model declares: nothing traced
        np.savez(root / f"{name}-refused.npz",
                 **{f"{case['case']}//{key}": value for case in refused for key, value in case["feeds"].items()})
        jobs.append({"export_dir": str(export_dir), "inputs": str(root / f"{name}-inputs.npz"),
                     "outputs": str(root / f"{name}-outputs.npz"), "refused": str(root / f"{name}-refused.npz"),
                     "cases": {case["case"]: case["signature"] for case in refused}})
        results[name] = {"model": model, "export_dir": export_dir, "inputs": inputs, "refused": refused,
                         "expected": reference_outputs(family, model, prior, inputs)}
    processes = []
    parts = min(2, len(jobs) // 8 + 1)  # one clean process for the fast tier (xdist runs other modules beside it)
    for part in range(parts):
        jobs_file = root / f"jobs-{part}.json"
        jobs_file.write_text(json.dumps({"exports": jobs[part::parts], "report": str(root / f"report-{part}.json")}))
        with open(root / f"stderr-{part}.txt", "w") as stderr:  # a file: a full pipe would block the child
            processes.append(subprocess.Popen([sys.executable, str(CLEAN_LOAD), str(jobs_file)], cwd=root,
                                              stdout=subprocess.DEVNULL, stderr=stderr))
    report = {"exports": {}, "forbidden_modules": []}
    for part, process in enumerate(processes):
        process.wait(timeout=300)
        assert process.returncode == 0, (root / f"stderr-{part}.txt").read_text()[-4000:]
        half = json.loads((root / f"report-{part}.json").read_text())
        report["exports"].update(half["exports"])
        report["forbidden_modules"] += half["forbidden_modules"]
    for name in results:
        results[name]["outputs"] = dict(np.load(root / f"{name}-outputs.npz"))
        results[name]["report"] = report["exports"][str(results[name]["export_dir"])]
    return {"families": results, "forbidden_modules": report["forbidden_modules"]}


def test_the_clean_process_imported_neither_tfvae_nor_tfp(served):
    assert served["forbidden_modules"] == []


@pytest.mark.parametrize("name", TIERED)
def test_loaded_signatures_give_the_in_memory_numbers(name, served):
    result = served["families"][name]
    outputs, expected = result["outputs"], result["expected"]
    assert set(expected) == set(FAMILIES[name].expected(result["model"])), "every signature is checked"
    for signature, values in expected.items():
        produced = {k.split("/", 1)[1] for k in outputs if k.startswith(signature + "/") and "@" not in k}
        assert produced == set(values), signature
        for key, value in values.items():
            np.testing.assert_allclose(outputs[f"{signature}/{key}"], value, **TOLERANCE,
                                       err_msg=f"{name}: {signature}/{key}")
    for key in [k for k in outputs if k.endswith("@again")]:  # seeded signatures repeat exactly
        np.testing.assert_array_equal(outputs[key], outputs[key.removesuffix("@again")], err_msg=key)


@pytest.mark.parametrize("name", TIERED)
def test_saved_model_cli_lists_the_documented_signatures(name, served):
    result = served["families"][name]
    expected = FAMILIES[name].expected(result["model"])
    assert parse_show_all(result["report"]["saved_model_cli"]) == expected
    loaded = result["report"]["signatures"]  # what tf.saved_model.load sees agrees
    assert sorted(loaded) == sorted(expected)


@pytest.mark.parametrize("name", TIERED)
def test_warmup_requests_cover_and_run_every_signature(name, served):
    result = served["families"][name]
    report = result["report"]
    expected = FAMILIES[name].expected(result["model"])
    assert report["warmup_records"] == len(expected)
    assert sorted(report["warmup"]) == sorted(expected)
    for signature, replay in report["warmup"].items():
        inputs, outputs = expected[signature]
        assert replay["inputs"] == sorted(inputs) and replay["model_name"] == name
        assert replay["finite"], signature
        shapes = {k: tuple(v[1:]) for k, v in replay["output_shapes"].items()}
        assert sorted(shapes) == sorted(outputs), signature
        for key, spec in outputs.items():  # -1: a free inner size (the time axis of sequences)
            wanted = spec[1][1:]
            assert len(shapes[key]) == len(wanted), (signature, key)
            assert all(w in (-1, s) for w, s in zip(wanted, shapes[key])), (signature, key, shapes[key], wanted)


@pytest.mark.parametrize("name", TIERED)
def test_wrong_inner_shapes_fail_clearly_in_a_serving_session(name, served):
    result = served["families"][name]
    wrong = result["report"]["wrong_shape"]
    expected = FAMILIES[name].expected(result["model"])
    assert sorted(wrong) == sorted(f"{sig}/{key}" for sig, (inputs, _) in expected.items() for key in inputs)
    for key, message in wrong.items():
        signature, input_name = key.split("/")
        shape = expected[signature][0][input_name][1]
        # a free inner dimension is the time axis of a sequence model
        wanted = f"{input_name} must have shape (batch{''.join(f', {d}' if d != -1 else ', time' for d in shape[1:])}"
        assert message is not None and wanted in message, (key, message)


@pytest.mark.parametrize("name", TIERED)
def test_bad_requests_are_refused_by_name_in_a_serving_session(name, served):
    """A wrong rank, NaN, values outside the likelihood's support or the magnitude limits, codes and labels
    out of range: each refused with its message by a SavedModel loaded without tfvae."""
    result = served["families"][name]
    refusals = result["report"]["refused"]
    faults = {case["fault"] for case in result["refused"]}
    assert {"rank", "nan", "bounds"} <= faults or {"rank", "codes"} <= faults, faults
    for case in result["refused"]:
        message = refusals[case["case"]]
        assert message is not None and expected_message(case) in message, (case["case"], message)


def test_the_serving_docs_list_every_refusal():
    """docs/export.md's "Refused requests" table holds each message the conformance suite checks."""
    docs = (Path(__file__).parents[2] / "docs" / "export.md").read_text()
    table = docs.split("## Refused requests", 1)[1].split("\n## ", 1)[0]
    for fault, words in REFUSALS.items():
        pattern = re.escape(words).replace(re.escape("{name}"), r"\w+").replace(re.escape("{depth}"), r"\d+")
        pattern = pattern.replace(re.escape("{rows}"), r"\d+")
        assert re.search(pattern, table), (fault, words)


@pytest.mark.parametrize("name", TIERED)
def test_in_memory_signatures_check_shapes_and_are_row_independent(name):
    family = FAMILIES[name]
    model, prior = family.make()
    module = ServingModule(model, prior=prior)
    inputs = family.inputs(model, np.random.default_rng(1))
    data = inputs["serving_default"]["x"]
    wrong = tf.constant(data[..., :-1]) if data.ndim == 2 else tf.reshape(data, [len(data), -1])  # wrong inner shape
    checked = "encode" if "encode" in inputs else "serving_default"  # sequence models have no encode
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must have shape \(batch, "):
        module.concrete_functions[checked](**{**as_tensors(inputs[checked]), "x": wrong})
    with pytest.raises(tf.errors.InvalidArgumentError, match="x contains NaN"):
        module.concrete_functions["serving_default"](
            **{**as_tensors(inputs["serving_default"]), "x": tf.fill(data.shape, np.nan)}
        )
    for signature, feed in inputs.items():
        function = module.concrete_functions[signature]
        full = function(**feed)
        last = function(**{k: v[-1:] for k, v in feed.items()})  # the last row alone
        for key in full:
            np.testing.assert_allclose(last[key].numpy()[0], full[key].numpy()[-1], **TOLERANCE,
                                       err_msg=f"{signature}/{key}")


@pytest.mark.parametrize("name", TIERED)
def test_keras_file_round_trip_resumes_and_computes_the_same(name, tmp_path):
    family = FAMILIES[name]
    model, prior = family.make()  # the prior is its own artefact: the same one serves both models
    inputs = family.inputs(model, np.random.default_rng(2))
    x = inputs["serving_default"]["x"]
    if "condition" in inputs["serving_default"]:  # conditional families train on (x, y) pairs
        x = (x, inputs["serving_default"]["condition"])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    gradient_step(model, model.optimizer, x)  # weights, optimizer and seed state off their start (eager)

    path = save_keras(model, tmp_path / "model.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]  # no staging file left
    loaded = load_keras(path)
    assert type(loaded) is type(model)
    assert json.dumps(loaded.get_config(), sort_keys=True) == json.dumps(model.get_config(), sort_keys=True)
    for a, b in zip(model.variables, loaded.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 1
    # the seed stream goes on where it was: the next Monte-Carlo terms agree
    np.testing.assert_allclose(loaded.loss_terms(x)["loss"], model.loss_terms(x)["loss"], rtol=1e-6)
    for signature, feed in inputs.items():  # every signature's numbers, through the public API
        a = family.reference_outputs(model, prior, signature, feed)
        b = family.reference_outputs(loaded, prior, signature, feed)
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-6, err_msg=f"{signature}/{key}")
