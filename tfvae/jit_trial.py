"""``jit_compile="auto"``: XLA or not, decided by timing both on the run's own first batches.

Whether XLA pays off depends on the model, the batch and the device: on the
2-core CPU of ``benchmarks/RESULTS.md`` it ran the MLP VAE 1.2-1.6x faster at
batch 128 but 0.77-0.91x at batch 1024 and 0.25-0.73x on every conv VAE row;
on an H100 it won on every row. A fixed rule gets some of these wrong, so a
training run of at least :data:`TRIAL_MIN_STEPS` steps times both during its
first calls and keeps the faster (:class:`AlternatingTrial`):

- the training function is compiled with and without XLA (Keras' own
  ``train_function`` for ``fit``, the loop's runner for
  :func:`tfvae.loops.train_loop`), and the run's first calls alternate
  between the two on the run's real batches, through its real input
  pipeline: every trial call is a real training step, so the trial costs
  only the extra compilation and the slower variant's few calls, and the
  data order is the run's own;
- after one untimed call of each (tracing, compiling), each variant is timed
  for at least :data:`TRIAL_CALLS` calls and :data:`TRIAL_MIN_SECONDS`;
  the variant with the lower median time per step is kept for the rest of
  the run;
- the choice is cached per model class, model config, batch shape, device
  and step settings for the life of the process (a second run of the same
  model pays nothing), printed as one line, kept as ``model.jit_trial`` and
  written to a run's ``summary.json``.

The two variants compute the same step (tfvae's random draws are the same
under XLA, see :mod:`tfvae.random`), so a run with the trial ends where a run
given the chosen value explicitly ends, to float tolerance. A step that draws
other random numbers (a Keras ``Dropout`` or ``GaussianNoise`` layer, a
``tf.random`` sampler: :func:`step_randomness`) would draw different ones
under XLA from the same seed, so its run would depend on where the trial
stopped: the trial then keeps the plain graph after its first call and never
runs XLA (``JitTrial.note`` says why). Shorter runs (tests, smoke runs) skip
the trial and keep the static rule of
:func:`tfvae.performance.resolve_jit_compile` (XLA on an accelerator only).
A variant that fails to compile with XLA loses and loses no data: XLA's first
call is given the call's batches taken from the run's iterator beforehand
(:func:`take_batches`), and the plain graph runs them again when XLA fails.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import statistics
import time
from collections.abc import Callable, Hashable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

#: Runs planned to take fewer optimisation steps than this skip the trial.
TRIAL_MIN_STEPS = 2000

#: Timed calls of each variant at least (after one untimed call that traces and compiles it).
TRIAL_CALLS = 5

#: Seconds of timed calls of each variant at least (calls of one short step are noisy).
TRIAL_MIN_SECONDS = 0.5

#: The trial decides after this many timed calls of each variant whatever their total time.
TRIAL_MAX_CALLS = 100

_CACHE: dict[Hashable, JitTrial] = {}


@dataclasses.dataclass(frozen=True)
class JitTrial:
    """What a ``jit_compile="auto"`` trial measured and chose.

    Attributes:
      jit_compile: the choice (True: XLA).
      xla_step_s: median seconds per optimisation step with XLA (inf: it did not compile).
      graph_step_s: median seconds per optimisation step without XLA.
      cost_s: seconds the trial added to the run: its calls' wall time less
        what a run given the choice would have spent on the same steps (the
        chosen variant's own first, compiling call and its median time per
        step for the others): the other variant's compilation and its
        slower steps.
      calls: timed calls of each variant.
      cached: the choice came from an earlier trial of the same model
        config, batch shape, device and step settings in this process.
      xla_error: why XLA did not compile, when it did not.
      note: why the trial did not time XLA, when it did not (the step
        draws random numbers that XLA would draw differently).
    """

    jit_compile: bool
    xla_step_s: float
    graph_step_s: float
    cost_s: float
    calls: int = 0
    cached: bool = False
    xla_error: str | None = None
    note: str | None = None

    @property
    def speedup(self) -> float:
        """How many times faster XLA ran than the plain graph (below 1: slower; nan: not both timed)."""
        if not (np.isfinite(self.graph_step_s) and np.isfinite(self.xla_step_s)):
            return float("nan")
        return self.graph_step_s / self.xla_step_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (a time or ratio that could not be measured is None)."""

        def number(value: float, digits: int) -> float | None:
            return round(value, digits) if np.isfinite(value) else None

        return {"jit_compile": self.jit_compile, "xla_step_s": number(self.xla_step_s, 6),
                "graph_step_s": number(self.graph_step_s, 6), "xla_speedup": number(self.speedup, 3),
                "trial_cost_s": round(self.cost_s, 2), "timed_calls": self.calls, "cached": self.cached,
                **({"xla_error": self.xla_error} if self.xla_error else {}),
                **({"note": self.note} if self.note else {})}

    def describe(self) -> str:
        """One line for a progress log."""
        chosen = "XLA on" if self.jit_compile else "XLA off"
        if self.note:
            return f"jit_compile='auto': XLA off ({self.note})"
        if self.xla_error:
            return f"jit_compile='auto': XLA off (the step does not compile with XLA: {self.xla_error})"
        return (f"jit_compile='auto': {chosen} (XLA ran the step {self.speedup:.2f}x the speed of the plain graph; "
                + ("decided by an earlier trial)" if self.cached else f"the trial cost {self.cost_s:.1f} s)"))


