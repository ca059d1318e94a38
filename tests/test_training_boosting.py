"""Gradient boosting of hidden units: losses, line searches, the procedure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from tabkit.nn import BoostedNetwork
from tabkit.training import EarlyStopping
from tabkit.training.boosting import (
    BinomialDeviance,
    Huber,
    MultinomialDeviance,
    SquaredError,
    fit_boosting,
    fit_stage_units,
)

DT = torch.float64


def _losses():
    g = torch.Generator().manual_seed(0)
    n = 200
    y_reg = torch.randn(n, 1, generator=g, dtype=DT)
    y_reg[:5] += 50  # outliers for Huber
    y_bin = (torch.rand(n, 1, generator=g, dtype=DT) < 0.3).to(DT)
    y_multi = torch.eye(4, dtype=DT)[torch.randint(4, (n,), generator=g)]
    return [
        (SquaredError(), y_reg),
        (Huber(0.8), y_reg),
        (BinomialDeviance(), y_bin),
        (MultinomialDeviance(4), y_multi),
    ]


@pytest.mark.parametrize(("loss", "y"), _losses(), ids=lambda v: type(v).__name__)
def test_initial_constant_minimises_the_loss(loss, y):
    w = torch.rand(len(y), dtype=DT) + 0.5
    init = loss.init(y, w)
    raw = init.expand(len(y), -1).clone()  # Huber keeps the delta of init
    base = float(loss.loss(y, raw, w))
    for k in range(y.shape[1]):
        for eps in (1e-3, -1e-3):
            moved = raw.clone()
            moved[:, k] += eps
            assert float(loss.loss(y, moved, w)) >= base - 1e-9


@pytest.mark.parametrize(("loss", "y"), _losses(), ids=lambda v: type(v).__name__)
def test_line_search_never_increases_the_loss(loss, y):
    g = torch.Generator().manual_seed(1)
    w = torch.ones(len(y), dtype=DT)
    raw = loss.init(y, w).expand(len(y), -1).clone()
    for scale in (1e-3, 1.0, 1e3):
        h = scale * torch.randn(y.shape, generator=g, dtype=DT)
        loss.negative_gradient(y, raw)
        before = float(loss.loss(y, raw, w))
        rho = loss.line_search(y, raw, h, w)
        assert np.isfinite(rho)
        assert float(loss.loss(y, raw + rho * h, w)) <= before + 1e-12


def test_line_search_matches_brute_force_minimum():
    g = torch.Generator().manual_seed(2)
    y = torch.eye(3, dtype=DT)[torch.randint(3, (300,), generator=g)]
    raw = torch.randn(300, 3, generator=g, dtype=DT)
    h = torch.randn(300, 3, generator=g, dtype=DT)
    w = torch.ones(300, dtype=DT)
    loss = MultinomialDeviance(3)
    rho = loss.line_search(y, raw, h, w)
    grid = torch.linspace(rho - 0.5, rho + 0.5, 2001, dtype=DT)
    values = torch.stack([loss.loss(y, raw + r * h, w) for r in grid])
    assert float(loss.loss(y, raw + rho * h, w)) <= float(values.min()) + 1e-10


def test_stage_units_fit_the_residuals():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=g)
    r = torch.cat([torch.tanh(2 * x[:, :1] - 1), torch.tanh(-x[:, 1:2])], dim=1)
    stage = fit_stage_units(
        x,
        r,
        torch.ones(500),
        units=2,
        activation="tanh",
        alpha=0.0,
        max_iter=100,
        tol=1e-9,
        solver="lbfgs",
        n_candidates=64,
        generator=g,
    )
    err = stage.predict(x, torch.tanh) - r
    assert float((err**2).mean()) < 1e-3 * float((r**2).mean())


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
@pytest.mark.parametrize("solver", ["bfgs", "lbfgs", "adam"])
def test_numpy_and_torch_unit_fits_agree(monkeypatch, activation, solver):
    """The CPU (NumPy) and device (torch) paths of the unit fit are one algorithm."""
    from tabkit.training.boosting import _units

    g = torch.Generator().manual_seed(0)
    x = torch.randn(700, 5, generator=g, dtype=DT)
    r = torch.cat([torch.sin(x[:, :1]), x[:, 1:2] ** 2], dim=1)
    w = torch.rand(700, generator=g, dtype=DT) + 0.5
    fits = {}
    for numpy_on_cpu in (True, False):
        monkeypatch.setattr(_units, "NUMPY_ON_CPU", numpy_on_cpu)
        fits[numpy_on_cpu] = fit_stage_units(
            x,
            r,
            w / w.mean(),
            units=3,
            activation=activation,
            alpha=1e-4,
            max_iter=10,
            tol=1e-9,
            solver=solver,
            n_candidates=16,
            generator=torch.Generator().manual_seed(1),
        )
    for field in ("weight", "bias", "out_weight", "out_bias"):
        numpy_fit, torch_fit = getattr(fits[True], field), getattr(fits[False], field)
        torch.testing.assert_close(numpy_fit, torch_fit, atol=1e-6, rtol=1e-6)


def _digits():
    X, y = load_digits(return_X_y=True)
    x = torch.tensor((X - X.mean(0)) / (X.std(0) + 1e-9), dtype=torch.float32)
    return x[:1000], torch.eye(10)[torch.tensor(y[:1000])]


def test_multiclass_with_learning_rate_one_is_stable():
    """The reference's default (eta=1) diverges to NaN on digits (its bug B2)."""
    x, y = _digits()
    net = BoostedNetwork(64, 10, units_per_step=1, max_steps=60)
    hist = fit_boosting(
        net,
        MultinomialDeviance(10),
        x,
        y,
        n_steps=60,
        learning_rate=1.0,
        subsample=0.5,
        generator=torch.Generator().manual_seed(0),
    )
    losses = np.array(hist[:, "train_loss"])
    assert np.isfinite(losses).all()
    assert np.all(np.diff(losses) <= 1e-6)
    assert losses[-1] < 0.3 * losses[0]
    assert all(np.isfinite(v) for v in hist[:, "step_size"])


