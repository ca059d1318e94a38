# SPDX-License-Identifier: BSD-3-Clause
"""Sequential training of neural networks with gradient boosting (GBNN).

Emami & Martínez-Muñoz, "Sequential Training of Neural Networks with Gradient
Boosting", IEEE Access 11 (2023), arXiv:1909.12098. Each boosting step fits a few
hidden units to the pseudo-residuals on a subsample, takes a guarded line-search
step on the real loss over all training rows, and appends the units (output
weights scaled by shrinkage times step) to one :class:`~tabkit.nn.BoostedNetwork`.
The outer loop is :func:`~tabkit.training.run_loop`, so early stopping, time
budgets, callbacks and histories are the same as for every other model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy.special import expit
from torch import Tensor

from tabkit.nn.boosted import BoostedNetwork, activation_function
from tabkit.training._callbacks import EarlyStopping, LoopState
from tabkit.training._history import History
from tabkit.training._loop import run_loop
from tabkit.training._optim import minimize

_EPS = 1e-12
#: Largest per-step problem (parameters) solved with dense BFGS under "auto"
#: off the CPU.
BFGS_MAX_PARAMS = 600
#: Rows on which the candidate units of a step are scored.
CANDIDATE_ROWS = 512
#: Fit each step's units in float64 NumPy when the data is on the CPU (less
#: overhead per operation than torch); tests switch it off to run the torch path.
NUMPY_ON_CPU = True


def _wmean(values: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean over rows of a (n,) or (n, k) tensor (weights sum to n)."""
    if values.ndim == 2:
        values = values.sum(dim=1)
    return (values * weight).sum() / weight.sum()


def _softmax(raw: Tensor) -> Tensor:
    """Row-wise softmax; torch's kernel is several times slower for few columns."""
    e = (raw - raw.amax(dim=1, keepdim=True)).exp_()
    return e / e.sum(dim=1, keepdim=True)


class BoostingLoss:
    """A loss for gradient boosting: initial constant, residuals, line search.

    Targets ``y`` and raw scores ``F`` have shape (n, n_outputs); ``weight`` has
    shape (n,). Subclasses implement :meth:`init`, :meth:`loss`,
    :meth:`negative_gradient` and :meth:`derivatives`; :meth:`line_search`
    minimises ``loss(F + rho * h)`` over the scalar ``rho`` by safeguarded Newton
    iterations with backtracking, so a step can never increase the training loss
    (the reference implementation's unguarded step diverges on multiclass data).
    """

    n_outputs: int = 1
    #: Whether ``negative_gradient`` changes the loss itself (Huber's delta).
    stateful: bool = False

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the constant raw score minimising the loss, shape (n_outputs,)."""
        raise NotImplementedError

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean loss (a scalar tensor)."""
        raise NotImplementedError

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return the pseudo-residuals, shape (n, n_outputs)."""
        raise NotImplementedError

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return phi'(0) and phi''(0) of ``phi(rho) = loss(raw + rho * h)``."""
        raise NotImplementedError

    def line_search(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor, max_iter: int = 8
    ) -> float:
        """Return the step ``rho`` minimising ``loss(raw + rho * h)``.

        Newton iterations on the derivative of the convex one-dimensional
        function, safeguarded by a bracket (a Newton point outside the bracket
        is replaced by bisection), stopped at 1 % precision (the step is then
        shrunk anyway). Only derivatives are evaluated; a direction along which
        the loss does not decrease gives 0. :func:`fit_boosting` additionally
        halves the applied step until the training loss does not increase.

        Parameters
        ----------
        y, raw, h : Tensor of shape (n, n_outputs)
        weight : Tensor of shape (n,)
        max_iter : int, default=8
            Newton iterations.

        Returns
        -------
        rho : float
        """
        grad, hess = self.derivatives(y, raw, h, weight)
        if not math.isfinite(grad) or grad >= -_EPS:
            return 0.0
        lo, hi, rho = 0.0, math.inf, 0.0
        for _ in range(max_iter):
            if math.isfinite(hess) and hess > _EPS:
                new = rho - grad / hess
            else:  # no usable curvature: expand, or bisect inside the bracket
                new = 2.0 * rho + 1.0
            if math.isfinite(hi) and not lo < new < hi:
                new = 0.5 * (lo + hi)
            grad, hess = self.derivatives(y, raw + new * h, h, weight)
            moved = abs(new - rho)
            rho = new
            if not math.isfinite(grad) or grad > 0:
                hi = new
            else:
                lo = new
            if moved <= 1e-2 * abs(rho) or abs(grad) <= _EPS:
                break
        return rho if math.isfinite(grad) else lo


