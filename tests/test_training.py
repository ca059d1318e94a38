"""The shared training loop: hooks, early stopping, budgets, callbacks, EMA."""

from __future__ import annotations

import json
import pickle
import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from tabkit.training import (
    BaseCallback,
    EarlyStopping,
    History,
    StopTraining,
    TensorBatches,
    WeightEMA,
    fit_module,
    make_parameter_groups,
    run_loop,
    warmup_cosine,
)
from tabkit.training.boosting import minimize


def _regression_problem(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1 * torch.randn(n, generator=g)
    return x, y


def _mse(module, batch):
    x, y = batch
    return ((module(x).squeeze(1) - y) ** 2).mean()


def _fit(module, x, y, **kwargs):
    kwargs.setdefault("max_epochs", 20)
    kwargs.setdefault("learning_rate", 0.05)
    return fit_module(
        module,
        _mse,
        TensorBatches(x, y, batch_size=32),
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )


def test_history_indexing_and_json_roundtrip():
    h = History([{"iteration": 1, "loss": 2.0}, {"iteration": 2, "loss": 1.0}])
    h.best_iteration, h.stop_reason = 2, "early_stopping"
    assert h[:, "loss"] == [2.0, 1.0]
    assert h[-1, "loss"] == 1.0
    back = History.from_json(h.to_json())
    assert back == h
    assert (back.best_iteration, back.stop_reason) == (2, "early_stopping")
    json.loads(h.to_json())
    restored = pickle.loads(pickle.dumps(h))
    assert restored == h and restored.best_iteration == 2


def test_early_stopping_stops_and_restores_best_weights():
    # Evaluation scores are scripted: best at epoch 3, then worse.
    scores = iter([5.0, 4.0, 1.0, 3.0, 3.5, 3.6, 9.0, 9.0])
    snapshots = {}
    module = torch.nn.Linear(4, 1)
    x, y = _regression_problem()

    def evaluate(m):
        return {"val_loss": next(scores)}

    class Record(BaseCallback):
        def on_iteration_end(self, state):
            snapshots[state.iteration] = {
                k: v.clone() for k, v in state.module.state_dict().items()
            }

    hist = _fit(
        module,
        x,
        y,
        max_epochs=8,
        evaluate=evaluate,
        early_stopping=EarlyStopping(patience=3),
        callbacks=[Record()],
    )
    assert hist.stop_reason == "early_stopping"
    assert len(hist) == 6  # epochs 4, 5, 6 without improvement
    assert hist.best_iteration == 3
    for k, v in module.state_dict().items():
        torch.testing.assert_close(v, snapshots[3][k])
        assert not torch.equal(v, snapshots[6][k])


def test_early_stopping_waits_for_min_iterations():
    es = EarlyStopping(patience=1, min_iterations=4)
    for i, value in enumerate([1.0, 2.0, 3.0], start=1):
        es.update(value, i)
        assert not es.should_stop  # worse each time, but before iteration 4
    es.update(4.0, 4)
    assert es.should_stop and es.best_iteration == 1


def test_early_stopping_without_monitored_metric_is_an_error():
    x, y = _regression_problem()
    with pytest.raises(ValueError, match="monitors 'val_auc'"):
        _fit(
            torch.nn.Linear(4, 1),
            x,
            y,
            max_epochs=2,
            evaluate=lambda m: {"val_loss": 1.0},
            early_stopping=EarlyStopping("val_auc"),
        )


def test_max_epochs_while_improving_warns():
    x, y = _regression_problem()
    with pytest.warns(ConvergenceWarning, match="still improving"):
        _fit(
            torch.nn.Linear(4, 1),
            x,
            y,
            max_epochs=3,
            learning_rate=1e-3,
            evaluate=lambda m: {"val_loss": _mse(m, (x, y)).item()},
            early_stopping=EarlyStopping(patience=5),
        )


def test_time_budget_cuts_training_short_with_a_warning():
    def slow(state):
        time.sleep(0.02)
        return {"train_loss": 1.0}

    with pytest.warns(ConvergenceWarning, match="time_budget"):
        hist = run_loop(slow, max_iter=1000, time_budget=0.05)
    assert hist.stop_reason == "time_budget"
    assert 1 <= len(hist) < 20


@pytest.mark.parametrize("how", ["return", "raise", "flag"])
def test_epoch_callback_can_stop(how):
    class Stop(BaseCallback):
        def on_iteration_end(self, state):
            if state.iteration == 2:
                if how == "raise":
                    raise StopTraining
                if how == "flag":
                    state.stop = True
                    return None
                return True
            return None

    x, y = _regression_problem()
    hist = _fit(torch.nn.Linear(4, 1), x, y, callbacks=[Stop()])
    assert len(hist) == 2 and hist.stop_reason == "callback"


def test_batch_callback_sees_every_update_and_can_stop():
    seen = []

    class Batches(BaseCallback):
        def on_batch_end(self, state):
            seen.append(float(state.metrics["batch_loss"]))
            return state.n_updates == 6

    x, y = _regression_problem()  # 4 batches per epoch
    hist = _fit(torch.nn.Linear(4, 1), x, y, callbacks=[Batches()])
    assert len(seen) == 6
    assert len(hist) == 2 and hist.stop_reason == "callback"


def test_other_exceptions_propagate():
    class Pruned(Exception):
        pass

    class Prune(BaseCallback):
        def on_iteration_end(self, state):
            raise Pruned

    x, y = _regression_problem()
    with pytest.raises(Pruned):
        _fit(torch.nn.Linear(4, 1), x, y, callbacks=[Prune()])


def test_seeded_batches_are_reproducible_and_global_rng_untouched():
    x, y = _regression_problem()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    torch.manual_seed(0)
    a = torch.nn.Linear(4, 1)
    torch.manual_seed(0)
    b = torch.nn.Linear(4, 1)
    torch.set_rng_state(before)
    _fit(a, x, y, max_epochs=3)
    _fit(b, x, y, max_epochs=3)
    assert torch.equal(torch.get_rng_state(), before)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_eval_every_and_history_records():
    x, y = _regression_problem()
    hist = _fit(
        torch.nn.Linear(4, 1),
        x,
        y,
        max_epochs=5,
        eval_every=2,
        evaluate=lambda m: {"val_loss": _mse(m, (x, y)).item()},
    )
    assert [r.get("val_loss") is not None for r in hist] == [
        False,
        True,
        False,
        True,
        True,
    ]
    assert all({"iteration", "train_loss", "seconds"} <= set(r) for r in hist)
    assert hist[-1, "train_loss"] < hist[0, "train_loss"]


def test_warm_start_continues_numbering_and_optimizer_state():
    x, y = _regression_problem()
    module = torch.nn.Linear(4, 1)
    first = _fit(module, x, y, max_epochs=3)
    second = _fit(
        module,
        x,
        y,
        max_epochs=2,
        optimizer_state=first.optimizer_state,
        start_epoch=3,
    )
    assert second[:, "iteration"] == [4, 5]
    assert second[-1, "train_loss"] < first[0, "train_loss"]


def test_ema_weights_are_kept():
    x, y = _regression_problem()
    module = torch.nn.Linear(4, 1)
    torch.manual_seed(0)
    reference = torch.nn.Linear(4, 1)
    reference.load_state_dict(module.state_dict())
    hist_plain = _fit(reference, x, y, max_epochs=5)
    hist_ema = _fit(module, x, y, max_epochs=5, ema_decay=0.9)
    # Same trajectory (same seed) but the EMA model keeps averaged weights.
    assert hist_plain[:, "train_loss"] == hist_ema[:, "train_loss"]
    assert not torch.equal(module.weight, reference.weight)


def test_weight_ema_swap_is_an_involution():
    module = torch.nn.Linear(2, 1)
    ema = WeightEMA(module, 0.5)
    original = module.weight.detach().clone()
    with torch.no_grad():
        module.weight.add_(1.0)
    ema.update()
    ema.swap()
    torch.testing.assert_close(module.weight, original + 0.5)
    ema.swap()
    torch.testing.assert_close(module.weight, original + 1.0)


def test_gradient_clipping_bounds_the_update():
    x, y = _regression_problem()
    y = y * 1e4
    module = torch.nn.Linear(4, 1)
    start = module.weight.detach().clone()
    _fit(
        module,
        x[:32],
        y[:32],
        max_epochs=1,
        learning_rate=0.1,
        grad_clip=1e-3,
        optimizer=lambda groups, lr: torch.optim.SGD(groups, lr=lr),
    )
    assert float((module.weight - start).detach().norm()) <= 0.1 * 1e-3 + 1e-7


def test_non_finite_loss_raises():
    x, y = _regression_problem()
    y = y.clone()
    y[0] = float("nan")
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        _fit(torch.nn.Linear(4, 1), x, y, max_epochs=1)


def test_parameter_groups_exclude_bias_norm_and_embeddings():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.lin = torch.nn.Linear(3, 3)
            self.norm = torch.nn.LayerNorm(3)
            self.scale = torch.nn.Parameter(torch.ones(2, 3))
            self.no_weight_decay = {"scale"}

    net = Net()
    groups = make_parameter_groups(net, 0.1)
    decayed = {id(p) for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 0.1
    assert decayed == {id(net.lin.weight)}
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))


