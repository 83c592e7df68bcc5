r"""L2-regularised multinomial logistic regression in numpy, fitted by L-BFGS.

The linear classifier of the BetaVAE score and the per-factor predictor of
DCI. Inputs are standardised (``(x - mean) / scale``, scale 1 for a constant
input), then

    ``min_{W, b} mean_i -log softmax(x_i W + b)[y_i] + l2 / 2 * ||W||^2``

(bias not penalised; default ``l2 = 1 / N``, scikit-learn's default
``C = 1``, the model disentanglement_lib uses for BetaVAE). The objective is
smooth and convex; it is minimised from zero weights by L-BFGS (two-loop
recursion over the last 10 curvature pairs, initial scaling ``s'y / y'y``,
Armijo backtracking, a restart from the gradient when the direction is not
one of descent), so a fit is deterministic. scikit-learn is not a
dependency.

:meth:`LogisticRegression.importance` is DCI's ``R_jk`` for one factor: the
standard deviation over classes of input ``j``'s weights (softmax ignores a
shift common to all classes).

References:
  Nocedal, J. & Wright, S. J. (2006). Numerical Optimization, 2nd ed.,
  Springer (L-BFGS two-loop recursion, Algorithm 7.4; backtracking line
  search, Algorithm 3.1).
  Locatello, F. et al. (2019). Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations. ICML
  (disentanglement_lib).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tfvae.metrics.disentanglement.sampling import _as_codes

__all__ = ["LogisticRegression", "fit_logistic_regression"]


@dataclass(frozen=True)
class LogisticRegression:
    """A fitted multinomial logistic regression on standardised inputs.

    ``logits = ((x - mean) / scale) @ weights + bias``.

    Attributes:
      weights: ``[D, C]``.
      bias: ``[C]``.
      mean: ``[D]`` input means of the training data.
      scale: ``[D]`` input standard deviations (1 where constant).
    """

    weights: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def logits(self, x) -> np.ndarray:
        """Class logits ``[N, C]``."""
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def predict(self, x) -> np.ndarray:
        """Most likely class ``[N]``."""
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y) -> float:
        """Fraction of ``y`` predicted correctly."""
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def importance(self) -> np.ndarray:
        """Per input: the standard deviation of its class weights, ``[D]``.

        Softmax ignores a shift common to all classes, so the spread over
        classes (not the raw magnitude) is how much the input moves the
        prediction; inputs are standardised, so importances are comparable.
        """
        return self.weights.std(axis=1)


def _lbfgs(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray, max_iter: int, tol: float,
           memory: int = 10) -> np.ndarray:
    """Minimise a smooth convex ``fun`` (value, gradient) with L-BFGS and Armijo backtracking."""
    f, g = fun(x)
    s_list: list[np.ndarray] = []
    y_list: list[np.ndarray] = []
    for _ in range(max_iter):
        if np.max(np.abs(g)) <= tol:
            break
        q = g.copy()
        history = []
        for s, y in zip(reversed(s_list), reversed(y_list)):
            rho = 1.0 / (y @ s)
            a = rho * (s @ q)
            q -= a * y
            history.append((rho, a))
        gamma = (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1]) if s_list else 1.0 / max(np.linalg.norm(g), 1.0)
        r = gamma * q
        for (s, y), (rho, a) in zip(zip(s_list, y_list), reversed(history)):
            r += s * (a - rho * (y @ r))
        direction = -r
        slope = g @ direction
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_list.clear(), y_list.clear()
            direction, slope = -g, -(g @ g)
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-12:
                break
            step *= 0.5
        s, y = x_new - x, g_new - g
        if s @ y > 1e-12:
            s_list.append(s)
            y_list.append(y)
            if len(s_list) > memory:
                s_list.pop(0), y_list.pop(0)
        converged = f - f_new <= 1e-12 * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x


def fit_logistic_regression(
    x, y, num_classes: int | None = None, l2: float | None = None, max_iter: int = 500, tol: float = 1e-6
) -> LogisticRegression:
    """Fit an L2-regularised multinomial logistic regression.

    Minimises ``mean_i -log softmax(logits_i)[y_i] + l2 / 2 * ||W||^2`` (bias
    not penalised) over standardised inputs, by L-BFGS from zero weights:
    deterministic.

    Args:
      x: ``[N, D]`` inputs.
      y: ``[N]`` integer classes in ``[0, num_classes)``.
      num_classes: number of classes (default ``max(y) + 1``).
      l2: penalty; default ``1 / N``, scikit-learn's default ``C = 1``.
      max_iter: L-BFGS iterations.
      tol: stop when every gradient entry is below this.

    Returns:
      The fitted :class:`LogisticRegression`.
    """
    x = _as_codes(x)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    n, d = x.shape
    if len(y) != n or n == 0:
        raise ValueError(f"x has {n} rows and y has {len(y)} labels; need the same, at least one")
    c = int(num_classes if num_classes is not None else y.max() + 1)
    if y.min() < 0 or y.max() >= c:
        raise ValueError(f"labels must lie in [0, {c}), got [{y.min()}, {y.max()}]")
    l2 = 1.0 / n if l2 is None else float(l2)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    xs = (x - mean) / scale
    onehot = np.zeros((n, c))
    onehot[np.arange(n), y] = 1.0

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * c].reshape(d, c), theta[d * c :]
        logits = xs @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_z
        loss = -np.sum(log_p * onehot) / n + 0.5 * l2 * np.sum(w * w)
        residual = (np.exp(log_p) - onehot) / n
        grad_w = xs.T @ residual + l2 * w
        return loss, np.concatenate([grad_w.ravel(), residual.sum(axis=0)])

    theta = _lbfgs(fun, np.zeros(d * c + c), max_iter, tol)
    return LogisticRegression(theta[: d * c].reshape(d, c), theta[d * c :], mean, scale)