class SquaredError(BoostingLoss):
    """Half squared error ``(y - F)^2 / 2``; the line search is closed-form.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import SquaredError
    >>> y = torch.tensor([[1.0], [3.0]])
    >>> SquaredError().init(y, torch.ones(2)).tolist()
    [2.0]
    """

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean."""
        return (y * weight[:, None]).sum(0) / weight.sum()

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean of half squared errors."""
        return 0.5 * _wmean((y - raw) ** 2, weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return the residuals ``y - F``."""
        return y - raw

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives."""
        return float(-_wmean((y - raw) * h, weight)), float(_wmean(h * h, weight))

    def line_search(
        self,
        y: Tensor,
        raw: Tensor,
        h: Tensor,
        weight: Tensor,
        max_iter: int = 8,  # noqa: ARG002 - closed form
    ) -> float:
        """Return the least-squares step ``sum(w r h) / sum(w h^2)``."""
        grad, hess = self.derivatives(y, raw, h, weight)
        if not (math.isfinite(grad) and math.isfinite(hess)) or hess <= _EPS:
            return 0.0
        return -grad / hess


class Huber(SquaredError):
    """Huber loss with the transition ``delta`` at a quantile of ``|y - F|``.

    As in Friedman's M-regression, ``delta`` is re-estimated at every step as the
    ``quantile``-quantile of the absolute residuals (weighted), the
    pseudo-residuals are the residuals clipped to ``[-delta, delta]``, and the
    line search is the safeguarded Newton search of :class:`BoostingLoss` on the
    Huber loss with that ``delta`` (curvature from the rows in the quadratic
    zone), which converges in a few iterations because the loss is piecewise
    quadratic.

    The initial constant is the Huber M-estimate of location: the weighted
    median refined by the same line search, with ``delta`` from the residuals
    at the median.

    Parameters
    ----------
    quantile : float, default=0.9
        Quantile of the absolute residuals used as ``delta``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import Huber
    >>> y = torch.tensor([[0.0], [1.0], [2.0], [100.0]])
    >>> round(Huber(0.5).init(y, torch.ones(4)).item(), 3)  # not pulled to 100
    1.5
    """

    stateful = True

    def __init__(self, quantile: float = 0.9) -> None:
        self.quantile = quantile
        self.delta = 1.0

    @staticmethod
    def _weighted_quantile(values: Tensor, weight: Tensor, q: float) -> Tensor:
        order = torch.argsort(values)
        cum = torch.cumsum(weight[order], 0)
        idx = torch.searchsorted(cum, q * cum[-1]).clamp(max=values.numel() - 1)
        return values[order][idx]

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the constant minimising the Huber loss (from the median)."""
        median = self._weighted_quantile(y[:, 0], weight, 0.5)
        raw = median.expand(y.shape[0], 1)
        self.negative_gradient(y, raw)  # delta from the residuals at the median
        rho = self.line_search(y, raw, torch.ones_like(raw), weight)
        return (median + rho).reshape(1)

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean Huber loss at the current ``delta``."""
        r = (y - raw).abs()
        d = self.delta
        return _wmean(torch.where(r <= d, 0.5 * r * r, d * (r - 0.5 * d)), weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Update ``delta`` and return the clipped residuals."""
        r = y - raw
        q = self._weighted_quantile(
            r.abs()[:, 0], torch.ones_like(r[:, 0]), self.quantile
        )
        self.delta = max(float(q), 1e-8)
        return r.clamp(-self.delta, self.delta)

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives at the current ``delta``."""
        r = y - raw
        inside = (r.abs() <= self.delta).to(h.dtype)
        grad = -_wmean(r.clamp(-self.delta, self.delta) * h, weight)
        return float(grad), float(_wmean(inside * h * h, weight))

    def line_search(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor, max_iter: int = 8
    ) -> float:
        """Return the Huber step (safeguarded Newton with backtracking)."""
        return BoostingLoss.line_search(self, y, raw, h, weight, max_iter)


class BinomialDeviance(BoostingLoss):
    """Binary log loss on log-odds ``F``; targets in {0, 1}.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import BinomialDeviance
    >>> y = torch.tensor([[1.0], [1.0], [1.0], [0.0]])
    >>> round(BinomialDeviance().init(y, torch.ones(4)).item(), 4)  # log(3)
    1.0986
    """

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the log-odds of the weighted positive rate."""
        p = ((y[:, 0] * weight).sum() / weight.sum()).clamp(1e-7, 1 - 1e-7)
        return torch.log(p / (1 - p)).reshape(1)

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean log loss (overflow-safe)."""
        return _wmean(torch.nn.functional.softplus(raw) - y * raw, weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return ``y - sigmoid(F)``."""
        return y - torch.sigmoid(raw)

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives."""
        p = torch.sigmoid(raw)
        grad = -_wmean((y - p) * h, weight)
        return float(grad), float(_wmean(p * (1 - p) * h * h, weight))


class MultinomialDeviance(BoostingLoss):
    """Multiclass log loss on K raw scores; targets one-hot.

    The initial scores are the centred log class priors (the constant that
    minimises the loss); the line search uses the exact second derivative of
    the loss along the step direction, not a diagonal approximation.

    Parameters
    ----------
    n_classes : int
        Number of classes K.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import MultinomialDeviance
    >>> y = torch.eye(3)[[0, 0, 1, 2]]
    >>> init = MultinomialDeviance(3).init(y, torch.ones(4))
    >>> [round(v, 3) for v in torch.softmax(init, 0).tolist()]
    [0.5, 0.25, 0.25]
    """

    def __init__(self, n_classes: int) -> None:
        self.n_outputs = n_classes

    def init(self, y: Tensor, weight: Tensor) -> Tensor:
        """Return the centred log priors."""
        prior = ((y * weight[:, None]).sum(0) / weight.sum()).clamp_min(1e-7)
        logp = torch.log(prior)
        return logp - logp.mean()

    def loss(self, y: Tensor, raw: Tensor, weight: Tensor) -> Tensor:
        """Return the weighted mean cross-entropy."""
        per_row = torch.logsumexp(raw, dim=1) - (y * raw).sum(dim=1)
        return _wmean(per_row, weight)

    def negative_gradient(self, y: Tensor, raw: Tensor) -> Tensor:
        """Return ``Y - softmax(F)``."""
        return y - _softmax(raw)

    def derivatives(
        self, y: Tensor, raw: Tensor, h: Tensor, weight: Tensor
    ) -> tuple[float, float]:
        """Return the line derivatives (exact Hessian along ``h``)."""
        p = _softmax(raw)
        grad = -_wmean((y - p) * h, weight)
        ph = (p * h).sum(dim=1)
        hess = _wmean((p * h * h).sum(dim=1) - ph * ph, weight)
        return float(grad), float(hess)


@dataclass
class StageUnits:
    """The hidden units fitted in one boosting step (before scaling).

    Attributes
    ----------
    weight : Tensor of shape (units, d_in)
    bias : Tensor of shape (units,)
    out_weight : Tensor of shape (units, n_outputs)
    out_bias : Tensor of shape (n_outputs,)
    n_iter : int
        Optimiser iterations used.
    """

    weight: Tensor
    bias: Tensor
    out_weight: Tensor
    out_bias: Tensor
    n_iter: int

    def predict(self, x: Tensor, activation: Callable[[Tensor], Tensor]) -> Tensor:
        """Return the units' output on ``x``, shape (n, n_outputs).

        Computed in the (units, n) layout, which is several times faster on CPUs
        for these thin products; ``activation`` may work in place.
        """
        ht = activation(torch.addmm(self.bias[:, None], self.weight, x.T))
        return torch.addmm(self.out_bias[:, None], self.out_weight.T, ht).T.contiguous()


def _activation_derivative(name: str, h: Any) -> Any:
    """Return the activation's derivative, from its output ``h``.

    For ReLU this is a boolean mask (multiplying by it is exact and saves a cast).
    """
    if name == "logistic":
        return h * (1.0 - h)
    if name == "tanh":
        return 1.0 - h * h
    return h > 0


def _relu_(a: Any) -> Any:
    return np.maximum(a, 0.0, out=a)


def _sigmoid_(a: Any) -> Any:
    return expit(a, out=a)


def _tanh_(a: Any) -> Any:
    return np.tanh(a, out=a)


_NUMPY_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": _relu_,
    "logistic": _sigmoid_,
    "tanh": _tanh_,
}


class _ProjectedUnitLoss:
    """Least-squares fit of hidden units with the output layer projected out.

    For fixed hidden weights ``(W, c)`` the outputs ``[V; b]`` solve a weighted
    ridge regression of the residuals on ``[h, 1]`` exactly (the intercept is
    not penalised). The objective of ``(W, c)`` is the penalised loss at that
    solution; by the envelope theorem its gradient is the partial gradient with
    the outputs held fixed, computed here in closed form (no autograd).

    Arrays are NumPy arrays (float64) for CPU data and torch tensors otherwise:
    the code is the same, written with operations both provide. These problems
    are small, so per-operation overhead dominates, and NumPy's is about half of
    torch's on CPUs. Rows run along the last axis (``(units, n)`` layouts), which
    makes the thin matrix products several times faster.
    """

    def __init__(
        self,
        x: Any,
        r: Any,
        weight: Any,
        *,
        units: int,
        activation: str,
        alpha: float,
    ) -> None:
        n, d = x.shape
        k = r.shape[1]
        self.xp: Any = np if isinstance(x, np.ndarray) else torch
        self.x = x
        self.xt = x.T.copy() if self.xp is np else x.T.contiguous()
        self.units, self.d, self.n, self.alpha = units, d, n, alpha
        self.activation = activation
        self.act: Callable[[Any], Any]
        if self.xp is np:
            self.act = _NUMPY_ACTIVATIONS[activation]
        else:
            self.act = activation_function(activation, inplace=True)
        self.weight: Any = None
        if not bool((weight == weight[0]).all()):
            self.weight = weight
        # rows: hidden units, the intercept's ones, then the residuals
        self.stack = self.xp.ones((units + 1 + k, n), **self._like)
        self.stack[units + 1 :] = r.T
        penalty = self.xp.ones(units + 1, **self._like) * (alpha * n + 1e-9 * n)
        penalty[-1] = 1e-9 * n
        self.ridge = self.xp.diag(penalty)

    @property
    def _like(self) -> dict[str, Any]:
        if self.xp is np:
            return {"dtype": self.x.dtype}
        return {"dtype": self.x.dtype, "device": self.x.device}

    def outputs(self, ht: Any) -> Any:
        """Solve the ridge regression for ``[V; b]``, shape (units + 1, k)."""
        j = self.units
        self.stack[:j] = ht
        design = self.stack[: j + 1]
        if self.weight is not None:
            design = design * self.weight
        moments = design @ self.stack.T
        return self.xp.linalg.solve(
            moments[:, : j + 1] + self.ridge, moments[:, j + 1 :]
        )

    def split(self, theta: Any) -> tuple[Any, Any]:
        """Return ``(W, c)`` views of the flat parameter vector."""
        j, d = self.units, self.d
        return theta[: j * d].reshape(j, d), theta[j * d :]

    def hidden_t(self, w: Any, c: Any) -> Any:
        """Return the activations, shape (units, n)."""
        zt = w @ self.xt
        zt += c[:, None]
        return self.act(zt)

    def __call__(self, theta: Any) -> tuple[float, Any]:
        """Return the projected loss and its gradient."""
        j, n = self.units, self.n
        w, c = self.split(theta)
        ht = self.hidden_t(w, c)
        coef = self.outputs(ht)
        v = coef[:-1]
        errt = self.stack[j + 1 :] - coef.T @ self.stack[: j + 1]
        werrt = errt if self.weight is None else errt * self.weight
        loss = 0.5 * float((werrt * errt).sum()) / n
        if self.alpha:
            w_flat = theta[: j * self.d]
            penalty = float(w_flat @ w_flat) + float((v * v).sum())
            loss += 0.5 * self.alpha * penalty
        dzt = v @ werrt
        dzt *= _activation_derivative(self.activation, ht)
        dzt *= -1.0 / n
        grad_w = dzt @ self.x
        if self.alpha:
            grad_w += self.alpha * w
        return loss, self.xp.concatenate([grad_w.reshape(-1), dzt.sum(1)])


def fit_stage_units(
    x: Tensor,
    r: Tensor,
    weight: Tensor,
    *,
    units: int,
    activation: str,
    alpha: float,
    max_iter: int,
    tol: float,
    solver: Literal["auto", "bfgs", "lbfgs", "adam"],
    n_candidates: int,
    generator: torch.Generator,
) -> StageUnits:
    """Fit ``units`` hidden units and linear outputs to residuals ``r``.

    The least-squares problem is separable: for fixed hidden weights the output
    weights are a weighted ridge regression, solved exactly. The hidden weights
    are therefore optimised on the *projected* objective (variable projection)
    with a closed-form gradient, starting from the best of ``n_candidates``
    random units, each a hyperplane crossing the data at a random offset; this
    needs far fewer iterations than fitting all weights jointly from a random
    start, as the reference does. On CPUs the fit runs in float64 NumPy (less
    overhead per operation), elsewhere in torch on the data's device.

    Parameters
    ----------
    x : Tensor of shape (n, d_in)
        Inputs of the (subsampled) rows.
    r : Tensor of shape (n, n_outputs)
        Pseudo-residuals.
    weight : Tensor of shape (n,)
        Row weights (mean 1).
    units : int
        Hidden units to fit.
    activation : str
        Hidden activation.
    alpha : float
        L2 penalty on hidden and output weights (as scikit-learn's MLP).
    max_iter : int
        Optimiser iterations.
    tol : float
        Optimiser tolerance.
    solver : {"auto", "bfgs", "lbfgs", "adam"}
        Optimiser; ``"auto"`` is L-BFGS on CPUs, and on other devices dense
        BFGS up to ``BFGS_MAX_PARAMS`` hidden weights, L-BFGS above.
    n_candidates : int
        Random candidate units from which the starting units are chosen.
    generator : torch.Generator
        Seeded source of the candidates.

    Returns
    -------
    stage : StageUnits
        Weights as tensors of ``x``'s dtype and device.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import fit_stage_units
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(300, 2, generator=g)
    >>> r = torch.tanh(3 * x[:, :1])
    >>> stage = fit_stage_units(x, r, torch.ones(300), units=1, activation="tanh",
    ...                         alpha=0.0, max_iter=50, tol=1e-7, solver="lbfgs",
    ...                         n_candidates=8, generator=g)
    >>> err = stage.predict(x, torch.tanh) - r
    >>> float(err.abs().max()) < 1e-2
    True
    """
    d = x.shape[1]
    m = max(n_candidates, units)
    scale = torch.exp(torch.empty(m).uniform_(-1.0, 1.0, generator=generator))
    dirs_t = torch.randn(m, d, generator=generator) * (scale[:, None] / math.sqrt(d))
    offset_t = torch.randn(m, generator=generator)
    data: list[Any]
    dirs: Any
    offset: Any
    if x.device.type == "cpu" and NUMPY_ON_CPU:
        data = [t.detach().numpy().astype(np.float64) for t in (x, r, weight)]
        dirs, offset = dirs_t.double().numpy(), offset_t.double().numpy()
    else:
        data = [x, r, weight]
        dirs, offset = dirs_t.to(x), offset_t.to(x)
    xs, rs, ws = data
    objective = _ProjectedUnitLoss(
        xs, rs, ws, units=units, activation=activation, alpha=alpha
    )
    # Each candidate's hyperplane crosses its projected data at mean + z * std
    # (weighted), so the candidates do not depend on row order or repetition.
    # They are scored on at most CANDIDATE_ROWS rows (the rows are a random
    # subsample already), which keeps this cheap next to the fit itself.
    rows = slice(0, CANDIDATE_ROWS)
    xt_c, r_c, w_c = objective.xt[:, rows], rs[rows], ws[rows]
    proj = dirs @ xt_c
    mean = (proj * w_c).mean(1)
    proj -= mean[:, None]
    std = ((proj * proj) * w_c).mean(1) ** 0.5
    bias0 = -(mean + offset * std)
    proj -= (offset * std)[:, None]
    hct = objective.act(proj)
    hct -= (hct * w_c).mean(1)[:, None]
    hwt = hct * w_c
    explained = ((hwt @ r_c) ** 2).sum(1) / ((hwt * hct).sum(1) + _EPS)
    top = explained.argsort()[-units:]
    theta0 = objective.xp.concatenate([dirs[top].reshape(-1), bias0[top]])
    if solver == "auto":  # NumPy: L-BFGS; torch (few kernel launches): BFGS
        small = theta0.shape[0] <= BFGS_MAX_PARAMS
        solver = "bfgs" if objective.xp is torch and small else "lbfgs"
    result = minimize(
        objective, theta0, jac=True, method=solver, max_iter=max_iter, tol=tol
    )
    w, c = objective.split(result.x)
    coef = objective.outputs(objective.hidden_t(w, c))

    def back(a: Any) -> Tensor:
        return torch.as_tensor(a, dtype=x.dtype, device=x.device).clone()

    return StageUnits(back(w), back(c), back(coef[:-1]), back(coef[-1]), result.n_iter)


def fit_boosting(
    network: BoostedNetwork,
    loss: BoostingLoss,
    x: Tensor,
    y: Tensor,
    weight: Tensor | None = None,
    *,
    n_steps: int,
    learning_rate: float = 0.1,
    subsample: float = 1.0,
    alpha: float = 1e-4,
    max_iter_per_step: int = 20,
    tol: float = 1e-5,
    solver: Literal["auto", "bfgs", "lbfgs", "adam"] = "auto",
    n_candidates: int = 32,
    validation: tuple[Tensor, Tensor, Tensor | None] | None = None,
    score: Callable[[Tensor, Tensor], float] | None = None,
    early_stopping: EarlyStopping | None = None,
    time_budget: float | None = None,
    callbacks: Sequence[Any] = (),
    generator: torch.Generator | None = None,
    verbose: bool = False,
) -> History:
    """Grow ``network`` by gradient boosting until it has ``n_steps`` steps.

    Per step: pseudo-residuals on all rows; ``J`` units fitted to them on a
    subsample drawn without replacement (:func:`fit_stage_units`); the step size
    from the loss's guarded line search on all rows; the units appended with
    output weights times ``learning_rate * rho``. With ``validation``, the
    staged validation loss (and ``score``) is measured after every step and
    reported to callbacks; ``early_stopping`` keeps the best number of steps.
    A network that already has steps is continued (warm start).

    Parameters
    ----------
    network : BoostedNetwork
        Grown in place.
    loss : BoostingLoss
        Training loss.
    x : Tensor of shape (n, d_in)
        Encoded inputs.
    y : Tensor of shape (n, n_outputs)
        Targets in the loss's format.
    weight : Tensor of shape (n,), optional
        Sample weights.
    n_steps : int
        Total boosting steps wanted.
    learning_rate : float, default=0.1
        Shrinkage.
    subsample : float, default=1.0
        Fraction of rows each step's units are fitted on.
    alpha : float, default=1e-4
        L2 penalty of the unit fits.
    max_iter_per_step : int, default=20
        Optimiser iterations per step.
    tol : float, default=1e-5
        Optimiser tolerance.
    solver : {"auto", "bfgs", "lbfgs", "adam"}, default="auto"
        Optimiser of the unit fits (see :func:`fit_stage_units`).
    n_candidates : int, default=32
        Random candidate units per step.
    validation : tuple of (x_val, y_val, weight_val), optional
        Validation rows.
    score : callable, optional
        ``score(y_val, raw_val) -> float`` reported as ``val_score``.
    early_stopping : EarlyStopping, optional
        Usually monitoring ``"val_loss"``; the network is truncated to the best
        step.
    time_budget : float, optional
        Seconds.
    callbacks : sequence, optional
        Called after every step with ``state.metrics`` holding ``train_loss``,
        ``step_size``, ``val_loss`` and ``val_score``.
    generator : torch.Generator, optional
        Seeded source of subsamples and candidate units.
    verbose : bool, default=False
        Progress bar.

    Returns
    -------
    history : History
        One record per step.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import BoostedNetwork
    >>> from tabkit.training import SquaredError, fit_boosting
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g)
    >>> y = torch.sin(2 * x[:, :1]) + x[:, 1:] ** 2
    >>> net = BoostedNetwork(2, 1, units_per_step=2, max_steps=30)
    >>> hist = fit_boosting(net, SquaredError(), x, y, n_steps=30,
    ...                     learning_rate=0.3, generator=g)
    >>> net.n_steps, hist[0]["train_loss"] > 5 * hist[-1]["train_loss"]
    (30, True)
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    n = x.shape[0]
    w = torch.ones(n, dtype=x.dtype, device=x.device) if weight is None else weight
    w = w * (n / w.sum())
    act = activation_function(network.activation, inplace=True)
    if network.n_steps == 0:
        network.set_initial(loss.init(y, w))
    network.reserve(n_steps)
    with torch.no_grad():
        raw = network(x)
    val_raw = None
    if validation is not None:
        x_val, y_val, given_w_val = validation
        w_val = torch.ones(len(x_val), dtype=x.dtype, device=x.device)
        if given_w_val is not None:
            w_val = given_w_val * (len(x_val) / given_w_val.sum())
        with torch.no_grad():
            val_raw = network(x_val)
    n_sub = max(2, min(n, round(subsample * n)))
    with torch.no_grad():
        train_loss = [float(loss.loss(y, raw, w))]  # before the next step

    def one_step(state: LoopState) -> dict[str, float]:  # noqa: ARG001
        nonlocal raw, val_raw
        residual = loss.negative_gradient(y, raw)
        if loss.stateful:  # the loss changed with the residuals (Huber's delta)
            train_loss[0] = float(loss.loss(y, raw, w))
        if n_sub < n:
            rows = torch.randperm(n, generator=generator)[:n_sub].to(x.device)
            xs, rs, ws = x[rows], residual[rows], w[rows]
        else:
            xs, rs, ws = x, residual, w
        # inference mode: the unit fit builds no autograd state (about 20 %
        # faster); its outputs are only read afterwards
        with torch.inference_mode():
            stage = fit_stage_units(
                xs,
                rs,
                ws / ws.mean(),
                units=network.units_per_step,
                activation=network.activation,
                alpha=alpha,
                max_iter=max_iter_per_step,
                tol=tol,
                solver=solver,
                n_candidates=n_candidates,
                generator=generator,
            )
        with torch.no_grad():
            h = stage.predict(x, act)
            rho = loss.line_search(y, raw, h, w) if torch.isfinite(h).all() else 0.0
            step = learning_rate * rho
            # guard: halve the applied step until the training loss does not rise
            # (beyond float rounding)
            limit = train_loss[0] * (1.0 + 1e-6) + 1e-12
            candidate = raw + step * h
            new_loss = float(loss.loss(y, candidate, w))
            for _ in range(30):
                if math.isfinite(new_loss) and new_loss <= limit:
                    break
                step *= 0.5
                candidate = raw + step * h
                new_loss = float(loss.loss(y, candidate, w))
            else:
                step, candidate, new_loss = 0.0, raw, train_loss[0]
            network.add_step(
                stage.weight, stage.bias, stage.out_weight * step, stage.out_bias * step
            )
            raw = candidate
            train_loss[0] = new_loss
            metrics = {
                "train_loss": new_loss,
                "step_size": step / learning_rate,
                "unit_fit_iterations": float(stage.n_iter),
            }
            if val_raw is not None:
                val_raw = val_raw + step * stage.predict(x_val, act)
        return metrics

    def evaluate(state: LoopState) -> dict[str, float]:  # noqa: ARG001
        assert val_raw is not None
        metrics = {"val_loss": float(loss.loss(y_val, val_raw, w_val))}
        if score is not None:
            metrics["val_score"] = float(score(y_val, val_raw))
        return metrics

    history = run_loop(
        one_step,
        max_iter=max(n_steps - network.n_steps, 0),
        unit="step",
        evaluate=evaluate if validation is not None else None,
        early_stopping=early_stopping,
        snapshot=lambda: network.n_steps,
        restore=network.truncate,
        time_budget=time_budget,
        callbacks=callbacks,
        module=network,
        start_iteration=network.n_steps,
        verbose=verbose,
        description="boosting",
    )
    network.truncate(network.n_steps)
    return history
