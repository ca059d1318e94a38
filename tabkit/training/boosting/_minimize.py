# SPDX-License-Identifier: BSD-3-Clause
"""Full-batch minimisation (dense BFGS, L-BFGS, Adam) on torch or NumPy vectors.

The small optimiser behind every boosting step's unit fit; one algorithm for NumPy
arrays (CPUs) and torch tensors (GPUs), so both paths give the same iterates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

#: ``(loss value, gradient)`` returned by objectives with ``jac=True``.
FunGrad = tuple[float, Any]

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
    >>> from tabkit.training.boosting import minimize
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
