"""Every progress bar counts real steps (or examples) and never passes its total (issue 19).

Keras' own ProgbarLogger showed ``32/40``, ``64/40``, then ``40/40`` for 40
steps run 32 per ``tf.function`` call. The printed output is captured and every
``N/T`` the bars draw (Keras redraws a line after ``\\r`` and ``\\b``) is checked.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE
from tfvae.loops import evaluate_loop, train_loop
from tfvae.metrics import evaluate_model
from tfvae.progress import Progbar, ProgressLogger

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_COUNT = re.compile(r"^\s*(\d+)/(\d+|Unknown)\s")


@pytest.fixture(autouse=True)
def every_update_drawn(monkeypatch):
    """Progbar skips redraws closer than 0.05 s apart: draw them all, so no overshoot can hide."""
    init = keras.utils.Progbar.__init__

    def init_without_interval(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.interval = 0.0

    monkeypatch.setattr(keras.utils.Progbar, "__init__", init_without_interval)


def bars(text: str) -> list[list[tuple[int, int | None]]]:
    """The counts each bar drew, one list per bar (a bar ends with its line)."""
    found = []
    for line in text.split("\n"):
        counts = []
        for segment in _ANSI.sub("", line).replace("\b", "").split("\r"):
            match = _COUNT.match(segment)
            if match:
                done, total = match.groups()
                counts.append((int(done), None if total == "Unknown" else int(total)))
        if counts:
            found.append(counts)
    return found


def check(text: str, totals: list[int]) -> None:
    """One bar per total; each counts up, never passes its total and ends on it."""
    drawn = bars(text)
    assert [bar[-1][1] for bar in drawn] == totals, drawn
    for bar, total in zip(drawn, totals):
        done = [n for n, _ in bar]
        assert all(t is None or n <= t for n, t in bar), f"a count passed its total: {bar}"
        assert all(n <= total for n in done), f"a count passed {total}: {bar}"
        assert done == sorted(done), f"the count went back: {bar}"
        assert bar[-1] == (total, total), bar
    assert not re.search(r"\s-\d+s\s", _ANSI.sub("", text)), "a negative ETA"


def unknown_length(x: np.ndarray, batch_size: int = 2) -> tf.data.Dataset:
    """``x`` in batches, through a filter that hides the number of batches."""

    def keep(example):
        return tf.constant(True)

    dataset = tf.data.Dataset.from_tensor_slices(x).filter(keep).batch(batch_size)
    assert int(dataset.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    return dataset


def model(steps_per_execution: int = 32) -> VAE:
    vae = VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=steps_per_execution, jit_compile=False)
    return vae


def data(batches: int, batch_size: int = 2) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (batches * batch_size, 4, 4, 1)).astype("float32")


def test_fit_with_32_steps_per_execution_over_40_steps(capsys):
    model().fit(data(40), batch_size=2, epochs=2, validation_data=data(5), verbose=1)
    out = capsys.readouterr().out
    check(out, [40, 40])  # validation inside fit draws no bar, as in Keras
    assert "Epoch 1/2" in out and "Epoch 2/2" in out


def test_fit_when_the_steps_do_not_divide_into_executions(capsys):
    model().fit(data(63), batch_size=2, epochs=1, verbose=1)  # calls of 32 and 31 steps (VQ-VAE's 64/63)
    out = capsys.readouterr().out
    check(out, [63])
    assert [n for n, _ in bars(out)[0]][:2] == [32, 63]


def test_fit_on_data_of_unknown_length_counts_the_steps_taken(capsys):
    dataset = unknown_length(data(40))
    with pytest.warns(UserWarning, match="ran out of data"):  # Keras' note at the end of the first epoch
        model().fit(dataset, epochs=2, verbose=1)
    check(capsys.readouterr().out, [40, 40])  # the first epoch learns the 40 (Keras: 64/64, then 64 as total)


def test_evaluate_and_predict(capsys):
    vae = model()
    vae.evaluate(data(40), batch_size=2, verbose=1)
    vae.predict(data(63), batch_size=2, verbose=1)
    check(capsys.readouterr().out, [40, 63])


def test_verbose_0_prints_nothing_and_a_bar_of_ones_own_is_kept(capsys):
    vae = model()
    vae.fit(data(40), batch_size=2, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    own = ProgressLogger()
    vae.fit(data(40), batch_size=2, epochs=1, verbose=1, callbacks=[own])
    check(capsys.readouterr().out, [40])
    assert own.seen == 40


@pytest.mark.parametrize("batches", [40, 63])
def test_the_custom_loop(capsys, batches):
    vae = model()
    train_loop(vae, data(batches), batch_size=2, epochs=2, steps_per_execution=32, jit_compile=False, verbose=1)
    evaluate_loop(vae, data(batches), batch_size=2, steps_per_execution=32, jit_compile=False, verbose=1)
    check(capsys.readouterr().out, [batches] * 3)


def test_the_custom_loop_on_data_of_unknown_length(capsys):
    train_loop(model(), unknown_length(data(40)), epochs=1, steps_per_execution=32, jit_compile=False, verbose=1)
    check(capsys.readouterr().out, [40])


def test_evaluation_over_examples_with_a_smaller_last_batch(capsys):
    vae = model()
    x = data(5)  # 10 examples in batches of 4, 4 and 2
    evaluate_model(vae, x, batch_size=4, iwae_k=None, total=10)
    evaluate_model(vae, x, batch_size=4, iwae_k=None)  # total unknown: the bar ends on the count
    evaluate_model(vae, x, batch_size=4, iwae_k=None, max_examples=6)
    check(capsys.readouterr().out, [10, 10, 6])


def test_evaluation_bar_given_a_wrong_total_stays_within_it_and_ends_its_line(capsys):
    vae = model()
    evaluate_model(vae, data(5), batch_size=4, iwae_k=None, total=6)  # 10 examples
    evaluate_model(vae, data(5), batch_size=4, iwae_k=None, total=20)
    out = capsys.readouterr().out
    (short,), (long,) = [bars(line) for line in out.split("\n") if bars(line)]
    assert [n for n, _ in short] == [4, 6] and {t for _, t in short} == {6}
    assert [n for n, _ in long] == [4, 8, 10, 10] and {t for _, t in long} == {20}
    assert out.endswith("\n")


def test_progbar_caps_its_count():
    bar = Progbar(10, verbose=0)
    bar.update(32)
    assert bar._seen_so_far == 10
    bar.update(4)
    assert bar._seen_so_far == 10  # never back
    unknown = Progbar(None, verbose=0)
    unknown.update(7)
    unknown.finish(7)
    assert unknown.target == 7


@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_tfvae_train_prints_bars_within_their_totals(tmp_path, capsys, driver):
    from tfvae.cli import main

    tiny = ["--set", "data.limit=40", "--batch-size", "4", "--set", "model.hidden_units=[8]",
            "--set", "model.latent_dim=2", "--no-jit"]
    code = main(["train", "vae", "--driver", driver, "--epochs", "1", "--steps-per-execution", "4",
                 "--out", str(tmp_path / "run"), *tiny])
    assert code == 0
    check(capsys.readouterr().out, [10, 10])  # 10 steps (calls of 4, 4 and 2), then the test set