@dataclasses.dataclass(frozen=True)
class PendingTrial:
    """A trial the run's first calls are to make (:func:`decide` found no cached choice).

    Attributes:
      key: the cache key of the decision.
      fallback: the value to use before the trial decides (the static rule).
      verbose: print the decision.
    """

    key: Hashable
    fallback: bool
    verbose: bool

    def alternate(self, variants: dict[bool, Callable], steps_of: Callable[[Any], int],
                  on_decided: Callable[[JitTrial], None], batches_per_call: int = 1,
                  randomness: Callable[..., str | None] | None = None) -> AlternatingTrial:
        """An :class:`AlternatingTrial` between ``variants`` that caches and reports its decision.

        Args:
          variants: ``{False: plain graph, True: XLA}`` (see :class:`AlternatingTrial`).
          steps_of: the optimisation steps a call ran, from its result.
          on_decided: called once with the decision.
          batches_per_call: batches one call takes from its iterator at most.
          randomness: why XLA would not reproduce the step, from the plain
            graph's first call's arguments (None: it would).
        """

        def decided(trial: JitTrial) -> None:
            _CACHE[self.key] = trial
            on_decided(trial)
            if self.verbose:
                print("\n" + trial.describe(), flush=True)  # below the progress bar's current line

        return AlternatingTrial(variants, steps_of, decided, batches_per_call, randomness)


class AlternatingTrial:
    """Call one of two compiled variants of a training function, alternated, until their timing decides.

    XLA's first call (the one that compiles it, and may fail to) is given the
    call's batches taken from the iterator beforehand (:func:`take_batches`):
    when XLA fails to compile, the plain graph runs the same batches, and the
    run loses none.

    Args:
      variants: ``{False: plain graph, True: XLA}``, callables taking the
        same arguments (an iterator) and returning the same result.
      steps_of: the optimisation steps a call ran, from its result (0: none,
        e.g. at the end of an epoch).
      on_decided: called once with the :class:`JitTrial` when the trial
        decides; from then on every call goes to the chosen variant.
      batches_per_call: batches one call takes from its iterator at most
        (``steps_per_execution``).
      randomness: called with the plain graph's first call's arguments after
        that call; a reason (the step draws random numbers XLA would draw
        differently) decides for the plain graph at once, without running
        XLA. None: no such check.
    """

    def __init__(self, variants: dict[bool, Callable], steps_of: Callable[[Any], int],
                 on_decided: Callable[[JitTrial], None], batches_per_call: int = 1,
                 randomness: Callable[..., str | None] | None = None):
        self.variants = dict(variants)
        self.steps_of = steps_of
        self.on_decided = on_decided
        self.batches_per_call = int(batches_per_call)
        self.randomness = randomness
        self.decision: JitTrial | None = None
        self._per_step: dict[bool, list[float]] = {False: [], True: []}
        self._timed_s: dict[bool, float] = {False: 0.0, True: 0.0}
        self._warm: dict[bool, tuple[float, int]] = {}  # the first call of each that ran steps: seconds, steps
        self._wall_s = 0.0
        self._steps = 0
        self._xla_error: str | None = None
        self._randomness_checked = randomness is None

    def __call__(self, *args):
        if self.decision is not None:
            return self.variants[self.decision.jit_compile](*args)
        jit = self._next()
        compiling_xla = jit and jit not in self._warm  # the call that may fail: on batches the graph can run again
        batches = take_batches(args[0], self.batches_per_call) if compiling_xla and args else None
        started = time.perf_counter()
        try:
            result = self.variants[jit](*_replayed(args, batches))
        except (tf.errors.OpError, ValueError, NotImplementedError) as error:
            if not compiling_xla:
                raise
            self._xla_error = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
            self._wall_s += time.perf_counter() - started
            self._decide()
            return self(*_replayed(args, batches))  # decided: the plain graph runs the failed call's batches
        self._record(jit, time.perf_counter() - started, int(self.steps_of(result)))  # reading waits for the device
        if not jit and not self._randomness_checked:  # the graph's first call has traced the step
            self._randomness_checked = True
            note = self.randomness(*args)
            if note:
                self._decide(note)
                return result
        if self._enough():
            self._decide()
        return result

    def _record(self, jit: bool, elapsed: float, steps: int) -> None:
        """Count a call of ``jit`` that took ``elapsed`` seconds for ``steps`` steps."""
        self._wall_s += elapsed
        self._steps += steps
        if jit not in self._warm:
            if steps > 0:  # a call that ran no step (an epoch's end) compiled nothing
                self._warm[jit] = (elapsed, steps)
        elif steps > 0:
            self._per_step[jit].append(elapsed / steps)
            self._timed_s[jit] += elapsed

    def _next(self) -> bool:
        """The plain graph first, then XLA, then whichever has fewer timed calls (ties: alternate)."""
        for jit in (False, True):
            if jit not in self._warm:
                return jit
        graph, xla = len(self._per_step[False]), len(self._per_step[True])
        return graph > xla or (graph == xla and (graph + xla) % 2 == 1)

    def _enough(self) -> bool:
        counts = [len(self._per_step[jit]) for jit in (False, True)]
        if max(counts) >= TRIAL_MAX_CALLS and min(counts) >= 1:
            return True
        return min(counts) >= TRIAL_CALLS and min(self._timed_s.values()) >= TRIAL_MIN_SECONDS

    def _decide(self, note: str | None = None) -> None:
        """Keep the faster variant (the plain graph when ``note`` says why XLA is not to run)."""
        median = {jit: statistics.median(times) if times else float("inf") for jit, times in self._per_step.items()}
        choice = note is None and median[True] < median[False]
        warm_s, warm_steps = self._warm.get(choice, (0.0, 0))
        cost = (self._wall_s - warm_s - (self._steps - warm_steps) * median[choice]
                if np.isfinite(median[choice]) else 0.0)
        self.decision = JitTrial(jit_compile=choice, xla_step_s=median[True], graph_step_s=median[False],
                                 cost_s=max(cost, 0.0), calls=min(len(t) for t in self._per_step.values()),
                                 xla_error=self._xla_error, note=note)
        self.on_decided(self.decision)


