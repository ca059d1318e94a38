"""The mini-batch estimator base, pinned by a test-only MLP (tests/minibatch_mlp.py)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from minibatch_mlp import TinyMLPClassifier, TinyMLPRegressor
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from tabkit.training import BaseCallback

FAST = {"max_epochs": 5, "batch_size": 16, "random_state": 0}
_WEIGHTS_REASON = (
    "mini-batch SGD is not invariant to repeating rows (batches differ); "
    "covered by test_sample_weight_zero_equals_dropping_rows"
)


@parametrize_with_checks(
    [TinyMLPClassifier(**FAST), TinyMLPRegressor(**FAST)],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS_REASON
    },
)
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [TinyMLPClassifier, TinyMLPRegressor])
def test_param_validation_and_column_names(cls):
    check_param_validation(cls.__name__, cls(**FAST))
    check_dataframe_column_names_consistency(cls.__name__, cls(**FAST))


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "kind": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        }
    )
    X.loc[rng.random(n) < 0.1, "a"] = np.nan
    logit = 2 * X["b"].to_numpy() + (X["kind"] == "z").to_numpy() * 2 - 1
    y = (logit + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return X, y


def test_learns_through_categorical_embeddings(frame):
    X, y = frame
    clf = TinyMLPClassifier(max_epochs=30, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.85
    # "kind" reaches the network as codes through an embedding (blocks view)
    assert clf.module_.embeddings[0].num_embeddings == 5


def test_early_stopping_restores_best_epoch(frame):
    X, y = frame
    clf = TinyMLPClassifier(
        max_epochs=200, learning_rate=0.05, n_iter_no_change=3, random_state=0
    ).fit(X.iloc[:400], y[:400], X_val=X.iloc[400:], y_val=y[400:])
    h = clf.history_
    assert h.stop_reason == "early_stopping"
    losses = h[:, "val_loss"]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    assert clf.n_iter_ == len(h) == clf.best_epoch_ + 3
    # the kept weights are the best epoch's: re-evaluating gives its val_loss
    proba = clf.predict_proba(X.iloc[400:])[:, 1]
    eps = 1e-7
    logloss = -np.mean(
        y[400:] * np.log(proba + eps) + (1 - y[400:]) * np.log(1 - proba + eps)
    )
    assert logloss == pytest.approx(min(losses), rel=1e-4)


def test_auto_early_stopping_uses_a_stratified_internal_split(frame):
    X, y = frame
    big_X, big_y = pd.concat([X, X], ignore_index=True), np.concatenate([y, y])
    clf = TinyMLPClassifier(max_epochs=3, random_state=0).fit(big_X, big_y)
    assert clf.history_.last("val_loss") is not None  # 1,200 rows: auto is on
    small = TinyMLPClassifier(max_epochs=3, random_state=0).fit(X, y)
    assert small.history_.last("val_loss") is None  # 600 rows: off


def test_max_epochs_warning_names_the_parameter(frame):
    X, y = frame
    with pytest.warns(ConvergenceWarning, match="max_epochs"):
        TinyMLPClassifier(max_epochs=2, learning_rate=1e-3, random_state=0).fit(
            X.iloc[:400], y[:400], X_val=X.iloc[400:], y_val=y[400:]
        )


def test_time_budget_and_callbacks(frame):
    X, y = frame

    class Stop(BaseCallback):
        def __init__(self):
            self.seen = []

        def on_iteration_end(self, state):
            self.seen.append((state.iteration, "val_loss" in state.metrics))
            return state.iteration == 2

    cb = Stop()
    clf = TinyMLPClassifier(max_epochs=50, random_state=0)
    clf.fit(X.iloc[:400], y[:400], X_val=X.iloc[400:], y_val=y[400:], callbacks=[cb])
    assert cb.seen == [(1, True), (2, True)]
    assert clf.history_.stop_reason == "callback"
    slow = TinyMLPClassifier(max_epochs=100_000, batch_size=1, time_budget=0.2)
    with pytest.warns(ConvergenceWarning, match="time_budget"):
        slow.fit(X, y)
    assert slow.history_.stop_reason == "time_budget"


def test_deterministic_and_global_rng_untouched(frame):
    X, y = frame
    torch.manual_seed(123)
    before = torch.get_rng_state()
    np_before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = TinyMLPClassifier(dropout=0.3, random_state=7).fit(X, y).predict_proba(X)
    assert torch.equal(torch.get_rng_state(), before)
    assert np.array_equal(np.random.get_state()[1], np_before)  # noqa: NPY002
    b = TinyMLPClassifier(dropout=0.3, random_state=7).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    c = TinyMLPClassifier(dropout=0.3, random_state=8).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, c)


def test_predictions_do_not_depend_on_batch_composition(frame):
    X, y = frame
    clf = TinyMLPClassifier(random_state=0).fit(X, y)
    full = clf.predict_proba(X)
    for rows in (
        np.arange(1),
        np.arange(7, 9),
        np.random.default_rng(1).permutation(600),
    ):
        np.testing.assert_array_equal(clf.predict_proba(X.iloc[rows]), full[rows])


def test_sample_weight_zero_equals_dropping_rows(frame):
    X, y = frame
    w = np.ones(len(y))
    w[::3] = 0.0
    kept = w > 0
    params = {
        "max_epochs": 4,
        "early_stopping": False,
        "random_state": 0,
        "batch_size": 1000,
    }
    a = TinyMLPRegressor(**params).fit(X, y, sample_weight=w)
    b = TinyMLPRegressor(**params).fit(X[kept], y[kept])
    # one full batch each: the same weighted mean loss, the same encoder (rows
    # of weight 0 are ignored at fit) and standardisation, so the same model
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-4, atol=1e-4)


def test_regression_targets_are_standardised(frame):
    X, _ = frame
    y = 1000 + 50 * X["b"].to_numpy()
    reg = TinyMLPRegressor(max_epochs=40, random_state=0).fit(X, y)
    assert reg._y_mean == pytest.approx(y.mean())
    assert reg.score(X, y) > 0.9


def test_warm_start_continues_training(frame):
    X, y = frame
    clf = TinyMLPClassifier(
        max_epochs=3, early_stopping=False, warm_start=True, random_state=0
    )
    clf.fit(X, y)
    first = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    encoder = clf._encoder
    clf.fit(X, y)
    assert clf.n_iter_ == 6
    assert clf.history_[:, "iteration"] == [1, 2, 3, 4, 5, 6]
    assert clf._encoder is encoder
    assert any(
        not torch.equal(first[k], v) for k, v in clf.module_.state_dict().items()
    )


class NoisyMLP(TinyMLPClassifier):
    """Adds seeded noise to training batches and records their sizes."""

    seen: list[int] = []

    def _augment(self, batch, generator):
        NoisyMLP.seen.append(batch.x_num.shape[0])
        noise = torch.randn(batch.x_num.shape, generator=generator)
        return batch._replace(x_num=batch.x_num + 0.01 * noise)


def test_clone_pickle_and_augment_hook(frame):
    X, y = frame
    NoisyMLP.seen.clear()
    clf = NoisyMLP(**FAST).fit(X, y)
    seen = NoisyMLP.seen
    assert seen
    assert max(seen) <= 16  # called on training batches only
    n_train_batches = len(seen)
    clf.predict(X)
    assert len(seen) == n_train_batches  # not at prediction time
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert clone(clf).get_params() == clf.get_params()