def test_warmup_cosine_schedule_shape():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    sched = warmup_cosine(warmup=0.1, final_factor=0.1)(opt, 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == 0.0
    assert max(lrs) == pytest.approx(2.0)
    assert lrs[-1] == pytest.approx(0.2)
    assert np.all(np.diff(lrs[10:]) <= 1e-12)


@pytest.mark.parametrize("method", ["lbfgs", "adam"])
def test_minimize_finds_the_minimum(method):
    a = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    b = torch.tensor([1.0, -1.0], dtype=torch.float64)
    solution = torch.linalg.solve(a, b)

    def fun(x):
        return 0.5 * x @ a @ x - b @ x

    kwargs = {"learning_rate": 0.05, "max_iter": 5000, "tol": 1e-12}
    kwargs = kwargs if method == "adam" else {}
    res = minimize(fun, torch.zeros(2, dtype=torch.float64), method=method, **kwargs)
    torch.testing.assert_close(res.x, solution, atol=1e-4, rtol=0)


def test_minimize_with_analytic_gradient():
    calls = []

    def fun_grad(x):
        calls.append(1)
        return float(((x - 3.0) ** 2).sum()), 2 * (x - 3.0)

    res = minimize(fun_grad, torch.zeros(3, dtype=torch.float64), jac=True)
    torch.testing.assert_close(res.x, torch.full((3,), 3.0, dtype=torch.float64))
    assert res.n_eval == len(calls)


def test_tensor_batches_cover_every_row_once_per_epoch():
    batches = TensorBatches(torch.arange(10), batch_size=3)
    g = torch.Generator().manual_seed(0)
    rows = torch.cat([b[0] for b in batches(g)])
    assert sorted(rows.tolist()) == list(range(10))
    assert len(batches) == 4
    dropped = TensorBatches(torch.arange(10), batch_size=3, drop_last=True)
    assert len(dropped) == 3 and len(list(dropped(g))) == 3
    with pytest.raises(ValueError, match="same number of rows"):
        TensorBatches(torch.arange(3), torch.arange(4), batch_size=2)


def test_early_stopping_tracker():
    es = EarlyStopping("val_score", mode="max", patience=2, tol=0.1)
    assert es.update(0.5, 1)
    assert not es.update(0.55, 2)  # below tol
    assert es.update(0.7, 3)
    assert not es.update(float("nan"), 4)
    assert not es.should_stop
    assert not es.update(0.7, 5)
    assert es.should_stop and es.best_iteration == 3
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_run_loop_without_warnings_when_converged():
    values = iter([3.0, 2.0, 2.5, 2.6])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = run_loop(
            lambda s: {"val_loss": next(values)},
            max_iter=4,
            early_stopping=EarlyStopping(patience=2),
        )
    assert hist.stop_reason == "early_stopping"