#: Random ops that give the same numbers in a plain graph and under XLA for the same seed: raw Philox bits
#: (what :mod:`tfvae.random` draws from) and the seed plumbing before them. Every other op whose name says
#: it draws random numbers (stateful, or stateless floats, ints, shuffles) draws differently under XLA.
PORTABLE_RANDOM_OPS = frozenset({
    "StatelessRandomUniformFullInt", "StatelessRandomUniformFullIntV2", "StatelessRandomGetKeyCounter",
    "StatelessRandomGetAlg", "StatelessRandomGetKeyCounterAlg",
})

_RANDOM_OP_WORDS = ("Random", "Multinomial", "TruncatedNormal", "Shuffle", "RngReadAndSkip", "RngSkip")


def random_ops(graph: tf.Graph) -> set[str]:
    """The op types in ``graph`` and every function it calls that draw numbers XLA would draw differently.

    Args:
      graph: a traced graph (``concrete_function.graph``).
    """
    definition = graph.as_graph_def()
    nodes = [*definition.node, *(node for function in definition.library.function for node in function.node_def)]
    found = set()
    for node in nodes:
        stateful = node.op.startswith("Stateful") and not node.op.endswith("PartitionedCall")
        if (stateful or any(word in node.op for word in _RANDOM_OP_WORDS)) and node.op not in PORTABLE_RANDOM_OPS:
            found.add(node.op)
    return found


def _traced(function: Callable, args: tuple) -> tf.Graph | None:
    """The graph ``function`` traced for ``args``: a ``tf.function``'s own, or Keras' ``train_function``'s."""
    if not hasattr(function, "get_concrete_function"):  # Keras wraps its tf.function in a Python function
        try:
            function = inspect.getclosurevars(function).nonlocals.get("multi_step_on_iterator")
        except (TypeError, ValueError):
            return None
        if not hasattr(function, "get_concrete_function"):
            return None
    return function.get_concrete_function(*args).graph  # the trace of these arguments' types: no new trace


