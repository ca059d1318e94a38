# SPDX-License-Identifier: BSD-3-Clause
"""Tests of tabkit.datasets.make_relational: keys, knobs, time rule, oracle ordering."""

from __future__ import annotations

import time

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tabkit.datasets import make_relational
from tabkit.datasets._synthetic import (
    EPOCH,
    LOOKBACK,
    MISSING_COLUMNS,
    SCHEMA,
    SIZES,
    _oracle,
)

DAY = pd.Timedelta("1D")
FK_COLUMNS = [
    ("orders", "customer_id", "customers"),
    ("items", "order_id", "orders"),
    ("items", "product_id", "products"),
    ("customers", "referrer_id", "customers"),
]


def frames(task):
    return {name: task.database[name].df for name in task.database}


def numeric(series):
    return pd.Series(series).astype("Float64").to_numpy(np.float64, na_value=np.nan)


# ----------------------------------------------------------------- helper features
def _visible(X, frame, key):
    """Rows of ``frame`` joined to the seeds of ``X`` on ``key``, time <= cut-off."""
    seeds = X.reset_index(drop=True).rename_axis("seed").reset_index()
    joined = seeds.merge(frame, on=key)
    return joined[joined["ts"] <= joined["cutoff"]]


def hop_features(db, X, hops):
    """Entity columns (hops=0), + order aggregates (1), + item/product ones (2).

    Follows the hop definition: 1 hop = customer <- orders; 2 hops = customer
    <- orders <- items, each item carrying its product's columns; spend is
    therefore a 2-hop aggregate. Only rows with time <= the seed's cut-off.
    """
    X = X.reset_index(drop=True)
    base = X.merge(db["customers"].df, on="customer_id", how="left")
    out = pd.DataFrame(index=X.index)
    out["age"] = numeric(base["age"])
    out["region"] = base["region"]
    out["tenure"] = (base["cutoff"] - base["signup_ts"]) / DAY
    self_ref = "referrer_id" in base
    if self_ref:
        out["has_referrer"] = base["referrer_id"].notna().astype(float)
    if hops >= 1:
        orders = _visible(X, db["orders"].df, "customer_id")
        age = (orders["cutoff"] - orders["ts"]) / DAY
        by = orders["seed"]
        out["n_orders"] = by.value_counts().reindex(X.index, fill_value=0)
        for days in (30, 365):
            out[f"n_orders_{days}d"] = (
                (age <= days).groupby(by).sum().reindex(X.index, fill_value=0)
            )
        out["recency"] = age.groupby(by).min().reindex(X.index)
        out["first_order"] = age.groupby(by).max().reindex(X.index)
        out["app_share"] = (orders["channel"] == "app").groupby(by).mean()
    if hops >= 2:
        links = db["orders"].df[["order_id", "customer_id"]]
        items = (
            db["items"]
            .df.merge(links, on="order_id")
            .merge(db["products"].df, on="product_id", how="left")
        )
        items["quantity"] = numeric(items["quantity"])
        items["spend"] = items["quantity"] * items["unit_price"]
        items = _visible(X, items, "customer_id")
        recent = (items["cutoff"] - items["ts"]) / DAY <= 30
        by = items["seed"]
        out["n_items"] = by.value_counts().reindex(X.index, fill_value=0)
        out["total_spend"] = items["spend"].groupby(by).sum().reindex(X.index)
        for column in ("quantity", "unit_price", "spend", "rating", "price"):
            values = items[column]
            out[f"mean_{column}"] = values.groupby(by).mean().reindex(X.index)
            out[f"mean_{column}_30d"] = (
                values.where(recent).groupby(by).mean().reindex(X.index)
            )
        if self_ref:  # customers -> referrer <- orders
            referrer = numeric(base["referrer_id"])
            ref = X.assign(customer_id=np.nan_to_num(referrer, nan=-1).astype(int))
            ref_orders = _visible(ref, db["orders"].df, "customer_id")
            ref_age = (ref_orders["cutoff"] - ref_orders["ts"]) / DAY
            out["referrer_recency"] = ref_age.groupby(ref_orders["seed"]).min()
            for days in (30, 60):
                out[f"referrer_orders_{days}d"] = (
                    (ref_age <= days).groupby(ref_orders["seed"]).sum()
                )
    return out.reindex(X.index)


