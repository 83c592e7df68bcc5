"""tf.distribute: mirrored replicas and several workers give the one-device update.

Logical CPU devices and MultiWorkerMirroredStrategy must be set up before
TensorFlow initialises, so those runs happen in fresh Python processes
(``sys.executable``) that save what they computed to ``.npz`` / JSON files;
the comparisons are made here.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import Autoencoder
from tfvae.cli import main
from tfvae.config import ConfigError, ExperimentConfig, default_config
from tfvae.loops import train_loop

ROOT = Path(__file__).resolve().parents[1]

# Shared by the scripts and the in-process references: 65 examples in batches
# of 16, so the last batch (1 example) leaves the second of two replicas with
# none. (The runs below split 999 as 500 + 499.) Only an average over the
# GLOBAL batch gives the one-device step.
COMMON = textwrap.dedent(
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from tfvae import Autoencoder


    def toy_data():
        x = np.random.default_rng(0).uniform(0, 1, (65, 28, 28, 1)).astype("float32")
        return tf.data.Dataset.from_tensor_slices(x).batch(16)


    def toy_model():
        keras.utils.set_random_seed(0)
        model = Autoencoder.mlp((28, 28, 1), latent_dim=4, hidden_units=(16,), seed=3)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model
    """
)

namespace: dict = {}
exec(COMMON, namespace)  # noqa: S102 - the same helpers as the scripts
toy_data, toy_model = namespace["toy_data"], namespace["toy_model"]


def tiny_run_config(strategy: str, driver: str, batch_size: int = 999) -> ExperimentConfig:
    """An autoencoder on the shuffled embedded digits (999 per batch splits 500 + 499 over two replicas)."""
    return ExperimentConfig.from_dict({
        "name": "tiny",
        "model": {"name": "autoencoder", "latent_dim": 4, "hidden_units": [16]},
        "data": {"batch_size": batch_size},
        "train": {"epochs": 1, "driver": driver, "strategy": strategy},
    })


LOGICAL_CPUS = textwrap.dedent(
    """
    import tensorflow as tf

    # two logical CPU devices, before TensorFlow initialises its devices
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    """
)