def test_training_state_is_the_assembled_network():
    """The scores tracked during boosting equal the network's outputs."""
    x, y = _digits()
    raws = []

    class Capture:
        def on_iteration_end(self, state):
            raws.append(state.module(x).detach().clone())

    net = BoostedNetwork(64, 10, units_per_step=2, max_steps=5)
    fit_boosting(
        net,
        MultinomialDeviance(10),
        x,
        y,
        n_steps=5,
        callbacks=[Capture()],
        generator=torch.Generator().manual_seed(0),
    )
    staged = net.staged_forward(x)
    for t, raw in enumerate(raws):
        torch.testing.assert_close(staged[t], raw, atol=1e-5, rtol=1e-5)


def test_early_stopping_truncates_to_the_best_step_and_reports_scores():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=g)
    y = (x[:, :1] + 0.8 * torch.randn(300, 1, generator=g) > 0).float()
    seen = []

    class Report:
        def on_iteration_end(self, state):
            seen.append((state.iteration, state.metrics["val_loss"]))

    net = BoostedNetwork(2, 1, units_per_step=8, max_steps=200)
    hist = fit_boosting(
        net,
        BinomialDeviance(),
        x[:150],
        y[:150],
        n_steps=200,
        learning_rate=1.0,
        validation=(x[150:], y[150:], None),
        score=lambda yv, raw: float(((raw > 0).float() == yv).float().mean()),
        early_stopping=EarlyStopping(patience=5),
        callbacks=[Report()],
        generator=g,
    )
    assert hist.stop_reason == "early_stopping"
    best = min(seen, key=lambda item: item[1])[0]
    assert net.n_steps == best == hist.best_iteration
    assert all("val_score" in r for r in hist)


def test_reproducible_with_the_same_generator():
    x, y = _digits()

    def fit():
        net = BoostedNetwork(64, 10, units_per_step=2, max_steps=5)
        fit_boosting(
            net,
            MultinomialDeviance(10),
            x,
            y,
            n_steps=5,
            subsample=0.3,
            generator=torch.Generator().manual_seed(7),
        )
        return net(x)

    torch.testing.assert_close(fit(), fit(), rtol=0, atol=0)


def test_huber_is_robust_to_outliers():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 1, generator=g)
    y = torch.sin(2 * x)
    y_dirty = y.clone()
    y_dirty[:20] += 30
    errors = {}
    for loss in (SquaredError(), Huber(0.9)):
        net = BoostedNetwork(1, 1, units_per_step=4, max_steps=40)
        fit_boosting(net, loss, x, y_dirty, n_steps=40, learning_rate=0.3, generator=g)
        errors[type(loss).__name__] = float(((net(x) - y)[20:] ** 2).mean())
    assert errors["Huber"] < 0.5 * errors["SquaredError"]