def _keras_random_layers(model: keras.Model) -> list[str]:
    """Names of the layers in ``model`` that draw Keras random numbers (those owning a Keras ``SeedGenerator``).

    tfvae's own layers and the model's seed generator are left out: they draw with :mod:`tfvae.random`.
    """
    return [layer.name for layer in model._flatten_layers(include_self=False)
            if getattr(layer, "_seed_generators", None) and not type(layer).__module__.startswith("tfvae.")]


def step_randomness(model: keras.Model, function: Callable, *args) -> str | None:
    """Why XLA would not reproduce the training step ``function(*args)`` traced, or None when it would.

    The step's graph is searched for random ops outside
    :data:`PORTABLE_RANDOM_OPS` (:func:`random_ops`), e.g. those of a Keras
    ``Dropout``; where the graph cannot be read, the model's layers are
    searched for Keras random layers instead.

    Args:
      model: the model the step trains.
      function: the plain graph's training function, called once with ``args``.
      args: its arguments (the run's iterator).
    """
    graph = _traced(function, args)
    if graph is not None:
        ops = random_ops(graph)
        if ops:
            return f"the step draws random numbers that XLA would draw differently: {', '.join(sorted(ops))}"
        return None
    layers = _keras_random_layers(model)
    if layers:
        return f"the step draws Keras random numbers that XLA would draw differently: {', '.join(layers[:3])}"
    return None


def take_batches(iterator, count: int) -> list | None:
    """The next ``count`` batches of ``iterator`` (fewer at its end), or None for an iterator that cannot be replayed.

    Args:
      iterator: a ``tf.data.Iterator`` or a Python iterator (a distributed
        iterator is not replayed: None).
      count: batches to take at most.
    """
    if isinstance(iterator, tf.data.Iterator):
        batches = []
        for _ in range(count):
            batch = iterator.get_next_as_optional()
            if not bool(batch.has_value()):
                break
            batches.append(batch.get_value())
        return batches
    if isinstance(iterator, tf.distribute.DistributedIterator) or not hasattr(iterator, "__next__"):
        return None
    return list(itertools.islice(iterator, count))


def replay(like, batches: list):
    """An iterator over ``batches`` of the same type as ``like`` (a traced function takes it without a new trace).

    Args:
      like: the iterator the batches came from.
      batches: what :func:`take_batches` took from it.
    """
    if isinstance(like, tf.data.Iterator):
        dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=like.element_spec)
        return iter(dataset)
    return iter(batches)


def _replayed(args: tuple, batches: list | None) -> tuple:
    """``args`` with its iterator replaced by one over ``batches`` (None: ``args`` as they are)."""
    return args if batches is None else (replay(args[0], batches), *args[1:])


def decide(model: keras.Model, optimizer: keras.optimizers.Optimizer, element_spec, batch_size: int | None,
           steps: int | None, steps_per_execution: int, on_nonfinite: str, fallback: bool,
           verbose: int = 0) -> bool | PendingTrial:
    """``jit_compile`` for a run of ``steps`` steps, or the :class:`PendingTrial` its first calls are to make.

    A short run gets ``fallback``; a long one the cached choice of an
    earlier trial of the same model config, batch shape, device and step
    settings (``model.jit_trial`` is set to it and it is printed when
    ``verbose``), else a :class:`PendingTrial`. Sets ``model.jit_trial`` to
    None otherwise.

    Args:
      model: the model about to train.
      optimizer: the optimizer it trains with.
      element_spec: the structure of one training batch (``dataset.element_spec``).
      batch_size: examples per batch (None: unknown, no trial).
      steps: the optimisation steps the run will take (None: unknown, a trial).
      steps_per_execution: steps per traced call.
      on_nonfinite: the step's non-finite mode.
      fallback: the static choice (:func:`tfvae.performance.resolve_jit_compile`).
      verbose: print the decision.
    """
    model.jit_trial = None
    if batch_size is None or not wants_trial(steps):
        return fallback
    key = _cache_key(model, optimizer, element_spec, batch_size, steps_per_execution, on_nonfinite)
    if key in _CACHE:
        model.jit_trial = dataclasses.replace(_CACHE[key], cached=True)
        if verbose:
            print(model.jit_trial.describe())
        return model.jit_trial.jit_compile
    return PendingTrial(key, bool(fallback), bool(verbose))


