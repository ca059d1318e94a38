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
from typing import Any, Literal

import torch
from torch import Tensor

from tabkit.nn.boosted import BoostedNetwork, activation_function
from tabkit.training._callbacks import EarlyStopping, LoopState
from tabkit.training._history import History
from tabkit.training._loop import run_loop
from tabkit.training.boosting._losses import BoostingLoss
from tabkit.training.boosting._units import fit_stage_units


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
    limit_name: str = "n_steps",
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
    limit_name : str, default="n_steps"
        The user-facing name of ``n_steps`` (the estimators pass
        ``"n_estimators"``), named in the warning given when it is reached while
        the validation loss still improves.

    Returns
    -------
    history : History
        One record per step.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn import BoostedNetwork
    >>> from tabkit.training.boosting import SquaredError, fit_boosting
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
        limit_name=limit_name,
    )
    network.truncate(network.n_steps)
    return history
