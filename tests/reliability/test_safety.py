"""Safety: configs are data, ``.keras`` files load in Keras' safe mode, SavedModels hold no Python.

* A config value is never evaluated: a Python expression in a TOML file, a
  ``--set`` override or a run's ``config.json`` is a string, refused where a
  number is expected; a string given for a number in ``model.options`` is
  refused instead of being converted.
* No module of the package calls ``eval``/``exec``, imports ``pickle`` (or
  ``marshal``, ``dill``, ...), loads with ``allow_pickle`` or turns Keras'
  safe mode off (checked on the syntax tree of every source file).
* ``tfvae.export.load_keras`` refuses a ``.keras`` file holding a ``Lambda``
  layer (Python bytecode) instead of running it.
* An exported SavedModel has no Keras metadata, no Keras layer objects and no
  ``py_func`` ops: only registered TensorFlow ops (the conformance suite also
  loads every family in a process without tfvae or TFP).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

import tfvae
from tfvae.config import ConfigError, ExperimentConfig, load_config
from tfvae.experiment import build_model
from tfvae.export import ExportError, export_saved_model, load_keras

PACKAGE = Path(tfvae.__file__).parent
#: an expression that would leave a file behind if anything evaluated it
EXPRESSION = "__import__('pathlib').Path('EVALUATED').touch() or 16"


def test_an_expression_in_a_config_is_a_string_refused_by_type(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toml = tmp_path / "bad.toml"
    toml.write_text(f'[model]\nlatent_dim = "{EXPRESSION}"\n')
    with pytest.raises(ConfigError, match=r"model.latent_dim: expected int, got \"__import__"):
        load_config(toml)
    good = tmp_path / "good.toml"
    good.write_text("[model]\nlatent_dim = 4\n")
    with pytest.raises(ConfigError, match=r"train.epochs: expected int, got .*__import__"):
        load_config(good, [f"train.epochs={EXPRESSION}"])  # a bare word of --set is a string
    saved = json.loads(ExperimentConfig().to_json())  # what a run's config.json holds
    saved["train"]["learning_rate"] = "1e-3 * __import__('os').getpid()"
    with pytest.raises(ConfigError, match="train.learning_rate: expected float"):
        ExperimentConfig.from_dict(saved)
    assert not (tmp_path / "EVALUATED").exists()


@pytest.mark.parametrize("option, value", [("kl_warmup_steps", "10"), ("free_bits", "0.5"), ("beta", EXPRESSION)])
def test_strings_in_model_options_are_not_converted_to_numbers(option, value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = ExperimentConfig.from_dict({"model": {"hidden_units": [4], "latent_dim": 2, "options": {option: value}}})
    # "10" used to become 10 through int(); an expression is refused the same way
    with pytest.raises(ConfigError, match=rf"model: {option} must be (an integer|a number), got [\"'].*\(str\)"):
        build_model(config.model, (6, 1), seed=0)
    assert not (tmp_path / "EVALUATED").exists()


FORBIDDEN_CALLS = {"eval", "exec", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
FORBIDDEN_KEYWORDS = {("allow_pickle", True), ("safe_mode", False)}
FORBIDDEN_ATTRIBUTES = {"enable_unsafe_deserialization", "load_pickle"}


def unsafe_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                found.append(f"{node.func.id}() at line {node.lineno}")
            if isinstance(node.func, ast.Attribute) and node.func.attr == "load" and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "yaml":
                found.append(f"yaml.load at line {node.lineno}")
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Constant) and (keyword.arg, keyword.value.value) in FORBIDDEN_KEYWORDS:
                    found.append(f"{keyword.arg}={keyword.value.value} at line {node.lineno}")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name} at line {node.lineno}" for a in node.names
                      if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"from {node.module} import at line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"{node.attr} at line {node.lineno}")
    return found


def test_the_package_never_evaluates_code_or_unpickles():
    # the scanner itself finds what it looks for
    assert len(unsafe_uses("import pickle\neval('1')\nnp.load(f, allow_pickle=True)\n"
                           "keras.config.enable_unsafe_deserialization()\nload_model(p, safe_mode=False)")) == 5
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    report = {str(f.relative_to(PACKAGE)): uses for f in files if (uses := unsafe_uses(f.read_text()))}
    assert report == {}


def test_load_keras_refuses_a_lambda_layer(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2.0, name="python_code")])
    path = tmp_path / "lambda.keras"
    model.save(path)  # Keras writes the lambda's bytecode into the archive
    with pytest.raises(ValueError, match="(?i)lambda.*safe_mode|safe_mode.*lambda"):
        load_keras(path)
    not_an_archive = tmp_path / "fake.keras"
    not_an_archive.write_bytes(b"\x80\x04K\x01.")  # a pickle, not a zip
    with pytest.raises(ExportError, match="is not a .keras archive"):
        load_keras(not_an_archive)


def test_an_exported_saved_model_holds_only_tensorflow_ops(tmp_path):
    model = tfvae.VAE.mlp((6, 1), latent_dim=2, hidden_units=(4,), seed=0)
    path = export_saved_model(model, tmp_path / "vae", warmup=False)
    assert not (path / "keras_metadata.pb").exists()
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    (graph,) = saved.meta_graphs
    ops = {node.op for node in graph.graph_def.node}
    for function in graph.graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
    assert [op for op in sorted(ops) if op_def_registry.get(op) is None] == []  # no custom (Python-side) ops
    objects = [node.user_object.identifier for node in graph.object_graph_def.nodes if node.HasField("user_object")]
    assert objects and not [name for name in objects if "keras" in name.lower()]
    loaded = tf.saved_model.load(str(path))  # and it serves
    out = loaded.signatures["serving_default"](x=tf.fill((1, 6, 1), 0.5))["reconstruction"]
    assert np.all(np.isfinite(out))
