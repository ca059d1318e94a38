# SPDX-License-Identifier: BSD-3-Clause
"""Optimiser pieces: parameter groups, schedules, weight EMA, full-batch minimise."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

#: ``factory(param_groups, learning_rate) -> optimizer``.
OptimizerFactory = Callable[[list[dict[str, Any]], float], torch.optim.Optimizer]
#: ``factory(optimizer, total_updates) -> scheduler stepped once per update``.
SchedulerFactory = Callable[[torch.optim.Optimizer, int], Any]
#: ``(loss value, gradient)`` returned by objectives with ``jac=True``.
FunGrad = tuple[float, Any]

_NO_DECAY_TYPES = (
    nn.Embedding,
    nn.EmbeddingBag,
    nn.LayerNorm,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.GroupNorm,
)


def make_parameter_groups(
    module: nn.Module, weight_decay: float
) -> list[dict[str, Any]]:
    """Split trainable parameters into decayed and non-decayed groups.

    Biases, 1-D parameters (norm scales, per-feature vectors), embeddings and
    normalisation layers get no weight decay, as in rtdl / TabM. A module can add
    names to exclude with an attribute ``no_weight_decay`` (a set of parameter
    names relative to itself).

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    weight_decay : float
        Decay of the decayed group.

    Returns
    -------
    groups : list of dict
        Parameter groups for a torch optimiser (empty groups are left out).

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import make_parameter_groups
    >>> m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    >>> [(len(g["params"]), g["weight_decay"]) for g in make_parameter_groups(m, 0.1)]
    [(1, 0.1), (3, 0.0)]
    """
    no_decay: set[int] = set()
    for prefix, sub in module.named_modules():
        extra = getattr(sub, "no_weight_decay", ())
        for name, param in sub.named_parameters(recurse=False):
            full = f"{prefix}.{name}" if prefix else name
            if (
                isinstance(sub, _NO_DECAY_TYPES)
                or param.ndim <= 1
                or name in extra
                or full.endswith("bias")
            ):
                no_decay.add(id(param))
    decay: list[nn.Parameter] = []
    plain: list[nn.Parameter] = []
    for param in module.parameters():
        if param.requires_grad:
            (plain if id(param) in no_decay else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": plain, "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def adamw(groups: list[dict[str, Any]], learning_rate: float) -> torch.optim.Optimizer:
    """Build :class:`torch.optim.AdamW` (the default optimiser factory).

    Parameters
    ----------
    groups : list of dict
        Parameter groups from :func:`make_parameter_groups`.
    learning_rate : float
        Peak learning rate.

    Returns
    -------
    optimizer : torch.optim.AdamW

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import adamw, make_parameter_groups
    >>> opt = adamw(make_parameter_groups(torch.nn.Linear(2, 1), 0.0), 1e-3)
    >>> type(opt).__name__
    'AdamW'
    """
    return torch.optim.AdamW(groups, lr=learning_rate)


def warmup_cosine(warmup: float = 0.0, final_factor: float = 0.0) -> SchedulerFactory:
    """Linear warm-up followed by cosine decay, stepped once per update.

    Parameters
    ----------
    warmup : float, default=0.0
        Warm-up length: a fraction of all updates when < 1, else a number of
        updates.
    final_factor : float, default=0.0
        Learning-rate factor reached at the last update.

    Returns
    -------
    factory : callable
        ``factory(optimizer, total_updates) -> LambdaLR``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import warmup_cosine
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = warmup_cosine(warmup=2)(opt, 10)
    >>> lrs = []
    >>> for _ in range(10):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 3))
    ...     opt.step()
    ...     sched.step()
    >>> lrs[:4]
    [0.0, 0.5, 1.0, 0.95]
    """

    def factory(
        optimizer: torch.optim.Optimizer, total: int
    ) -> torch.optim.lr_scheduler.LambdaLR:
        n_warm = int(warmup * total) if warmup < 1 else int(warmup)
        n_warm = min(max(n_warm, 0), max(total - 1, 0))

        def factor(update: int) -> float:
            if update < n_warm:
                return update / n_warm
            span = max(total - n_warm - 1, 1)
            progress = min((update - n_warm) / span, 1.0)
            cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
            return final_factor + (1.0 - final_factor) * cosine

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    return factory


class WeightEMA:
    """Exponential moving average of a module's floating-point state.

    Parameters
    ----------
    module : torch.nn.Module
        The module whose weights are averaged.
    decay : float
        Weight of the old average, in (0, 1).

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import WeightEMA
    >>> m = torch.nn.Linear(1, 1, bias=False)
    >>> _ = m.weight.data.fill_(0.0)
    >>> ema = WeightEMA(m, decay=0.5)
    >>> _ = m.weight.data.fill_(1.0)
    >>> ema.update()
    >>> ema.shadow["weight"].item()
    0.5
    """

    def __init__(self, module: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        self.module = module
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the module's current weights."""
        for name, value in self.module.state_dict().items():
            avg = self.shadow[name]
            if avg.is_floating_point():
                avg.lerp_(value.detach(), 1.0 - self.decay)
            else:
                avg.copy_(value)

    def swap(self) -> None:
        """Exchange the module's weights with the averaged ones (call twice to undo)."""
        current = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        self.module.load_state_dict(self.shadow)
        self.shadow = current


