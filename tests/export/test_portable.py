"""Serving graphs hold only the computation: every deterministic signature of every conformance
family converts to ONNX (tf2onnx) and runs in onnxruntime with TensorFlow's numbers, and converts
to TFLite.

Seeded signatures (``score`` of the VAE family and TD-VAE, ``sample``, ``rollout``) are left out:
their stateless Philox draws (``StatelessRandomUniformFullIntV2``, ``Ndtri``, 64-bit bit operations)
have no counterpart in ONNX nor in TFLite's built-in ops; the README lists them. Families whose
deterministic graphs are another family's, op for op (``STAND_IN``), are converted through that one.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf
from conformance.families import FAMILIES

from tfvae.export import ServingModule, traced

tf2onnx = pytest.importorskip("tf2onnx", reason="tf2onnx is in the dev extra")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the dev extra")

#: families whose recurrent networks (a Keras RNN loop over a dynamic batch: TensorListReserve with a
#: dynamic element shape) need TFLite's select TensorFlow ops; every other family converts to built-ins.
TFLITE_SELECT_OPS = {
    "seq2seq_ae": "LSTM encoder: Keras' RNN loop over a dynamic batch (TensorList ops)",
    "tdvae": "LSTM belief network: Keras' RNN loop over a dynamic batch (TensorList ops)",
}


#: the conformance families that serve (a PixelCNN prior is exported with its VQ-VAE)
SERVING = {name: family for name, family in FAMILIES.items() if family.inputs is not None}

#: families whose deterministic signatures are, op for op, another family's graphs (the prior, the loss or a
#: training-time corruption is all that differs, and none of them is in serving_default / encode / decode or an
#: autoencoder's score): converted once, through the stand-in; test_stand_ins_serve_the_same_graphs proves it
#: (beta_vae, contractive_ae, sparse_ae and cvae_conditional_prior differ: another likelihood, code activation
#: or network, so they are converted themselves)
STAND_IN = {
    "iwae": "vae", "vae_mog_prior": "vae", "vae_vamp_prior": "vae", "denoising_ae": "autoencoder",
    "vq_vae_class_prior": "vq_vae", "vq_vae2_prior": "vq_vae2",
}


def deterministic_signatures():
    for family_name, family in sorted(SERVING.items()):
        if family_name in STAND_IN:
            continue
        model, prior = family.make()
        for name, signature in sorted(model.serving_signatures(prior=prior).items()):  # declared: nothing traced
            if not signature.seeded:
                yield pytest.param(family_name, name, id=f"{family_name}-{name}")


CASES = list(deterministic_signatures())


@pytest.fixture(scope="module")
def built():
    """One model (and prior), module and input set per family, built once."""
    cache = {}

    def get(family_name):
        if family_name not in cache:
            family = FAMILIES[family_name]
            model, prior = family.make()
            module = ServingModule(model, prior=prior)
            inputs = family.inputs(model, np.random.default_rng(0))
            cache[family_name] = (module, inputs)
        return cache[family_name]

    return get


def op_types(module: ServingModule, name: str) -> list[str]:
    """The sorted op types of signature ``name``'s graph and of every function it calls."""
    graph = module.concrete_functions[name].graph.as_graph_def()
    nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
    return sorted(node.op for node in nodes)


@pytest.mark.slow
@pytest.mark.parametrize("family_name", sorted(STAND_IN))
def test_stand_ins_serve_the_same_graphs(family_name):
    """A family left out of the conversions has each deterministic signature of its stand-in, op for op."""
    modules = {}
    for name in (family_name, STAND_IN[family_name]):
        model, prior = FAMILIES[name].make()
        modules[name] = ServingModule(model, prior=prior)
    ours, theirs = modules[family_name], modules[STAND_IN[family_name]]
    deterministic = sorted(n for n, s in ours.signature_specs.items() if not s.seeded)
    assert deterministic == sorted(n for n, s in theirs.signature_specs.items() if not s.seeded)
    for name in deterministic:
        assert op_types(ours, name) == op_types(theirs, name), (family_name, name)


def test_every_family_has_deterministic_signatures_to_convert():
    families = {case.values[0] for case in CASES}
    assert families == set(SERVING) - set(STAND_IN) and set(STAND_IN.values()) <= families
    assert {case.values[1] for case in CASES} >= {"serving_default", "encode", "decode", "score"}


@pytest.mark.slow
@pytest.mark.parametrize("family_name, signature_name", CASES)
def test_onnx_runtime_gives_tensorflows_numbers(built, family_name, signature_name):
    module, inputs = built(family_name)
    signature = module.signature_specs[signature_name]
    feeds = {name: np.asarray(value) for name, value in inputs[signature_name].items()}
    expected = {k: v.numpy() for k, v in module.concrete_functions[signature_name](**feeds).items()}

    specs = [tf.TensorSpec(spec.shape, spec.dtype, name=n) for n, spec in signature.specs.items()]
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(traced(signature_name, signature), input_signature=specs, opset=17)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    got = dict(zip(names, session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})))
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, atol=1e-4, rtol=1e-5, err_msg=f"{family_name} {key}")


@pytest.mark.slow
@pytest.mark.parametrize("family_name, signature_name", CASES)
def test_tflite_converts_and_gives_tensorflows_numbers(built, family_name, signature_name, tmp_path):
    module, inputs = built(family_name)
    feeds = {name: np.asarray(value) for name, value in inputs[signature_name].items()}
    expected = {k: v.numpy() for k, v in module.concrete_functions[signature_name](**feeds).items()}

    path = tmp_path / "saved"
    tf.saved_model.save(module, str(path), signatures={signature_name: module.concrete_functions[signature_name]})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(path), signature_keys=[signature_name])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if family_name in TFLITE_SELECT_OPS and signature_name != "decode":
        converter.target_spec.supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    if family_name in TFLITE_SELECT_OPS and signature_name != "decode":
        return  # the flex delegate is not in the tflite interpreter wheel: converting is what is checked
    got = interpreter.get_signature_runner(signature_name)(**feeds)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, atol=2e-4, rtol=1e-5, err_msg=f"{family_name} {key}")
