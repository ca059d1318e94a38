"""ExcelFormerClassifier / ExcelFormerRegressor (the estimators; the module is
tested in tests/test_nn_excelformer.py)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.metrics import roc_auc_score

from tabkit import ExcelFormerClassifier, ExcelFormerRegressor
from tabkit.estimators import _excelformer

FAST = {
    "d_token": 8,
    "n_blocks": 1,
    "n_heads": 2,
    "max_epochs": 8,
    "batch_size": 64,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def signal():
    """Binary target from x0 (strong), x1 (weak); x2, x3 noise; a category."""
    rng = np.random.default_rng(0)
    n = 800
    X = pd.DataFrame(
        {
            "noise_a": rng.normal(size=n),
            "weak": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "strong": rng.normal(size=n),
            "kind": pd.Categorical(rng.choice(["p", "q", "r"], n)),
        }
    )
    logit = 3 * X["strong"] + 0.7 * X["weak"] + (X["kind"] == "r") * 1.5
    y = (logit + rng.logistic(size=n) > 0).astype(int).to_numpy()
    return X, y


def test_features_are_ordered_by_mutual_information(signal):
    X, y = signal
    clf = ExcelFormerClassifier(**FAST).fit(X, y)
    assert clf.feature_names_[0] == "strong"
    assert clf.feature_names_.index("weak") < clf.feature_names_.index("noise_a")
    mi = clf.mi_scores_[clf.feature_order_]
    assert np.all(np.diff(mi) <= 0)
    imp = pd.Series(clf.feature_importances_, index=X.columns)
    assert imp.sum() == pytest.approx(1.0)
    assert imp.idxmax() == "strong"


def test_column_order_does_not_matter(signal):
    X, y = signal
    a = ExcelFormerClassifier(**FAST).fit(X, y)
    b = ExcelFormerClassifier(**FAST).fit(X[X.columns[::-1]], y)
    assert a.feature_names_[:2] == b.feature_names_[:2]
    pa, pb = a.predict_proba(X)[:, 1], b.predict_proba(X[X.columns[::-1]])[:, 1]
    assert np.corrcoef(pa, pb)[0, 1] > 0.95


@pytest.mark.parametrize("mix_type", ["feat_mix", "hidden_mix", "none"])
def test_every_mix_type_learns(signal, mix_type):
    X, y = signal
    clf = ExcelFormerClassifier(**{**FAST, "max_epochs": 30}, mix_type=mix_type)
    clf.fit(X.iloc[:600], y[:600])
    auc = roc_auc_score(y[600:], clf.predict_proba(X.iloc[600:])[:, 1])
    assert auc > 0.85


def test_mixed_loss_reduces_to_the_plain_loss_when_nothing_is_swapped(
    signal, monkeypatch
):
    X, y = signal
    clf = ExcelFormerClassifier(**FAST, mix_type="feat_mix").fit(X, y)
    batch = clf._inputs(
        clf._validate_inputs(X.iloc[:50], reset=False), torch.device("cpu")
    )
    batch = clf._attach_targets(batch, y[:50], np.linspace(0.5, 2, 50))
    clf.module_.eval()

    def no_swap(z, weights, beta, generator):
        return (
            z,
            torch.ones(z.shape[0]),
            torch.randperm(z.shape[0], generator=generator),
        )

    monkeypatch.setattr(_excelformer, "feat_mix", no_swap)
    g = torch.Generator().manual_seed(0)
    mixed = clf._loss(batch, g)
    clf.mix_type = "none"
    plain = clf._loss(batch, g)
    assert mixed.item() == pytest.approx(plain.item(), rel=1e-6)

    def full_swap(z, weights, beta, generator):
        perm = torch.arange(z.shape[0]).flip(0)
        return z[perm], torch.zeros(z.shape[0]), perm

    monkeypatch.setattr(_excelformer, "feat_mix", full_swap)
    clf.mix_type = "feat_mix"
    swapped = clf._loss(batch, g)
    flipped = batch._replace(
        x_num=batch.x_num.flip(0), y=batch.y.flip(0), weight=batch.weight.flip(0)
    )
    clf.mix_type = "none"
    assert swapped.item() == pytest.approx(clf._loss(flipped, g).item(), rel=1e-6)


def test_no_target_leak_through_categoricals():
    """An ID-like category must look useless: statistics are out-of-fold."""
    rng = np.random.default_rng(1)
    n = 600
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "row_id": pd.Series([f"id{i}" for i in range(n)], dtype="string"),
        }
    )
    y = (X["x"] + rng.normal(scale=1.0, size=n) > 0).astype(int).to_numpy()
    clf = ExcelFormerClassifier(**FAST).fit(X, y)
    # with in-sample statistics every row's level would encode its own label
    assert clf.feature_names_[0] == "x"
    imp = dict(zip(X.columns, clf.feature_importances_, strict=True))
    assert imp["row_id"] < 0.2 * imp["x"]


def test_zero_mutual_information_guard():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = np.tile([0, 1], 150)  # unrelated to X
    clf = ExcelFormerClassifier(**FAST).fit(X, y)
    w = clf._feature_weights()
    assert np.all(np.isfinite(w))
    assert w.sum() == pytest.approx(1.0)
    clf.mi_scores_ = np.zeros_like(clf.mi_scores_)
    np.testing.assert_allclose(clf._feature_weights(), 0.25)


def test_deterministic_and_batch_independent(signal):
    X, y = signal
    a = ExcelFormerClassifier(**FAST).fit(X, y)
    b = ExcelFormerClassifier(**FAST).fit(X, y)
    full = a.predict_proba(X)
    np.testing.assert_array_equal(full, b.predict_proba(X))
    c = ExcelFormerClassifier(**{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(full, c.predict_proba(X))
    for rows in (
        np.arange(1),
        np.arange(3, 40),
        np.random.default_rng(0).permutation(800),
    ):
        np.testing.assert_array_equal(a.predict_proba(X.iloc[rows]), full[rows])


def test_multiclass_regression_and_weights():
    X = load_breast_cancer(as_frame=True).data
    y3 = np.digitize(X["mean radius"], [12, 15])  # three classes
    clf = ExcelFormerClassifier(**{**FAST, "max_epochs": 15}).fit(X, y3)
    assert clf.module_.d_out == 3
    assert clf.score(X, y3) > 0.8
    Xr, yr = make_regression(400, 6, n_informative=3, noise=5.0, random_state=0)
    yr = 1000 + 10 * yr
    reg = ExcelFormerRegressor(**{**FAST, "max_epochs": 40}).fit(Xr, yr)
    assert reg._y_mean == pytest.approx(yr.mean())
    assert reg.score(Xr, yr) > 0.8
    w = np.ones(len(yr))
    w[:200] = 0.0
    weighted = ExcelFormerRegressor(**{**FAST, "max_epochs": 3}).fit(
        Xr, yr, sample_weight=w
    )
    assert weighted._y_mean == pytest.approx(yr[200:].mean())


def test_early_stopping_on_validation_rows(signal):
    X, y = signal
    clf = ExcelFormerClassifier(**{**FAST, "max_epochs": 200, "n_iter_no_change": 4})
    clf.fit(X.iloc[:500], y[:500], X_val=X.iloc[500:], y_val=y[500:])
    assert clf.history_.stop_reason == "early_stopping"
    losses = clf.history_[:, "val_loss"]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1


def test_attention_map_is_causal_over_the_mi_order(signal):
    X, y = signal
    clf = ExcelFormerClassifier(**FAST).fit(X, y)
    att = clf.attention_map(X.iloc[:100])
    assert list(att.index) == clf.feature_names_
    values = att.to_numpy()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(np.triu(values, k=1) == 0)


def test_presets_pickle_and_bad_parameters(signal):
    X, y = signal
    paper = ExcelFormerClassifier.preset_params("paper")
    assert (paper["d_token"], paper["n_heads"], paper["batch_size"]) == (
        256,
        32,
        "auto",
    )
    with pytest.raises(ValueError, match="unknown preset"):
        ExcelFormerClassifier.preset_params("huge")
    clf = ExcelFormerClassifier(**FAST).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="divisible by n_heads"):
        ExcelFormerClassifier(**{**FAST, "d_token": 10, "n_heads": 4}).fit(X, y)
    with pytest.raises(ValueError, match="every input column was dropped"):
        ExcelFormerClassifier(**FAST).fit(pd.DataFrame({"a": [np.nan] * 50}), y[:50])
    with pytest.raises(ValueError, match="mix_type"):
        ExcelFormerClassifier(mix_type="cutmix").fit(X, y)


def test_model_file_round_trip(signal, tmp_path):
    import tabkit

    X, y = signal
    clf = ExcelFormerClassifier(**FAST).fit(X, y)
    loaded = tabkit.load(clf.save(tmp_path / "excelformer.tabkit"))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.feature_names_ == clf.feature_names_
    reg = ExcelFormerRegressor(**FAST).fit(X, y.astype(float))
    again = tabkit.load(reg.save(tmp_path / "reg.tabkit"))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