def level_aucs(task):
    """Test AUC of LightGBM on 0-, 1- and 2-hop features, and the oracle's."""
    scores = {}
    for hops in (0, 1, 2):
        model = lightgbm.LGBMClassifier(
            n_estimators=200, learning_rate=0.05, verbose=-1, n_jobs=1
        )
        model.fit(hop_features(task.database, task.train[0], hops), task.train[1])
        proba = model.predict_proba(hop_features(task.database, task.test[0], hops))
        scores[hops] = roc_auc_score(task.test[1], proba[:, 1])
    scores["oracle"] = task.info["oracle_score"]
    return scores


def assert_ordered(scores, margin):
    levels = [scores[0], scores[1], scores[2], scores["oracle"]]
    gaps = np.diff(levels)
    assert (gaps >= margin).all(), scores


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny():
    return make_relational(size="tiny", seed=0)


@pytest.fixture(scope="module")
def tiny_ref():
    return make_relational("self_ref", size="tiny", seed=0)


@pytest.fixture(scope="module")
def knobs():
    """Missing values and orphans; orphans only; neither (same seed)."""
    kwargs = {"size": 1_000, "seed": 3}
    return (
        make_relational("self_ref", missing=0.2, orphan_fk=0.1, **kwargs),
        make_relational("self_ref", orphan_fk=0.1, **kwargs),
        make_relational("self_ref", **kwargs),
    )


# ----------------------------------------------------------------- schema and keys
@pytest.mark.parametrize("template", ["chain", "self_ref"])
def test_schema_and_key_integrity(template, tiny, tiny_ref):
    task = tiny if template == "chain" else tiny_ref
    db = task.database
    assert sorted(db) == ["customers", "items", "orders", "products"]
    db.check_time_columns()
    for name, (key, fks, time_column) in SCHEMA.items():
        table = db[name]
        assert table.primary_key == key
        assert table.time_column == time_column
        assert table._static == (time_column is None)  # declared, not implied
        assert table.df[key].is_unique
        expected = dict(fks)
        if name == "customers" and template == "self_ref":
            expected = {"referrer_id": "customers"}
        assert dict(table.foreign_keys) == expected
    data = frames(task)
    for child, column, parent in FK_COLUMNS:
        if column not in data[child]:
            assert template == "chain"
            continue
        values = data[child][column].dropna()
        assert values.isin(data[parent][SCHEMA[parent][0]]).all(), (child, column)
    # items share their order's time; orders come after the customer's signup
    items = data["items"].merge(data["orders"], on="order_id", suffixes=("", "_o"))
    assert (items["ts"] == items["ts_o"]).all()
    orders = data["orders"].merge(data["customers"], on="customer_id")
    assert (orders["ts"] >= orders["signup_ts"]).all()
    if template == "self_ref":  # a referrer signed up before the customer
        ref = data["customers"].merge(
            data["customers"][["customer_id", "signup_ts"]],
            left_on="referrer_id",
            right_on="customer_id",
            suffixes=("", "_ref"),
        )
        assert len(ref) > 0.4 * len(data["customers"])
        assert (ref["signup_ts_ref"] <= ref["signup_ts"]).all()


def test_orphan_share_matches_the_knob(knobs):
    task, _, clean = knobs
    data = frames(task)
    for child, column, parent in FK_COLUMNS:
        values = data[child][column].dropna()
        orphan = ~values.isin(data[parent][SCHEMA[parent][0]])
        assert abs(orphan.mean() - 0.1) <= 1.0 / len(values) + 1e-9, (child, column)
    # orphans are extra rows or broken links: labels and oracle do not change
    for split in ("train", "val", "test"):
        X, y = getattr(task, split)
        X0, y0 = getattr(clean, split)
        pd.testing.assert_frame_equal(X, X0)
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(
            task.info["oracle"][split], clean.info["oracle"][split]
        )


def test_missing_share_and_untouched_values(knobs):
    task, clean, _ = knobs
    data, reference = frames(task), frames(clean)
    for name, frame in data.items():
        for column in frame.columns:
            n_missing = int(frame[column].isna().sum())
            if column in MISSING_COLUMNS[name]:
                assert n_missing == round(0.2 * len(frame)), (name, column)
                kept = frame[column].notna()  # the other values are unchanged
                left = frame.loc[kept, column].astype(object)
                right = reference[name].loc[kept, column].astype(object)
                assert (left == right).all(), (name, column)
            elif column != "referrer_id":  # keys and times are never blanked
                assert n_missing == 0, (name, column)