MIRRORED_SCRIPT = LOGICAL_CPUS + COMMON + textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    from tfvae import VAE
    from tfvae.distribute import make_strategy
    from tfvae.loops import train_loop
    from tfvae.experiment import train

    out = Path(sys.argv[1])
    results = {}
    strategy = make_strategy("mirrored")
    results["replicas"] = strategy.num_replicas_in_sync
    for driver in ("loop", "fit"):
        with strategy.scope():
            model = toy_model()
        if driver == "loop":
            history = train_loop(model, toy_data(), epochs=2, verbose=0)
        else:
            history = model.fit(toy_data(), epochs=2, verbose=0).history
        np.savez(out / f"toy_{driver}.npz", *model.get_weights())
        results[f"toy_{driver}_loss"] = [float(v) for v in history["loss"]]

    # a VAE trains under the strategy, each replica with its own noise
    with strategy.scope():
        keras.utils.set_random_seed(0)
        vae = VAE.mlp((28, 28, 1), latent_dim=4, hidden_units=(16,), seed=3)
        vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(1).uniform(0, 1, (64, 28, 28, 1)).astype("float32")
    history = train_loop(vae, tf.data.Dataset.from_tensor_slices(x).batch(32), epochs=8, verbose=0)
    results["vae_loss"] = [float(v) for v in history["loss"]]
    results["vae_state"] = [int(v) for v in vae.seed_generator.state.numpy()]
    seeds = tf.function(lambda: strategy.run(vae.seed_generator.next))()
    results["replica_seeds"] = [[int(v) for v in s.numpy()] for s in strategy.experimental_local_results(seeds)]

    # a whole run (Keras fit) writes the usual run directory
    from tfvae.config import ExperimentConfig
    config = ExperimentConfig.from_dict(json.loads(sys.argv[2]))
    result = train(config, out=out / "run", verbose=0)
    np.savez(out / "run.npz", *result.model.get_weights())
    results["run_history"] = result.history
    results["run_test"] = result.test
    (out / "results.json").write_text(json.dumps(results))
    """
)

WORKER_SCRIPT = COMMON + textwrap.dedent(
    """
    import json
    import os
    import sys
    from pathlib import Path

    index, ports, out = int(sys.argv[1]), sys.argv[2].split(","), Path(sys.argv[3])
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": index},
    })
    from tfvae.distribute import is_chief, make_strategy

    strategy = make_strategy("multi_worker")  # before TensorFlow runs any op
    from tfvae.config import ExperimentConfig
    from tfvae.loops import train_loop
    from tfvae.experiment import train

    results = {"replicas": strategy.num_replicas_in_sync, "chief": is_chief(strategy)}
    with strategy.scope():
        model = toy_model()
    history = train_loop(model, toy_data(), epochs=2, verbose=0)
    np.savez(out / f"toy_{index}.npz", *model.get_weights())
    results["toy_loss"] = history["loss"]
    try:
        model.fit(toy_data(), epochs=1, verbose=0)
        results["fit_error"] = None
    except Exception as error:  # noqa: BLE001 - recorded for the test
        results["fit_error"] = f"{type(error).__name__}: {error}"

    config = ExperimentConfig.from_dict(json.loads(sys.argv[4]))
    result = train(config, out=out / "run", verbose=0)
    np.savez(out / f"run_{index}.npz", *result.model.get_weights())
    results["run_history"] = result.history
    results["run_test"] = result.test
    (out / f"results_{index}.json").write_text(json.dumps(results))
    """
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def _start(script: Path, args: list[str], log: Path) -> subprocess.Popen:
    # Output goes to a file: a full pipe would block a worker mid-collective.
    with log.open("w") as handle:
        return subprocess.Popen([sys.executable, str(script), *args], cwd=ROOT, env=_env(),
                                stdout=handle, stderr=subprocess.STDOUT)


def _wait(processes: list[subprocess.Popen], logs: list[Path], timeout: float) -> None:
    try:
        for process in processes:
            process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()
        pytest.fail("timed out:\n" + "\n".join(log.read_text()[-3000:] for log in logs))
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log.read_text()[-5000:]


def _free_ports(n: int) -> list[int]:
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def _assert_same_weights(actual, expected, what: str, atol: float = 1e-5) -> None:
    assert len(actual) == len(expected), what
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=atol, err_msg=what)


def _reference_toy():
    model = toy_model()
    history = train_loop(model, toy_data(), epochs=2, verbose=0)
    return history["loss"], [np.asarray(w) for w in model.get_weights()]


def _reference_run(tmp_path: Path, driver: str):
    from tfvae.experiment import train

    result = train(tiny_run_config("none", driver), out=tmp_path / f"reference_{driver}", verbose=0)
    return result, [np.asarray(w) for w in result.model.get_weights()]


@pytest.mark.slow  # a training run to convergence or a second driver/precision of a fast check: CI's slow pass
def test_mirrored_on_two_cpus_matches_one_device(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    log = tmp_path / "mirrored.log"
    config = json.dumps(tiny_run_config("mirrored", "fit").to_dict())
    process = _start(script, [str(tmp_path), config], log)
    reference_loss, reference = _reference_toy()  # meanwhile, on one device
    initial = toy_model().get_weights()
    reference_run, reference_run_weights = _reference_run(tmp_path, "fit")
    _wait([process], [log], timeout=240)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["replicas"] == 2

    # the steps really moved the weights, and both drivers land on the one-device weights
    assert max(np.abs(np.asarray(a) - b).max() for a, b in zip(initial, reference)) > 1e-2
    for driver in ("loop", "fit"):
        # Adam(1e-2) normalises each gradient: where one is near 0 (a pixel almost never on), the
        # replicas' other summation order moves its weight by up to ~1e-4 (measured 7e-5)
        _assert_same_weights(_weights(tmp_path / f"toy_{driver}.npz"), reference, driver, atol=1e-4)
        np.testing.assert_allclose(results[f"toy_{driver}_loss"], reference_loss, rtol=1e-5)

    # the VAE trains (8 epochs: over 3 the noisy loss did not always fall); the two replicas
    # draw from different seeds, neither the unfolded one
    assert np.all(np.isfinite(results["vae_loss"])) and results["vae_loss"][-1] < results["vae_loss"][0]
    assert results["vae_state"] == [3, 8 * 2]  # one draw per step: 8 epochs of 2 steps
    first, second = results["replica_seeds"]
    assert first != second and [3, 16] not in (first, second)

    # a whole run under the strategy: the one-device weights, history and test terms
    _assert_same_weights(_weights(tmp_path / "run.npz"), reference_run_weights, "run")
    assert [row["epoch"] for row in results["run_history"]] == [1.0]
    for key, value in reference_run.history[0].items():
        np.testing.assert_allclose(results["run_history"][0][key], value, rtol=1e-4, err_msg=key)
    for key, value in reference_run.test.items():
        np.testing.assert_allclose(results["run_test"][key], value, rtol=1e-4, err_msg=key)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint").is_file()


@pytest.mark.slow  # keeps the fast suite short; CI's slow pass runs it
def test_two_workers_match_one_process_and_only_the_chief_writes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    ports = ",".join(str(p) for p in _free_ports(2))
    config = json.dumps(tiny_run_config("multi_worker", "loop").to_dict())
    logs = [tmp_path / f"worker_{i}.log" for i in range(2)]
    workers = [_start(script, [str(i), ports, str(tmp_path), config], logs[i]) for i in range(2)]
    reference_loss, reference = _reference_toy()  # meanwhile, in this process
    reference_run, reference_run_weights = _reference_run(tmp_path, "loop")
    _wait(workers, logs, timeout=300)
    results = [json.loads((tmp_path / f"results_{i}.json").read_text()) for i in range(2)]
    assert [r["replicas"] for r in results] == [2, 2]
    assert [r["chief"] for r in results] == [True, False]

    for i in range(2):
        _assert_same_weights(_weights(tmp_path / f"toy_{i}.npz"), reference, f"worker {i}", atol=1e-4)  # see above
        np.testing.assert_allclose(results[i]["toy_loss"], reference_loss, rtol=1e-5)
        # identical on both workers, not only close
        for a, b in zip(_weights(tmp_path / f"toy_{i}.npz"), _weights(tmp_path / "toy_0.npz")):
            np.testing.assert_array_equal(a, b)
        # Keras fit says what to use instead
        assert "UnsupportedStrategyError" in results[i]["fit_error"] and "--driver loop" in results[i]["fit_error"]

        # the run through tfvae.experiment.train: same weights, per-example epoch terms and test terms
        _assert_same_weights(_weights(tmp_path / f"run_{i}.npz"), reference_run_weights, f"run on worker {i}")
        assert [row["epoch"] for row in results[i]["run_history"]] == [1.0]
        for key, value in reference_run.history[0].items():
            np.testing.assert_allclose(results[i]["run_history"][0][key], value, rtol=1e-4, err_msg=key)
        for key, value in reference_run.test.items():
            np.testing.assert_allclose(results[i]["run_test"][key], value, rtol=1e-4, err_msg=key)

    # one run directory, written once (by the chief): one history row, its checkpoint, nothing else
    run = tmp_path / "run"
    assert len((run / "history.csv").read_text().strip().splitlines()) == 2
    assert json.loads((run / "config.json").read_text())["train"]["strategy"] == "multi_worker"
    assert sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("ckpt-1.index")) == [
        "ckpt-1.index"
    ]
    assert {p.name for p in run.iterdir()} == {"config.json", "run.json", "history.csv", "logs", "checkpoints",
                                               "summary.json", "reconstructions.png"}
    assert not any("worker" in p.name for p in run.rglob("*"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.strategy=mirrorred"], "train.strategy: must be one of ['none', 'mirrored', 'multi_worker']"),
        (["train.strategy=multi_worker"], "train.driver = 'loop' (--driver loop)"),
        (["train.strategy=mirrored", "train.jit_compile=true"], "train.jit_compile: not supported"),
        (["train.strategy=mirrored", "train.steps_per_execution=8"], "train.steps_per_execution: 8 is not supported"),
    ],
)
def test_train_strategy_is_validated(overrides, message):
    with pytest.raises(ConfigError) as error:
        default_config("vae", overrides)
    assert message in str(error.value)


def test_strategy_defaults_to_none_and_accepts_the_supported_pairs():
    assert default_config("vae").train.strategy == "none"
    assert default_config("vae", ["train.strategy=mirrored"]).train.strategy == "mirrored"
    config = default_config("vae", ["train.strategy=multi_worker", "train.driver=loop"])
    assert config.train.strategy == "multi_worker"
    looped = default_config("vae", ["train.strategy=mirrored", "train.driver=loop", "train.steps_per_execution=8"])
    assert looped.train.steps_per_execution == 8  # the custom loop runs several steps per call under a strategy


def test_fit_under_a_strategy_refuses_several_steps_per_call():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = Autoencoder.mlp((4,), latent_dim=2, hidden_units=(4,), seed=0)
        with pytest.raises(ValueError, match="steps_per_execution=8 is not supported for Keras fit under a tf.distribute"):
            model.compile(optimizer="adam", steps_per_execution=8)
        model.compile(optimizer="adam")  # "auto" resolves to 1 there
    assert model.steps_per_execution == 1


def test_cli_fit_under_multi_worker_names_the_fix(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae", "--strategy", "multi_worker", "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--driver loop" in err and "keras-team/keras#20585" in err
    assert not run.exists()


def test_without_a_strategy_the_loss_and_seeds_are_unchanged():
    """Outside tf.distribute global-batch averaging and seed folding are the identity."""
    from tfvae.distribute import global_batch_mean, replica_seed

    mean = tf.constant(2.5)
    assert float(global_batch_mean(mean, 7)) == 2.5
    seed = tf.constant([3, 4], tf.int64)
    np.testing.assert_array_equal(replica_seed(seed), seed)
    model = Autoencoder.mlp((4,), latent_dim=2, hidden_units=(3,), likelihood="gaussian", seed=5)
    assert model.seed_generator.next().numpy().tolist() == [5, 0]
    assert keras.random.SeedGenerator(5).next().numpy().tolist() == [5, 0]


VQ_SCRIPT = LOGICAL_CPUS + COMMON + textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tfvae import VQVAE
    from tfvae.distribute import make_strategy
    from tfvae.loops import train_loop


    def toy_vq():
        keras.utils.set_random_seed(0)
        model = VQVAE.conv(num_embeddings=8, embedding_dim=4, filters=8, residual_filters=4,
                           num_residual_blocks=1, dead_code_threshold=None, seed=3)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model


    def even_data():
        # 64 = 4 x 16: no replica gets an empty share (a conv on an empty
        # per-replica batch fails inside oneDNN: "input depth must be evenly
        # divisible by filter depth")
        return toy_data().unbatch().take(64).batch(16)


    out = Path(sys.argv[1])
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    for driver in ("loop", "fit"):
        with strategy.scope():
            model = toy_vq()
        if driver == "loop":
            train_loop(model, even_data(), epochs=2, verbose=0)
        else:
            model.fit(even_data(), epochs=2, verbose=0)
        np.savez(out / f"vq_{driver}.npz", *model.get_weights())
    """
)