#: A 1-D float array: a torch tensor or a NumPy array (see :func:`minimize`).
Vector = Any


@dataclass
class MinimizeResult:
    """Outcome of :func:`minimize`.

    Attributes
    ----------
    x : Tensor or ndarray
        The minimiser found (1-D, same kind as the starting point).
    loss : float
        Objective value at ``x``.
    n_iter : int
        Iterations taken (quasi-Newton iterations or Adam steps).
    n_eval : int
        Objective evaluations.
    """

    x: Vector
    loss: float
    n_iter: int
    n_eval: int


def _namespace(x: Vector) -> Any:
    """Return the array module of ``x``: numpy or torch."""
    return np if isinstance(x, np.ndarray) else torch


def _copy(x: Vector) -> Vector:
    return x.copy() if isinstance(x, np.ndarray) else x.detach().clone()


def _scaled_steepest(g: Vector) -> Vector:
    """First direction: the negative gradient scaled to an L1 norm of at most 1."""
    return g * (-min(1.0, 1.0 / max(float(abs(g).sum()), 1e-12)))


def _with_autograd(fun: Callable[[Tensor], Tensor]) -> Callable[[Tensor], FunGrad]:
    def fun_grad(x: Tensor) -> FunGrad:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            value = fun(leaf)
            (grad,) = torch.autograd.grad(value, leaf)
        return float(value.detach()), grad.detach()

    return fun_grad


def _armijo(
    fun_grad: Callable[[Vector], FunGrad],
    x: Vector,
    f: float,
    direction: Vector,
    slope: float,
) -> tuple[Vector, float, Vector, int] | None:
    """Backtrack from step 1 until the Armijo condition holds (None: no step)."""
    step = 1.0
    for n_eval in range(1, 31):
        x_new = x + step * direction
        f_new, g_new = fun_grad(x_new)
        if math.isfinite(f_new) and f_new <= f + 1e-4 * step * slope:
            return x_new, f_new, g_new, n_eval
        step *= 0.5
    return None


def _lbfgs(
    fun_grad: Callable[[Vector], FunGrad],
    x: Vector,
    max_iter: int,
    tol: float,
    history_size: int,
) -> MinimizeResult:
    """Lean L-BFGS with an Armijo backtracking line search."""
    f, g = fun_grad(x)
    n_eval, n_iter = 1, 0
    g_tol = tol * float(abs(g).max())
    s_hist: list[Vector] = []
    y_hist: list[Vector] = []
    rho_hist: list[float] = []
    while n_iter < max_iter and float(abs(g).max()) > g_tol:
        n_iter += 1
        q = _copy(g)
        alphas = []
        for s, y, rho in zip(
            reversed(s_hist), reversed(y_hist), reversed(rho_hist), strict=True
        ):
            a = rho * float(s @ q)
            q -= a * y
            alphas.append(a)
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        else:
            q *= min(1.0, 1.0 / max(float(abs(g).sum()), 1e-12))
        for s, y, rho, a in zip(
            s_hist, y_hist, rho_hist, reversed(alphas), strict=True
        ):
            q += (a - rho * float(y @ q)) * s
        direction = -q
        slope = float(g @ direction)
        if slope >= 0:  # not a descent direction: restart from steepest descent
            s_hist.clear()
            y_hist.clear()
            rho_hist.clear()
            direction = _scaled_steepest(g)
            slope = float(g @ direction)
        accepted = _armijo(fun_grad, x, f, direction, slope)
        if accepted is None:
            break
        x_new, f_new, g_new, evals = accepted
        n_eval += evals
        s_vec, y_vec = x_new - x, g_new - g
        sy = float(s_vec @ y_vec)
        if sy > 1e-10:
            s_hist.append(s_vec)
            y_hist.append(y_vec)
            rho_hist.append(1.0 / sy)
            if len(s_hist) > history_size:
                del s_hist[0], y_hist[0], rho_hist[0]
        converged = bool(s_hist) and f - f_new <= tol * max(abs(f), abs(f_new))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return MinimizeResult(x=x, loss=f, n_iter=n_iter, n_eval=n_eval)