def test_cold_start_customers_have_no_history_at_the_first_cutoff():
    task = make_relational(size=500, seed=1, cold_start=0.3)
    cold = task.info["cold_start_ids"]
    assert len(cold) == round(0.3 * 500)
    first = task.info["cutoffs"]["train"][0]
    orders = task.database["orders"].df
    cold_orders = orders[orders["customer_id"].isin(cold)]
    assert (cold_orders["ts"] > first).all()
    assert len(cold_orders) > 0  # they become active after it
    X, _ = task.train
    seeds = set(X.loc[X["cutoff"] == first, "customer_id"])
    assert set(cold) <= seeds  # cold-start entities are seeds with no children
    customers = task.database["customers"].df.set_index("customer_id")
    assert (customers.loc[cold, "signup_ts"] <= first).all()


# ----------------------------------------------------------------- reproducibility
def test_same_seed_same_frames_other_seed_other_frames(tiny_ref):
    again = make_relational("self_ref", size="tiny", seed=0)
    for name in tiny_ref.database:
        pd.testing.assert_frame_equal(
            tiny_ref.database[name].df, again.database[name].df
        )
    for split in ("train", "val", "test"):
        pd.testing.assert_frame_equal(
            getattr(tiny_ref, split)[0], getattr(again, split)[0]
        )
        np.testing.assert_array_equal(
            getattr(tiny_ref, split)[1], getattr(again, split)[1]
        )
        np.testing.assert_array_equal(
            tiny_ref.info["oracle"][split], again.info["oracle"][split]
        )
    other = make_relational("self_ref", size="tiny", seed=1)
    assert not other.database["orders"].df.equals(tiny_ref.database["orders"].df)


# ----------------------------------------------------------------- time rule
def test_labels_come_from_future_rows_and_population_from_the_past(tiny_ref):
    task = tiny_ref
    db = task.database
    horizon = task.task.window
    orders = db["orders"].df
    cutoffs = task.info["cutoffs"]
    all_cuts = cutoffs["train"].append([cutoffs["val"], cutoffs["test"]])
    assert all_cuts[0] >= EPOCH + pd.Timedelta("365D")
    assert (all_cuts[1:] - all_cuts[:-1] == horizon).all()  # windows tile time
    assert cutoffs["train"][-1] + horizon <= cutoffs["val"][0]
    assert cutoffs["val"][-1] + horizon <= cutoffs["test"][0]
    assert orders["ts"].max() > all_cuts[-1]  # the future rows are in the database
    for split in ("train", "val", "test"):
        X, y = getattr(task, split)
        assert list(X.columns) == ["customer_id", "cutoff"]
        assert X.equals(X.sort_values(["cutoff", "customer_id"], ignore_index=True))
        pairs = X.reset_index().merge(orders, on="customer_id")
        future = pairs[
            (pairs["ts"] > pairs["cutoff"]) & (pairs["ts"] <= pairs["cutoff"] + horizon)
        ]
        n_future = future.groupby("index").size().reindex(X.index, fill_value=0)
        np.testing.assert_array_equal(y, (n_future.to_numpy() == 0).astype(int))
        for t in X["cutoff"].unique():  # population: rows up to t only
            past = db.upto(t)
            since = t - LOOKBACK
            customers, recent = past["customers"].df, past["orders"].df
            expected = set(
                customers.loc[customers["signup_ts"] > since, "customer_id"]
            ) | set(recent.loc[recent["ts"] > since, "customer_id"])
            assert set(X.loc[X["cutoff"] == t, "customer_id"]) == expected
    assert 0.05 < task.train[1].mean() < 0.6


def test_helper_features_use_rows_up_to_the_cutoff_only(tiny_ref):
    X, _ = tiny_ref.test
    t = X["cutoff"].iloc[0]
    seeds = X[X["cutoff"] == t].reset_index(drop=True)
    full = hop_features(tiny_ref.database, seeds, 2)
    past = hop_features(tiny_ref.database.upto(t), seeds, 2)
    pd.testing.assert_frame_equal(full, past)


# ----------------------------------------------------------------- oracle
def test_oracle_formulas_match_a_simulation():
    rng = np.random.default_rng(0)
    n = 200_000
    rate, eta, length = 0.05, 0.01, 60.0
    churn = rng.exponential(size=n) / eta
    counts = rng.poisson(rate * np.minimum(churn, length))
    p_none, mean, median = _oracle(
        np.array([rate, rate]),
        np.array([eta, eta]),
        np.full(2, length),
        np.array([True, False]),
    )
    assert p_none[0] == pytest.approx((counts == 0).mean(), abs=0.004)
    assert mean[0] == pytest.approx(counts.mean(), abs=0.02)
    assert median[0] == np.median(counts)
    assert (p_none[1], mean[1], median[1]) == (1.0, 0.0, 0.0)