@pytest.mark.slow  # keeps the fast suite short; CI's slow pass runs it
def test_vq_ema_codebook_under_mirrored_matches_one_device(tmp_path):
    """The EMA codebook statistics are summed over the replicas: two replicas give the one-device codebook."""
    from tfvae import VQVAE

    script = tmp_path / "vq.py"
    script.write_text(VQ_SCRIPT)
    log = tmp_path / "vq.log"
    process = _start(script, [str(tmp_path)], log)
    keras.utils.set_random_seed(0)
    model = VQVAE.conv(num_embeddings=8, embedding_dim=4, filters=8, residual_filters=4,
                       num_residual_blocks=1, dead_code_threshold=None, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    initial = [np.asarray(w) for w in model.get_weights()]
    train_loop(model, toy_data().unbatch().take(64).batch(16), epochs=2, verbose=0)
    reference = [np.asarray(w) for w in model.get_weights()]
    _wait([process], [log], timeout=240)
    codebook = model.quantizer.embeddings
    index = [i for i, w in enumerate(model.weights) if w is codebook][0]
    assert np.abs(reference[index] - initial[index]).max() > 1e-3  # the EMA moved the codebook
    for driver in ("loop", "fit"):
        _assert_same_weights(_weights(tmp_path / f"vq_{driver}.npz"), reference, f"VQ-VAE {driver}", atol=1e-4)


BATCH_PENALTY_SCRIPT = LOGICAL_CPUS + textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    import keras
    import numpy as np

    from tfvae import VAE, BetaVAE, SparseAE
    from tfvae.applications.recommender import RatingsAE
    from tfvae.distribute import distribute_dataset, global_batch_mean, make_strategy
    from tfvae.loops import train_loop

    out = Path(sys.argv[1])
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    rng = np.random.default_rng(0)

    # Batches of 32 split 16 + 16: each batch's first half (replica 0) differs from its second
    # (replica 1), so a statistic of a replica's half is not the statistic of the batch.
    halves = [rng.uniform(0.0, 0.3, (16, 12)), rng.uniform(0.6, 1.0, (16, 12))] * 2
    x = np.concatenate(halves).astype("float32")
    # ratings: replica 0's users rated 2 of 12 items, replica 1's users 10 (a mean weighted by
    # users, not by ratings, is then another loss)
    observed = np.concatenate([(rng.uniform(size=(16, 12)) < p) for p in (0.17, 0.83) * 2])
    ratings = np.where(observed, rng.integers(1, 6, x.shape), 0).astype("float32")


    def batches(data):
        return tf.data.Dataset.from_tensor_slices(data).batch(32)


    def deterministic_model(name):
        keras.utils.set_random_seed(0)
        if name == "sparse_ae":
            model = SparseAE.mlp((12,), latent_dim=6, hidden_units=(8,), likelihood="gaussian",
                                 sparsity="kl", sparsity_target=0.05, sparsity_weight=5.0, seed=3)
        else:
            model = RatingsAE.mlp((12,), latent_dim=4, hidden_units=(8,), activation="selu",
                                  likelihood="gaussian", seed=3)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model


    results = {}
    # Deterministic models: whole training runs, one device against two replicas (loop and fit)
    for name, data in (("sparse_ae", x), ("ratings_ae", ratings)):
        model = deterministic_model(name)
        results[f"{name}_one_loss"] = train_loop(model, batches(data), epochs=3, verbose=0)["loss"]
        np.savez(out / f"{name}_one.npz", *model.get_weights())
        for driver in ("loop", "fit"):
            with strategy.scope():
                model = deterministic_model(name)
            if driver == "loop":
                history = train_loop(model, batches(data), epochs=3, verbose=0)
            else:
                history = model.fit(batches(data), epochs=3, verbose=0).history
            results[f"{name}_{driver}_loss"] = [float(v) for v in history["loss"]]
            np.savez(out / f"{name}_{driver}.npz", *model.get_weights())


    # VAEs draw other noise on each replica (their seeds are folded), so their steps cannot be
    # the one-device steps; the batch-level PENALTY (objective - distortion, from the analytic
    # KL: no noise) and its gradient can, and are compared.
    def vae(name, value):
        keras.utils.set_random_seed(0)
        if name == "free_bits":
            return VAE.mlp((12,), latent_dim=4, hidden_units=(8,), likelihood="gaussian", kl="analytic",
                           free_bits=value, seed=3)
        model = BetaVAE.mlp((12,), latent_dim=4, hidden_units=(8,), likelihood="gaussian", kl="analytic",
                            capacity_max=value, capacity_steps=10, gamma=10.0, seed=3)
        model.steps_done.assign(5)  # C = capacity_max / 2
        return model


    def penalty_step(model, batch):
        with tf.GradientTape() as tape:
            terms = model.per_example_terms(batch, training=True)
            penalty = tf.reduce_mean(model.objective(terms) - terms["distortion"])
            loss = global_batch_mean(penalty, tf.shape(batch)[0])
        variables = model.encoder.trainable_variables
        gradients = tape.gradient(loss, variables)
        return [loss, *[tf.zeros_like(v) if g is None else g for v, g in zip(variables, gradients)]]


    def per_half_kl(model):
        # the analytic KL per dimension of each replica's half of the first batch
        terms = [model.elbo(x[i * 16:(i + 1) * 16]) for i in (0, 1)]
        return [float(t["rate"].numpy().mean()) for t in terms]


    first = x[:32]
    for name in ("free_bits", "capacity"):
        low, high = sorted(per_half_kl(vae(name, 0.0) if name == "capacity" else VAE.mlp(
            (12,), latent_dim=4, hidden_units=(8,), likelihood="gaussian", kl="analytic", seed=3)))
        # a floor (per dimension) or a capacity between the two halves' KLs: the penalty is
        # not linear in the batch mean there. The capacity C = value / 2 (at step 5 of 10) is
        # (low + 3 high) / 4: not the batch mean KL (low + high) / 2, where |KL - C| has its kink
        # and the gradient's sign would be decided by the last bit of rounding (0 on some CPUs)
        value = (low + high) / 4 if name == "free_bits" else (low + 3 * high) / 2
        model = vae(name, value)
        reference = [t.numpy() for t in penalty_step(model, tf.constant(first))]
        # what a replica's own batch mean gives (each half weighted by its share)
        halves_step = [penalty_step(model, tf.constant(first[i * 16:(i + 1) * 16])) for i in (0, 1)]
        per_replica = [0.5 * (a.numpy() + b.numpy()) for a, b in zip(*halves_step)]
        with strategy.scope():
            model = vae(name, value)
        step = tf.function(lambda batch: strategy.run(penalty_step, args=(model, batch)))
        replicated = step(next(iter(distribute_dataset(strategy, batches(first)))))
        mirrored = [strategy.reduce("SUM", t, axis=None).numpy() for t in replicated]
        np.savez(out / f"{name}.npz", reference=np.asarray(reference, dtype=object),
                 per_replica=np.asarray(per_replica, dtype=object), mirrored=np.asarray(mirrored, dtype=object))
        results[f"{name}_value"] = value
    (out / "results.json").write_text(json.dumps(results))
    """
)


@pytest.mark.slow  # keeps the fast suite short; CI's slow pass runs it
def test_batch_level_penalties_under_mirrored_match_one_device(tmp_path):
    """rho-hat, free bits, the capacity gap and the masked MSE are global-batch statistics on every replica."""
    script = tmp_path / "penalties.py"
    script.write_text(BATCH_PENALTY_SCRIPT)
    log = tmp_path / "penalties.log"
    _wait([_start(script, [str(tmp_path)], log)], [log], timeout=400)
    results = json.loads((tmp_path / "results.json").read_text())
    for name in ("sparse_ae", "ratings_ae"):
        reference = _weights(tmp_path / f"{name}_one.npz")
        for driver in ("loop", "fit"):
            _assert_same_weights(_weights(tmp_path / f"{name}_{driver}.npz"), reference, f"{name} {driver}",
                                 atol=1e-4)
            np.testing.assert_allclose(results[f"{name}_{driver}_loss"], results[f"{name}_one_loss"], rtol=1e-5)
    for name in ("free_bits", "capacity"):
        with np.load(tmp_path / f"{name}.npz", allow_pickle=True) as data:
            reference, per_replica, mirrored = data["reference"], data["per_replica"], data["mirrored"]
        # the data make a replica's own batch statistic give another penalty and gradient ...
        assert max(np.abs(np.asarray(a, float) - b).max() for a, b in zip(per_replica, reference)) > 1e-3, name
        # ... and the replicas, with the global statistic, give the one-device penalty and gradient
        for a, b in zip(mirrored, reference):
            np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