def _bfgs(
    fun_grad: Callable[[Vector], FunGrad],
    x: Vector,
    max_iter: int,
    tol: float,
) -> MinimizeResult:
    """Dense BFGS (inverse-Hessian form) with Armijo backtracking.

    For the small problems it is meant for (a few hundred parameters) one
    iteration is a handful of array operations, fewer than L-BFGS's two-loop
    recursion needs.
    """
    xp = _namespace(x)
    f, g = fun_grad(x)
    n_eval, n_iter = 1, 0
    g_tol = tol * float(abs(g).max())
    h_inv: Vector | None = None
    while n_iter < max_iter and float(abs(g).max()) > g_tol:
        n_iter += 1
        direction = _scaled_steepest(g) if h_inv is None else -(h_inv @ g)
        slope = float(g @ direction)
        if slope >= 0:  # lost positive definiteness: restart
            h_inv = None
            direction = _scaled_steepest(g)
            slope = float(g @ direction)
        accepted = _armijo(fun_grad, x, f, direction, slope)
        if accepted is None:
            break
        x_new, f_new, g_new, evals = accepted
        n_eval += evals
        s_vec, y_vec = x_new - x, g_new - g
        sy = float(s_vec @ y_vec)
        if sy > 1e-10:
            if h_inv is None:
                h_inv = xp.diag(x * 0.0 + sy / float(y_vec @ y_vec))
            hy = h_inv @ y_vec
            rho = 1.0 / sy
            h_inv += (rho * (1.0 + rho * float(y_vec @ hy))) * xp.outer(s_vec, s_vec)
            h_inv -= rho * (xp.outer(s_vec, hy) + xp.outer(hy, s_vec))
        converged = n_iter > 1 and f - f_new <= tol * max(abs(f), abs(f_new))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return MinimizeResult(x=x, loss=f, n_iter=n_iter, n_eval=n_eval)


def _adam(
    fun_grad: Callable[[Vector], FunGrad],
    x: Vector,
    max_iter: int,
    tol: float,
    learning_rate: float,
) -> MinimizeResult:
    """Plain Adam steps; stops when the loss changes by < tol over 10 steps."""
    m1 = x * 0.0
    m2 = x * 0.0
    previous = math.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        f, g = fun_grad(x)
        m1 += 0.1 * (g - m1)
        m2 += 0.001 * (g * g - m2)
        m1_hat = m1 / (1 - 0.9**n_iter)
        m2_hat = m2 / (1 - 0.999**n_iter)
        x = x - learning_rate * m1_hat / (m2_hat**0.5 + 1e-8)
        if n_iter % 10 == 0:
            if math.isfinite(previous) and abs(previous - f) <= tol * max(
                abs(previous), 1e-12
            ):
                break
            previous = f
    f, _ = fun_grad(x)
    return MinimizeResult(x=x, loss=f, n_iter=n_iter, n_eval=n_iter + 1)


def minimize(
    fun: Callable[[Any], Any],
    x0: Vector,
    *,
    jac: bool = False,
    method: Literal["bfgs", "lbfgs", "adam"] = "lbfgs",
    max_iter: int = 50,
    tol: float = 1e-6,
    learning_rate: float = 1e-2,
    history_size: int = 6,
) -> MinimizeResult:
    """Minimise a small full-batch objective of a flat parameter vector.

    The boosted NN fits each step's hidden units with it. Written for many small
    problems: dense BFGS (a few hundred parameters at most: its inverse
    Hessian is stored), a lean L-BFGS (both with Armijo backtracking and no
    ``torch.optim`` machinery) or plain Adam. It works on torch tensors (any
    device) and on NumPy arrays alike (with ``jac=True``), and is deterministic
    given ``x0``.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> loss`` (a scalar tensor, differentiated by autograd) or,
        with ``jac=True``, ``fun(x) -> (loss, gradient)`` with ``loss`` a float
        and ``gradient`` an array shaped like ``x``.
    x0 : Tensor or ndarray of shape (n_params,)
        Starting point (not modified).
    jac : bool, default=False
        Whether ``fun`` returns its gradient (required for NumPy arrays).
    method : {"bfgs", "lbfgs", "adam"}, default="lbfgs"
        Optimiser.
    max_iter : int, default=50
        Iteration cap.
    tol : float, default=1e-6
        Stop when the largest gradient entry falls below ``tol`` times its
        initial value, or the relative decrease of the loss in an iteration is
        below ``tol`` (Adam: over 10 steps).
    learning_rate : float, default=1e-2
        Adam step size (the quasi-Newton methods use their line search).
    history_size : int, default=6
        L-BFGS memory.

    Returns
    -------
    result : MinimizeResult

    Examples
    --------
    >>> import torch
    >>> from tabkit.training import minimize
    >>> target = torch.tensor([1.0, -2.0], dtype=torch.float64)
    >>> res = minimize(lambda w: ((w - target) ** 2).sum(),
    ...                torch.zeros(2, dtype=torch.float64))
    >>> [round(v, 4) for v in res.x.tolist()], res.loss < 1e-8
    ([1.0, -2.0], True)
    >>> import numpy as np
    >>> res = minimize(lambda w: (float(((w - 3) ** 2).sum()), 2 * (w - 3)),
    ...                np.zeros(3), jac=True, method="bfgs")
    >>> res.x.round(4).tolist()
    [3.0, 3.0, 3.0]
    """
    if not jac and isinstance(x0, np.ndarray):
        raise ValueError("NumPy starting points need jac=True (no autograd)")
    fun_grad = fun if jac else _with_autograd(fun)
    x = _copy(x0)
    if method == "lbfgs":
        return _lbfgs(fun_grad, x, max_iter, tol, history_size)
    if method == "bfgs":
        return _bfgs(fun_grad, x, max_iter, tol)
    if method == "adam":
        return _adam(fun_grad, x, max_iter, tol, learning_rate)
    raise ValueError(f"method must be 'bfgs', 'lbfgs' or 'adam', got {method!r}")