def test_oracle_is_calibrated():
    task = make_relational(size=3_000, seed=4)
    p = np.concatenate([task.info["oracle"][s] for s in ("train", "val", "test")])
    y = np.concatenate([task.train[1], task.val[1], task.test[1]])
    assert ((p >= 0) & (p <= 1)).all()
    assert p.mean() == pytest.approx(y.mean(), abs=3 * np.sqrt(y.var() / len(y)))
    bins = np.digitize(p, [0.1, 0.3, 0.6, 0.9])
    for b in np.unique(bins):
        inside = bins == b
        if inside.sum() > 300:
            assert y[inside].mean() == pytest.approx(p[inside].mean(), abs=0.05)


def test_orders_task_is_a_regression_with_an_expected_value_oracle():
    task = make_relational(size=2_000, seed=0, task="orders")
    assert (task.task_type, task.metric) == ("regression", "mae")
    y = np.concatenate([task.train[1], task.val[1], task.test[1]])
    mean = np.concatenate([task.info["oracle"][s] for s in ("train", "val", "test")])
    assert y.dtype == np.float64
    assert mean.mean() == pytest.approx(y.mean(), rel=0.05)
    median = task.info["oracle_median"]["test"]
    mae_median = np.abs(task.test[1] - median).mean()
    assert task.info["oracle_score"] == pytest.approx(mae_median)
    assert mae_median <= np.abs(task.test[1] - task.info["oracle"]["test"]).mean()


def test_ordering_entity_1hop_2hop_oracle_fast():
    scores = level_aucs(make_relational(size=2_000, seed=0))
    assert_ordered(scores, 0.02)


@pytest.mark.parametrize("template", ["chain", "self_ref"])
def test_ordering_at_size_small_three_seeds(template):
    # the check: entity-only < 1-hop < 2-hop < oracle by >= 0.02 AUC
    for seed in (0, 1, 2):
        assert_ordered(level_aucs(make_relational(template, seed=seed)), 0.03)


@pytest.mark.slow
def test_ordering_with_relational_features():
    features = pytest.importorskip("tabkit.relational.features")
    for seed in (0, 1, 2):
        task = make_relational(seed=seed)
        scores = level_aucs(task)
        for hops in (1, 2):
            transformer = features.RelationalFeatures(
                database=task.database, entity_table="customers", hops=hops
            )
            model = lightgbm.LGBMClassifier(
                n_estimators=200, learning_rate=0.05, verbose=-1, n_jobs=1
            )
            model.fit(transformer.fit_transform(*task.train), task.train[1])
            proba = model.predict_proba(transformer.transform(task.test[0]))[:, 1]
            scores[hops] = roc_auc_score(task.test[1], proba)
        assert_ordered(scores, 0.02)


# ----------------------------------------------------------------- sizes and args
def test_sizes_and_generation_time():
    start = time.perf_counter()
    task = make_relational(size="tiny", seed=5)
    elapsed = time.perf_counter() - start
    assert len(task.database["customers"]) == SIZES["tiny"] == 200
    assert task.info["generation_seconds"] < 0.5
    assert elapsed < 2.0
    assert len(make_relational(size=50, seed=0).database["customers"]) == 50
    start = time.perf_counter()
    small = make_relational(size="small", seed=5)
    assert len(small.database["customers"]) == 5_000
    assert time.perf_counter() - start < 5.0


@pytest.mark.slow
def test_medium_generation_time():
    task = make_relational(size="medium")
    assert len(task.database["customers"]) == 50_000
    assert task.info["generation_seconds"] < 30


def test_horizon_sets_the_window_and_the_cutoff_spacing():
    task = make_relational(size="tiny", horizon=pd.DateOffset(months=1))
    cuts = task.info["cutoffs"]["train"]
    assert all(c.day == EPOCH.day for c in cuts)
    assert (cuts[1:] == cuts[:-1] + pd.DateOffset(months=1)).all()
    task = make_relational(size="tiny", horizon="30D")
    cuts = task.info["cutoffs"]["test"]
    assert (cuts[1:] - cuts[:-1] == 30 * DAY).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"template": "star"}, "template"),
        ({"task": "spend"}, "task"),
        ({"size": "huge"}, "size"),
        ({"size": 5}, "size"),
        ({"missing": 1.0}, "missing"),
        ({"orphan_fk": -0.1}, "orphan_fk"),
        ({"cold_start": 1.5}, "cold_start"),
        ({"horizon": "400D"}, "horizon"),
        ({"horizon": "nonsense"}, "window|horizon"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_relational(**kwargs)
