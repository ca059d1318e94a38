# SPDX-License-Identifier: BSD-3-Clause
"""One boosting step's hidden units, fitted by variable projection."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy.special import expit
from torch import Tensor

from tabkit.nn.boosted import activation_function
from tabkit.training.boosting._minimize import minimize

_EPS = 1e-12
#: Largest per-step problem (parameters) solved with dense BFGS under "auto"
#: off the CPU.
BFGS_MAX_PARAMS = 600
#: Rows on which the candidate units of a step are scored.
CANDIDATE_ROWS = 512
#: Fit each step's units in float64 NumPy when the data is on the CPU (less
#: overhead per operation than torch); tests switch it off to run the torch path.
NUMPY_ON_CPU = True


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
    >>> from tabkit.training.boosting import fit_stage_units
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
