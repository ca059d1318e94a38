"""CutoffSplit: folds by cut-off whose training label windows never reach validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, check_cv

from tabkit.relational import CutoffSplit

MONTHS = pd.date_range("2024-01-01", periods=13, freq="MS")


def seeds(cutoffs=MONTHS, per_cutoff: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cut = np.repeat(np.asarray(cutoffs), per_cutoff)
    order = rng.permutation(len(cut))  # rows in any order
    return pd.DataFrame(
        {"customer_id": rng.integers(0, 50, len(cut)), "cutoff": cut[order]}
    )


def shifted(times: pd.Series, window) -> pd.Series:
    return times + (pd.Timedelta(window) if isinstance(window, str) else window)


@pytest.mark.parametrize(
    ("n_splits", "window", "gap"),
    [
        (2, "MS", None),
        (3, pd.DateOffset(months=2), None),
        (4, "30D", "20D"),
        (1, "90D", None),
        (3, pd.Timedelta(days=31), pd.DateOffset(months=1)),
    ],
)
def test_training_label_windows_never_reach_the_fold(n_splits, window, gap):
    X = seeds()
    cv = CutoffSplit(n_splits=n_splits, window=window, gap=gap)
    folds = list(cv.split(X))
    assert len(folds) == cv.get_n_splits() == n_splits
    step = pd.tseries.frequencies.to_offset(window) if window == "MS" else window
    seen_val = []
    for train, val in folds:
        assert len(train) and len(val)
        assert not set(train) & set(val)
        t_cut, v_cut = X["cutoff"].iloc[train], X["cutoff"].iloc[val]
        closes = t_cut + step if window == "MS" else shifted(t_cut, window)
        if gap is not None:
            closes = shifted(closes, gap)
        assert closes.max() <= v_cut.min()  # the guarantee
        assert t_cut.max() < v_cut.min()  # training comes first
        # whole cut-offs: every seed of a cut-off is on the same side
        assert set(X.index[X["cutoff"].isin(v_cut)]) == set(val)
        seen_val.append(v_cut.unique())
    # validation folds are disjoint, consecutive, and end with the last cut-off
    flat = np.concatenate(seen_val)
    assert len(np.unique(flat)) == len(flat)
    assert flat.max() == X["cutoff"].max()
    assert np.all(np.diff(np.sort(flat)) > np.timedelta64(0))


def test_the_last_cutoff_before_a_fold_is_left_out_when_its_window_overlaps():
    X = seeds(per_cutoff=1)
    short = list(CutoffSplit(n_splits=3, window="MS").split(X))
    long = list(CutoffSplit(n_splits=3, window="45D").split(X))
    for (t_short, v_short), (t_long, v_long) in zip(short, long, strict=True):
        np.testing.assert_array_equal(v_short, v_long)
        dropped = set(X["cutoff"].iloc[t_short]) - set(X["cutoff"].iloc[t_long])
        first = X["cutoff"].iloc[v_short].min()
        assert dropped == {first - pd.DateOffset(months=1)}


def test_time_zone_aware_cutoffs():
    X = seeds().assign(cutoff=lambda d: d["cutoff"].dt.tz_localize("Europe/Paris"))
    for train, val in CutoffSplit(n_splits=2, window="MS").split(X):
        first = X["cutoff"].iloc[val].min()
        assert (X["cutoff"].iloc[train] + pd.offsets.MonthBegin()).max() <= first


@pytest.mark.parametrize(
    ("X", "params", "error", "match"),
    [
        (seeds().drop(columns="cutoff"), {}, ValueError, "no column 'cutoff'"),
        (seeds().astype({"cutoff": str}), {}, TypeError, "column 'cutoff' is str"),
        (seeds().to_numpy(), {}, TypeError, "DataFrame with a 'cutoff' column"),
        (
            seeds().assign(cutoff=lambda d: d["cutoff"].where(d.index > 0)),
            {},
            ValueError,
            "column 'cutoff' has 1 missing",
        ),
        (seeds(MONTHS[:3]), {"n_splits": 3}, ValueError, "at least 4 distinct"),
        (seeds(), {"window": "400D"}, ValueError, "fold 1: no cut-off before"),
        (seeds(), {"gap": "400D"}, ValueError, "gap"),
        (seeds(), {"window": "fortnight"}, ValueError, "fortnight"),
        (seeds(), {"n_splits": 0}, ValueError, "n_splits must be an integer"),
    ],
)
def test_clear_errors(X, params, error, match):
    cv = CutoffSplit(**{"n_splits": 2, "window": "MS", **params})
    with pytest.raises(error, match=match):
        list(cv.split(X))


def test_in_a_grid_search():
    X = seeds(per_cutoff=20)
    rng = np.random.default_rng(0)
    y = (X["cutoff"].dt.month % 2 + rng.random(len(X)) > 1).astype(int)
    cv = CutoffSplit(n_splits=3, window="MS")
    assert check_cv(cv) is cv
    assert repr(cv) == "CutoffSplit(gap=None, n_splits=3, window='MS')"
    from sklearn.dummy import DummyClassifier

    grid = GridSearchCV(
        DummyClassifier(), {"strategy": ["prior", "stratified"]}, cv=cv
    ).fit(X, y)
    assert len(grid.cv_results_["split2_test_score"]) == 2
