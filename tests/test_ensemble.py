"""Greedy ensemble selection: out-of-fold selection, refits, frozen members, errors."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, ShuffleSplit
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tabkit import BoostedNNClassifier
from tabkit.ensemble import EnsembleClassifier, EnsembleRegressor, greedy_selection


class _Memorizer(ClassifierMixin, BaseEstimator):
    """Right on the rows it was fitted on, wrong on every other row.

    A selection on in-sample predictions would give it all the weight; on
    out-of-fold predictions it is always wrong.
    """

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.seen_ = {tuple(row): label for row, label in zip(X, y, strict=True)}
        return self

    def predict_proba(self, X):
        out = np.zeros((len(X), self.classes_.size))
        for i, row in enumerate(X):
            label = self.seen_.get(tuple(row))
            right = (
                np.searchsorted(self.classes_, label)
                if label is not None
                else self._wrong(row)
            )
            out[i, right] = 1.0
        return out

    def _wrong(self, row):
        # An unseen row: the opposite of the rule that labels _cheat_data.
        return 1 - int(row[-1] > 0)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _cheat_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, -1] > 0).astype(int)


def test_greedy_selection_matches_brute_force():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    preds = [y + rng.normal(scale=s, size=50) for s in (0.5, 0.7, 1.0, 2.0)]

    def mse(t, p, w):
        return float(np.average((p - t) ** 2, weights=w))

    counts, trajectory = greedy_selection(preds, y, mse, 6)
    assert counts.sum() == 6
    assert trajectory[0] == pytest.approx(min(mse(y, p, None) for p in preds))
    # Replay: each step's pick is the best extension of the previous counts.
    replay = np.zeros(4, dtype=int)
    for k in range(6):
        options = []
        for m in range(4):
            c = replay.copy()
            c[m] += 1
            avg = sum(ci * p for ci, p in zip(c, preds, strict=True)) / (k + 1)
            options.append(mse(y, avg, None))
        replay[int(np.argmin(options))] += 1
        assert trajectory[k] == pytest.approx(min(options))
    np.testing.assert_array_equal(counts, replay)


def test_selection_uses_out_of_fold_predictions():
    X, y = _cheat_data()
    ens = EnsembleClassifier(
        [("cheat", _Memorizer()), ("linear", LogisticRegression())],
        metric="accuracy",
        n_iterations=10,
        cv=KFold(4, shuffle=True, random_state=0),
    ).fit(X, y)
    # Every selection row was predicted by a memorizer that never saw it.
    assert ens.selection_scores_["cheat"] == 0.0
    assert ens.selection_scores_["linear"] > 0.8
    np.testing.assert_array_equal(ens.weights_, [0.0, 1.0])
    assert list(ens.named_estimators_) == ["linear"]


def test_ensemble_beats_or_ties_members_out_of_fold_and_refits_all_rows():
    X, y = make_classification(
        n_samples=400, n_features=10, n_informative=6, random_state=0
    )
    members = [
        ("linear", make_pipeline(StandardScaler(), LogisticRegression())),
        ("bayes", GaussianNB()),
        ("tree", DecisionTreeClassifier(max_depth=4, random_state=0)),
    ]
    ens = EnsembleClassifier(members, n_iterations=20, cv=4).fit(X, y)
    assert ens.selection_score_ <= min(ens.selection_scores_.values()) + 1e-12
    assert ens.n_selection_rows_ == 400
    assert ens.weights_.sum() == pytest.approx(1.0)
    assert np.all(ens.weights_ * 20 == np.round(ens.weights_ * 20))
    for name, est in ens.named_estimators_.items():
        assert est is not dict(members)[name]  # cloned, the user's untouched
        assert getattr(est, "n_features_in_", 10) == 10
    # The refit members saw every row: their predictions equal a fresh fit.
    proba = ens.predict_proba(X)
    expected = sum(
        w * clone(est).fit(X, y).predict_proba(X)
        for (_, est), w in zip(members, ens.weights_, strict=True)
        if w > 0
    )
    np.testing.assert_allclose(proba, expected)
    np.testing.assert_array_equal(ens.predict(X), ens.classes_[proba.argmax(1)])


def test_rows_outside_every_test_fold_are_not_selection_rows():
    X, y = make_regression(n_samples=100, n_features=5, noise=5.0, random_state=0)
    ens = EnsembleRegressor(
        [("linear", LinearRegression()), ("tree", DecisionTreeRegressor(max_depth=2))],
        cv=ShuffleSplit(n_splits=1, test_size=0.3, random_state=0),
    ).fit(X, y)
    assert ens.n_selection_rows_ == 30
    assert ens.weights_[0] == 1.0


def test_frozen_members_are_used_as_given_and_never_refit():
    X, y = make_classification(n_samples=300, n_features=6, random_state=1)
    prefit = LogisticRegression().fit(X[:150], y[:150])
    coef = prefit.coef_.copy()
    ens = EnsembleClassifier(
        [("prefit", FrozenEstimator(prefit)), ("tree", DecisionTreeClassifier())],
        cv=3,
    ).fit(X[150:], y[150:])
    assert ens.weights_[0] > 0
    frozen = ens.named_estimators_["prefit"]
    assert isinstance(frozen, FrozenEstimator) and frozen.estimator is prefit
    np.testing.assert_array_equal(prefit.coef_, coef)
    # Its selection score is its plain score on the rows given to fit.
    expected = log_loss(y[150:], prefit.predict_proba(X[150:]))
    assert ens.selection_scores_["prefit"] == pytest.approx(expected)


def test_fitted_but_not_frozen_members_are_cloned():
    X, y = make_classification(n_samples=120, random_state=0)
    prefit = LogisticRegression().fit(X[:60], y[:60])
    coef = prefit.coef_.copy()
    ens = EnsembleClassifier([("a", prefit), ("b", GaussianNB())], cv=3).fit(X, y)
    np.testing.assert_array_equal(prefit.coef_, coef)
    if "a" in ens.named_estimators_:
        assert ens.named_estimators_["a"] is not prefit


def test_sample_weight_equals_repetition_with_frozen_members():
    X, y = make_classification(n_samples=200, n_features=6, random_state=2)
    members = [
        ("linear", FrozenEstimator(LogisticRegression(C=0.01).fit(X[:100], y[:100]))),
        ("bayes", FrozenEstimator(GaussianNB().fit(X[:100], y[:100]))),
        ("tree", FrozenEstimator(DecisionTreeClassifier(max_depth=2).fit(X, y))),
    ]
    rng = np.random.default_rng(0)
    reps = rng.integers(0, 4, size=100)
    Xs, ys = X[100:], y[100:]
    weighted = EnsembleClassifier(members, cv=2, n_iterations=15).fit(
        Xs, ys, sample_weight=reps
    )
    repeated = EnsembleClassifier(members, cv=2, n_iterations=15).fit(
        np.repeat(Xs, reps, axis=0), np.repeat(ys, reps)
    )
    np.testing.assert_array_equal(weighted.weights_, repeated.weights_)
    for name in weighted.selection_scores_:
        assert weighted.selection_scores_[name] == pytest.approx(
            repeated.selection_scores_[name]
        )


def test_sample_weight_reaches_members():
    X, y = make_classification(n_samples=150, random_state=3)
    w = np.where(y == 1, 5.0, 1.0)
    ens = EnsembleClassifier(
        [("linear", LogisticRegression()), ("bayes", GaussianNB())], cv=3
    ).fit(X, y, sample_weight=w)
    for name, est in ens.named_estimators_.items():
        ref = clone(dict(ens.estimators)[name]).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X))


def test_member_missing_a_class_in_a_fold_is_aligned():
    X = np.arange(60, dtype=float).reshape(-1, 1)
    y = np.array([0, 1] * 28 + [2] * 4)
    # The first split trains without class 2.
    train, test = np.arange(40), np.arange(40, 60)
    cv = [(train, test), (test, train)]
    ens = EnsembleClassifier(
        [("bayes", GaussianNB()), ("tree", DecisionTreeClassifier(max_depth=3))],
        cv=cv,
    ).fit(X, y)
    assert ens.predict_proba(X).shape == (60, 3)
    np.testing.assert_allclose(ens.predict_proba(X).sum(axis=1), 1.0)


@pytest.mark.parametrize("metric", ["log_loss", "roc_auc", "accuracy", "brier"])
def test_classifier_metrics_multiclass(metric):
    X, y = make_classification(
        n_samples=240, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    ens = EnsembleClassifier(
        [("linear", LogisticRegression()), ("bayes", GaussianNB())],
        metric=metric,
        n_iterations=8,
        cv=3,
    ).fit(X, y)
    scores = list(ens.selection_scores_.values())
    best = max(scores) if metric in ("roc_auc", "accuracy") else min(scores)
    if metric in ("roc_auc", "accuracy"):
        assert ens.selection_score_ >= best - 1e-12
    else:
        assert ens.selection_score_ <= best + 1e-12


def test_callable_metric_and_mae():
    X, y = make_regression(n_samples=150, n_features=4, noise=10.0, random_state=0)

    def max_error(y_true, y_pred, sample_weight=None):
        return float(np.max(np.abs(y_true - y_pred)))

    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))]
    for metric in (max_error, "mae", "rmse"):
        ens = EnsembleRegressor(members, metric=metric, n_iterations=6, cv=3)
        ens.fit(X, y)
        assert ens.selection_score_ <= min(ens.selection_scores_.values()) + 1e-9


def test_mixed_dataframe_with_tabkit_member_in_grid_search():
    rng = np.random.default_rng(0)
    n = 160
    df = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "cat": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
            "gap": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        }
    )
    y = np.where((df["num"] > 0) ^ (df["cat"] == "a"), "yes", "no")
    ens = EnsembleClassifier(
        [
            (
                "boosted",
                BoostedNNClassifier(n_estimators=5, units_per_step=2, random_state=0),
            ),
            (
                "hgb",
                HistGradientBoostingClassifier(
                    max_iter=20, categorical_features="from_dtype", random_state=0
                ),
            ),
        ],
        n_iterations=5,
        cv=2,
    )
    search = GridSearchCV(ens, {"hgb__max_depth": [2, 3]}, cv=2).fit(df, y)
    best = search.best_estimator_
    assert set(best.classes_) == {"no", "yes"}
    np.testing.assert_array_equal(best.feature_names_in_, df.columns)
    assert search.predict(df.head(3)).shape == (3,)
    assert df["gap"].isna().sum() > 0  # the caller's frame is untouched
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_allclose(restored.predict_proba(df), best.predict_proba(df))


def test_params_are_nested_and_settable():
    ens = EnsembleClassifier([("lin", LogisticRegression()), ("nb", GaussianNB())])
    params = ens.get_params()
    assert params["lin__C"] == 1.0 and params["metric"] == "log_loss"
    ens.set_params(lin__C=0.5, nb=DecisionTreeClassifier())
    assert ens.estimators[0][1].C == 0.5
    assert isinstance(ens.estimators[1][1], DecisionTreeClassifier)
    assert clone(ens).get_params()["lin__C"] == 0.5


@pytest.mark.parametrize(
    ("estimators", "error", "match"),
    [
        ([], ValueError, "non-empty"),
        ([("a", LogisticRegression()), ("a", GaussianNB())], ValueError, "unique"),
        ([("svc", SVC())], TypeError, r"member 'svc' \(SVC\) has no predict_proba"),
        (
            [("ridge", Ridge())],
            TypeError,
            r"member 'ridge' \(Ridge\) is a regressor, not a classifier",
        ),
        ([LogisticRegression()], ValueError, r"\(name, estimator\) pairs"),
    ],
)
def test_bad_members_are_named(estimators, error, match):
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.raises(error, match=match):
        EnsembleClassifier(estimators, cv=2).fit(X, y)


def test_sample_weight_for_a_member_without_it_is_named():
    X, y = make_classification(n_samples=60, random_state=0)
    ens = EnsembleClassifier(
        [("knn", KNeighborsClassifier()), ("lin", LogisticRegression())], cv=2
    )
    with pytest.raises(ValueError, match=r"member 'knn' \(KNeighborsClassifier\)"):
        ens.fit(X, y, sample_weight=np.ones(60))


def test_frozen_member_with_a_class_not_in_y_is_an_error():
    X, y = make_classification(
        n_samples=90, n_classes=3, n_informative=4, random_state=0
    )
    frozen = FrozenEstimator(LogisticRegression().fit(X, y))
    keep = y < 2
    with pytest.raises(ValueError, match=r"predicts classes \[2\] that are not in y"):
        EnsembleClassifier([("f", frozen)], cv=2).fit(X[keep], y[keep])


def test_one_class_is_an_error():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="at least 2 classes"):
        EnsembleClassifier([("nb", GaussianNB())], cv=2).fit(X, np.ones(10))


def test_predictions_repeat_exactly():
    X, y = make_classification(n_samples=150, random_state=4)
    members = [
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
        ("lin", LogisticRegression()),
    ]
    runs = [
        EnsembleClassifier(members, cv=3, n_jobs=n_jobs).fit(X, y).predict_proba(X)
        for n_jobs in (None, 2)
    ]
    for a, b in itertools.pairwise(runs):
        np.testing.assert_array_equal(a, b)


def test_a_failing_member_is_named_in_the_error():
    frame = pd.DataFrame({"word": ["x", "y"] * 30, "num": np.arange(60.0)})
    y = np.arange(60) % 2
    ens = EnsembleClassifier(
        [
            ("boosted", BoostedNNClassifier(n_estimators=3, units_per_step=2)),
            ("lr", LogisticRegression()),
        ],
        cv=2,
    )
    with pytest.raises(ValueError, match="could not convert string") as info:
        ens.fit(frame, y)
    assert "in ensemble member 'lr', LogisticRegression" in info.value.__notes__[0]


def test_a_member_with_too_many_outputs_is_an_error():
    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    two = DecisionTreeRegressor(max_depth=2).fit(X, np.column_stack([y, y]))
    ens = EnsembleRegressor([("two", FrozenEstimator(two))], cv=2)
    with pytest.raises(ValueError, match="predicts 2 outputs per row, but y has one"):
        ens.fit(X, y)