def decide_for_fit(model: keras.Model, x, args: tuple, kwargs: dict, on_nonfinite: str) -> bool | PendingTrial | None:
    """:func:`decide` for ``model.fit(x, *args, **kwargs)``; None for input it cannot read (generators, dicts)."""
    bound = inspect.signature(keras.Model.fit).bind_partial(model, x, *args, **kwargs).arguments
    epochs, initial_epoch = int(bound.get("epochs", 1)), int(bound.get("initial_epoch", 0))
    if isinstance(x, tf.data.Dataset):
        spec, batch_size = x.element_spec, batch_size_of(x)
        steps = planned_steps(x, epochs, initial_epoch)
        if bound.get("steps_per_epoch") is not None:
            steps = int(bound["steps_per_epoch"]) * max(epochs - initial_epoch, 0)
    elif isinstance(x, (np.ndarray, tf.Tensor)):
        batch_size = int(bound.get("batch_size") or 32)
        spec = tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))
        steps = -(-int(x.shape[0]) // batch_size) * max(epochs - initial_epoch, 0)
    else:
        return None
    return decide(model, model.optimizer, spec, batch_size, steps, int(model.steps_per_execution), on_nonfinite,
                  bool(model.jit_compile), verbose=int(bound.get("verbose", 1) not in (0, "0")))


def alternating_train_function(model: keras.Model, pending: PendingTrial,
                               make_train_function: Callable[[], Callable]) -> AlternatingTrial:
    """Keras' ``train_function`` compiled both ways, alternated by a trial that then keeps the faster.

    Args:
      model: the model ``fit`` trains.
      pending: the trial :func:`decide_for_fit` asked for.
      make_train_function: Keras' own ``make_train_function(force=True)``,
        which compiles with ``model.jit_compile`` and returns the function.
    """
    variants = {}
    for jit in (False, True):
        model.jit_compile = jit
        variants[jit] = make_train_function()
    model.jit_compile = pending.fallback

    def decided(trial: JitTrial) -> None:
        if trial.jit_compile != bool(model.jit_compile):
            model.jit_compile = trial.jit_compile
            model.test_function = model.predict_function = None  # evaluate compiles as training chose
        model.train_function = variants[trial.jit_compile]
        model.jit_trial = trial

    return pending.alternate(variants, lambda _: int(model.steps_per_execution), decided,
                             batches_per_call=int(model.steps_per_execution),
                             randomness=lambda *args: step_randomness(model, variants[False], *args))


def planned_steps(dataset: tf.data.Dataset, epochs: int, initial_epoch: int = 0) -> int | None:
    """Optimisation steps a run over ``dataset`` will take, or None when its length is unknown."""
    cardinality = int(dataset.cardinality())
    if cardinality < 0:  # tf.data.INFINITE_CARDINALITY or UNKNOWN_CARDINALITY
        return None
    return cardinality * max(int(epochs) - int(initial_epoch), 0)


def wants_trial(steps: int | None) -> bool:
    """Whether a run of ``steps`` steps (None: unknown) is long enough to pay for a trial."""
    return steps is None or steps >= TRIAL_MIN_STEPS


def batch_size_of(dataset: tf.data.Dataset, default: int | None = None) -> int | None:
    """The batch size of a batched ``dataset``: its static leading dimension, else the ``batch`` it was made with."""
    first = tf.nest.flatten(dataset.element_spec)[0]
    if first.shape.rank and first.shape[0] is not None:
        return int(first.shape[0])
    pending = [dataset]  # breadth-first through the pipeline's inputs (zip and friends have several)
    while pending:
        node = pending.pop(0)
        size = getattr(node, "_batch_size", None)  # tf.data's BatchDataset (and padded/ragged batch)
        if size is not None:
            return int(size)
        pending.extend(node._inputs() if hasattr(node, "_inputs") else [])
    return default


def _device() -> str:
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
    if devices:
        return devices[0].device_type + ":" + tf.config.experimental.get_device_details(
            tf.config.list_physical_devices(devices[0].device_type)[0]).get("device_name", "?")
    return "CPU"


def _config_key(model: keras.Model) -> str:
    try:
        config = {k: v for k, v in model.get_config().items() if k != "name"}  # vae_1, vae_2: the same model
        return json.dumps(config, sort_keys=True, default=repr)
    except NotImplementedError:  # a subclassed model without get_config: cache per instance only
        return f"id:{id(model)}"


def _cache_key(model: keras.Model, optimizer: keras.optimizers.Optimizer, element_spec, batch_size: int,
               steps_per_execution: int, on_nonfinite: str) -> Hashable:
    shapes = tuple((tuple([batch_size, *spec.shape.as_list()[1:]]), spec.dtype.name)
                   for spec in tf.nest.flatten(element_spec))
    others = list(model.update_optimizers().values())[1:]  # the other updates' (FactorVAE's discriminator)
    optimizers = tuple(type(o).__name__ for o in (optimizer, *others))
    return (type(model).__qualname__, _config_key(model), shapes, _device(), optimizers,
            keras.mixed_precision.global_policy().name, int(steps_per_execution), on_nonfinite)
