# SPDX-License-Identifier: BSD-3-Clause
"""Tests of tabkit.relational.tasks: seed tables, labels, populations, splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabkit.relational import Database, RelationalWarning, SchemaError, Table
from tabkit.relational.tasks import (
    EntityTask,
    RelationalTask,
    TaskSplit,
    active,
    aggregate,
    count,
    exists,
    schedule,
    window_rows,
)

START = pd.Timestamp("2026-01-01")
CUTOFFS = pd.date_range("2026-02-01", "2026-10-01", freq="MS")
WEEK = pd.Timedelta(days=7)
# the fixture's orphan orders are deliberate
pytestmark = pytest.mark.filterwarnings("ignore::tabkit.relational.OrphanKeysWarning")


def _frames(seed: int = 0) -> dict[str, pd.DataFrame]:
    """Customers (timed by signup), orders, items; times on a 6-hour grid."""
    rng = np.random.default_rng(seed)
    n_c, n_o = 40, 600
    grid = pd.Timedelta(hours=6)
    customers = pd.DataFrame(
        {
            "cid": np.arange(100, 100 + n_c),
            "signup": START + grid * rng.integers(0, 4 * 200, n_c),
            "age": rng.integers(18, 80, n_c),
        }
    )
    customers.loc[3, "signup"] = pd.NaT  # never visible
    orders = pd.DataFrame(
        {
            "oid": np.arange(n_o),
            "cid": rng.integers(100, 100 + n_c + 2, n_o),  # 2 orphan ids
            "ts": START + grid * rng.integers(0, 4 * 300, n_o),
            "amount": np.round(rng.gamma(2.0, 30.0, n_o), 2),
        }
    )
    orders.loc[::37, "amount"] = np.nan
    # Orders exactly on cut-offs and on window ends (boundary cases).
    orders.loc[:9, "ts"] = np.repeat(CUTOFFS[2:7].to_numpy(), 2)
    orders.loc[10:14, "ts"] = (CUTOFFS[2:7] + WEEK).to_numpy()
    items = pd.DataFrame(
        {
            "iid": np.arange(3 * n_o),
            "oid": rng.integers(0, n_o, 3 * n_o),
            "qty": rng.integers(1, 5, 3 * n_o),
        }
    )
    items["ts"] = orders["ts"].to_numpy()[items["oid"]]
    return {"customers": customers, "orders": orders, "items": items}


def _database(frames: dict[str, pd.DataFrame]) -> Database:
    return Database(
        {
            "customers": Table(
                frames["customers"], primary_key="cid", time_column="signup"
            ),
            "orders": Table(
                frames["orders"],
                primary_key="oid",
                foreign_keys={"cid": "customers"},
                time_column="ts",
            ),
            "items": Table(
                frames["items"],
                primary_key="iid",
                foreign_keys={"oid": "orders"},
                time_column="ts",
            ),
        }
    )


@pytest.fixture(scope="module")
def frames():
    return _frames()


@pytest.fixture(scope="module")
def db(frames):
    return _database(frames)


def _visible(customers: pd.DataFrame, t: pd.Timestamp) -> list[int]:
    return sorted(customers.loc[customers["signup"] <= t, "cid"].tolist())


def _brute(frames, window, reduce, population=None, keep_missing=True):
    """Labels by direct filtering, one (cut-off, customer) at a time."""
    customers, orders = frames["customers"], frames["orders"]
    rows = []
    for t in CUTOFFS:
        end = t + window
        members = _visible(customers, t) if population is None else population(t)
        for cid in members:
            if cid not in _visible(customers, t):
                continue
            mine = orders[(orders["cid"] == cid) & (orders["ts"] > t)]
            mine = mine[mine["ts"] <= end]
            value = reduce(mine)
            if keep_missing or not pd.isna(value):
                rows.append((t, cid, value))
    return pd.DataFrame(rows, columns=["cutoff", "cid", "y"])


def _check(X, y, expected):
    expected = expected.dropna(subset=["y"]).reset_index(drop=True)
    assert list(X.columns) == ["cid", "cutoff"]
    assert X["cid"].tolist() == expected["cid"].tolist()
    assert X["cutoff"].tolist() == expected["cutoff"].tolist()
    np.testing.assert_allclose(y, expected["y"].to_numpy(float), rtol=1e-12)


# ---------------------------------------------------------------- labels
def test_count_matches_brute_force(db, frames):
    task = EntityTask(
        name="n",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
    )
    X, y = task.make_table(db, CUTOFFS)
    _check(X, y, _brute(frames, WEEK, len))
    assert y.dtype == np.float64
    assert (y > 0).any()


@pytest.mark.parametrize("how", ["mean", "sum", "min", "max", "count", "nunique"])
def test_aggregate_matches_brute_force(db, frames, how):
    label = aggregate("orders", "amount", how, where=lambda df: df["amount"] > 20)
    task = EntityTask(
        name="a",
        entity_table="customers",
        window=pd.Timedelta(days=20),
        label=label,
        task_type="regression",
    )
    X, y = task.make_table(db, CUTOFFS)

    def reduce(rows):
        values = rows.loc[rows["amount"] > 20, "amount"]
        if values.empty:
            return np.nan  # no rows: dropped (fill_value=None)
        return getattr(values, how)()

    _check(X, y, _brute(frames, pd.Timedelta(days=20), reduce))


def test_aggregate_fill_value_and_transform(db, frames):
    label = aggregate("orders", "amount", "sum", fill_value=-1.0, transform=np.log1p)
    task = EntityTask(
        name="s",
        entity_table="customers",
        window="30D",
        label=label,
        task_type="regression",
    )
    X, y = task.make_table(db, CUTOFFS)

    def reduce(rows):
        total = rows["amount"].sum(min_count=1)
        return -1.0 if pd.isna(total) else np.log1p(total)

    _check(X, y, _brute(frames, pd.Timedelta(days=30), reduce))
    assert (y == -1.0).any()


def test_aggregate_with_column_function(db, frames):
    big = aggregate("orders", lambda df: df["amount"] > 60, "max")
    task = EntityTask(
        name="big",
        entity_table="customers",
        window="14D",
        label=big,
        task_type="binary",
    )
    X, y = task.make_table(db, CUTOFFS)

    def reduce(rows):
        return np.nan if rows.empty else float((rows["amount"] > 60).max())

    _check(X, y, _brute(frames, pd.Timedelta(days=14), reduce))
    assert y.dtype == np.int64


def test_exists_with_calendar_month_window(db, frames):
    month_ends = pd.date_range("2026-01-31", "2026-09-30", freq="ME")
    task = EntityTask(
        name="e",
        entity_table="customers",
        window=pd.DateOffset(months=1),
        label=exists("orders"),
        task_type="binary",
    )
    _, y = task.make_table(db, month_ends)
    customers, orders = frames["customers"], frames["orders"]
    expected = []
    for t in month_ends:
        end = t + pd.DateOffset(months=1)  # Jan 31 -> Feb 28: calendar months
        for cid in _visible(customers, t):
            mine = orders[(orders["cid"] == cid) & (orders["ts"] > t)]
            expected.append(int((mine["ts"] <= end).any()))
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == np.int64


def test_window_is_exclusive_at_start_and_inclusive_at_end():
    customers = pd.DataFrame({"cid": [1]})
    t = pd.Timestamp("2026-03-01")
    orders = pd.DataFrame(
        {
            "oid": [1, 2, 3, 4],
            "cid": [1, 1, 1, 1],
            "ts": [
                t,
                t + pd.Timedelta("1ns"),
                t + WEEK,
                t + WEEK + pd.Timedelta("1ns"),
            ],
        }
    )
    db = Database(
        {
            "customers": Table(customers, primary_key="cid"),
            "orders": Table(
                orders,
                primary_key="oid",
                foreign_keys={"cid": "customers"},
                time_column="ts",
            ),
        }
    )
    task = EntityTask(
        name="b",
        entity_table="customers",
        window=WEEK,
        label=count("orders"),
        task_type="regression",
    )
    _, y = task.make_table(db, [t])
    assert y.tolist() == [2.0]  # t + 1ns and t + 7 days; not t, not past the end

    def members(min_rows, cutoff):
        recent = EntityTask(
            name="p",
            entity_table="customers",
            window=WEEK,
            label=count("orders"),
            task_type="regression",
            population=active("orders", WEEK, min_rows=min_rows),
        )
        return recent.make_table(db, [cutoff])[0]["cid"].tolist()

    # Look-back (c - 7 days, c]: at c = t + 7 days it holds t + 1ns and t + 7
    # days (2 rows), not the order at t; at c = t it holds the order at t.
    assert members(2, t + WEEK) == [1]
    assert members(3, t + WEEK) == []
    assert members(1, t) == [1]
    assert members(1, t - pd.Timedelta("1ns")) == []


def test_multi_hop_label(db, frames):
    task = EntityTask(
        name="items",
        entity_table="customers",
        window="10D",
        label=aggregate("items", "qty", "sum", fill_value=0.0),
        task_type="regression",
    )
    _, y = task.make_table(db, CUTOFFS)
    items = frames["items"].merge(frames["orders"][["oid", "cid"]], on="oid")
    customers = frames["customers"]
    expected = []
    for t in CUTOFFS:
        mine = items[(items["ts"] > t) & (items["ts"] <= t + pd.Timedelta(days=10))]
        sums = mine.groupby("cid")["qty"].sum()
        expected += [float(sums.get(c, 0.0)) for c in _visible(customers, t)]
    np.testing.assert_allclose(y, expected)


def test_label_function_contract(db, frames):
    seen = {}

    def label(db_view, seeds):
        seen["max_time"] = db_view["orders"].df["ts"].max()
        seen["columns"] = list(seeds.columns)
        rows = window_rows(db_view, seeds, "orders", entity_table="customers", end="7D")
        n = rows.groupby(level="seed").size().reindex(seeds.index)
        return n.where(n > 1)  # NaN: no seed row

    task = EntityTask(
        name="f",
        entity_table="customers",
        window="7D",
        label=label,
        task_type="regression",
    )
    X, y = task.make_table(db, CUTOFFS)
    assert seen["columns"] == ["cid", "cutoff"]
    assert seen["max_time"] <= CUTOFFS[-1] + WEEK
    expected = _brute(frames, WEEK, lambda r: len(r) if len(r) > 1 else np.nan)
    _check(X, y, expected)


def test_window_rows_reaches_into_the_past(db, frames):
    seeds = pd.DataFrame(
        {"cid": [100, 101, 100], "cutoff": [CUTOFFS[3], CUTOFFS[3], CUTOFFS[5]]}
    )
    rows = window_rows(
        db, seeds, "orders", entity_table="customers", start="-14D", end=pd.Timedelta(0)
    )
    orders = frames["orders"]
    for i, (cid, t) in enumerate(zip(seeds["cid"], seeds["cutoff"], strict=True)):
        want = orders[
            (orders["cid"] == cid) & (orders["ts"] > t - 2 * WEEK) & (orders["ts"] <= t)
        ]
        got = rows.loc[[i]] if i in rows.index else rows.iloc[:0]
        assert sorted(got["oid"]) == sorted(want["oid"])


# ---------------------------------------------------------------- populations
def test_active_population_matches_brute_force(db, frames):
    orders = frames["orders"]

    def members(t):
        recent = orders[
            (orders["ts"] > t - pd.Timedelta(days=30)) & (orders["ts"] <= t)
        ]
        n = recent.groupby("cid").size()
        return sorted(n[n >= 2].index)

    task = EntityTask(
        name="act",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
        population=active("orders", "30D", min_rows=2),
    )
    X, y = task.make_table(db, CUTOFFS)
    _check(X, y, _brute(frames, WEEK, len, population=members))
    assert 0 < len(X) < len(CUTOFFS) * 40


def test_population_function_sees_only_the_past(db, frames):
    calls = []

    def population(db_t, t):
        calls.append(t)
        assert db_t["orders"].df["ts"].max() <= t
        assert db_t["customers"].df["signup"].max() <= t
        return [*db_t["orders"].df["cid"].unique()[:5].tolist(), 99999]

    task = EntityTask(
        name="pf",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
        population=population,
    )
    with pytest.warns(RelationalWarning, match="not keys of 'customers'") as caught:
        X, _ = task.make_table(db, CUTOFFS)
    assert len(caught) == 1  # one warning for all cut-offs
    assert f"at {len(CUTOFFS)} of {len(CUTOFFS)} cut-offs" in str(caught[0].message)
    assert len(calls) == len(CUTOFFS)
    assert 99999 not in set(X["cid"])  # unknown keys are dropped
    customers = frames["customers"].set_index("cid")
    # Entities whose own row is not visible at t get no seed (orphans, NaT).
    assert (
        customers.loc[X["cid"], "signup"].to_numpy() <= X["cutoff"].to_numpy()
    ).all()


def test_default_population_is_visible_entities(db, frames):
    task = EntityTask(
        name="d",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
    )
    X, _ = task.make_table(db, CUTOFFS)
    expected = [(t, c) for t in CUTOFFS for c in _visible(frames["customers"], t)]
    assert list(zip(X["cutoff"], X["cid"], strict=True)) == expected
    assert 103 not in set(X["cid"])  # signup NaT: never visible


# ---------------------------------------------------------------- leakage
def test_rows_after_the_cutoff_change_only_labels_in_their_window(frames):
    t = CUTOFFS[4]
    task = EntityTask(
        name="leak",
        entity_table="customers",
        window="10D",
        label=count("orders"),
        task_type="regression",
        population=active("orders", "60D"),
    )
    X0, y0 = task.make_table(_database(frames), CUTOFFS)
    a, b, c = X0.loc[X0["cutoff"] == t, "cid"].iloc[:3]
    late = pd.DataFrame(
        {
            "oid": 10_000 + np.arange(5),
            "cid": [a, b, c, a, 500],
            "ts": [
                t + pd.Timedelta(hours=1),
                t + pd.Timedelta(days=10),
                t + pd.Timedelta(days=10, hours=1),
                t + pd.Timedelta(days=200),
                t - pd.Timedelta(days=1),
            ],
            "amount": 1.0,
        }
    )
    # Customer 500 has an order before t but only becomes visible after t.
    new_customer = pd.DataFrame(
        {"cid": [500], "signup": [t + pd.Timedelta(seconds=1)], "age": [30]}
    )
    planted = dict(frames)
    planted["orders"] = pd.concat([frames["orders"], late], ignore_index=True)
    planted["customers"] = pd.concat(
        [frames["customers"], new_customer], ignore_index=True
    )
    X1, y1 = task.make_table(_database(planted), CUTOFFS)
    upto0, upto1 = (X0["cutoff"] <= t).to_numpy(), (X1["cutoff"] <= t).to_numpy()
    # Seeds up to t: unchanged (the row before t belongs to an invisible entity).
    pd.testing.assert_frame_equal(
        X0[upto0].reset_index(drop=True), X1[upto1].reset_index(drop=True)
    )
    diff = X0[upto0].assign(y0=y0[upto0], y1=y1[upto1])
    changed = diff[diff["y0"] != diff["y1"]]
    # Only a and b at t: their orders at t + 1 h and t + 10 days are in
    # (t, t + 10 days]; c's at t + 10 days + 1 h and a's at t + 200 days are not.
    assert sorted(changed["cid"]) == sorted([a, b])
    assert (changed["cutoff"] == t).all()
    assert (changed["y1"] - changed["y0"] == 1).all()


def test_planted_rows_do_not_change_seed_rows_at_earlier_cutoffs(frames):
    task = EntityTask(
        name="pop",
        entity_table="customers",
        window="7D",
        label=exists("orders"),
        task_type="binary",
        population=active("orders", "30D"),
    )
    X0, _ = task.make_table(_database(frames), CUTOFFS[:3])
    planted = dict(frames)
    future = frames["orders"].assign(
        oid=frames["orders"]["oid"] + 50_000,
        ts=CUTOFFS[2] + pd.Timedelta(minutes=1),
    )
    planted["orders"] = pd.concat([frames["orders"], future], ignore_index=True)
    X1, _ = task.make_table(_database(planted), CUTOFFS[:3])
    pd.testing.assert_frame_equal(X0, X1)


# ---------------------------------------------------------------- splits
def test_split_partitions_and_checks_overlap(db):
    task = EntityTask(
        name="s",
        entity_table="customers",
        window="MS",
        label=count("orders"),
        task_type="regression",
    )
    parts = task.split(db, train=CUTOFFS[:5], val=CUTOFFS[5:7], test=CUTOFFS[7:])
    assert isinstance(parts, TaskSplit)
    for cut, (X, y) in zip(
        (CUTOFFS[:5], CUTOFFS[5:7], CUTOFFS[7:]), parts, strict=True
    ):
        X_ref, y_ref = task.make_table(db, cut)
        pd.testing.assert_frame_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)
    month = EntityTask(
        name="m",
        entity_table="customers",
        window=pd.DateOffset(months=2),
        label=count("orders"),
        task_type="regression",
    )
    with pytest.raises(ValueError, match=r"train label windows overlap .*2026-06-01"):
        month.split(db, train=CUTOFFS[:5], val=CUTOFFS[5:7], test=CUTOFFS[8:])
    with pytest.raises(ValueError, match="validation label windows overlap"):
        month.split(db, train=CUTOFFS[:3], val=CUTOFFS[5:7], test=CUTOFFS[7:])


def test_relational_task_from_task(db):
    task = EntityTask(
        name="rt",
        entity_table="customers",
        window="7D",
        label=exists("orders"),
        task_type="binary",
    )
    rt = RelationalTask.from_task(
        db,
        task,
        train=CUTOFFS[:3],
        val=CUTOFFS[4:5],
        test=CUTOFFS[6:],
        info={"source": "test"},
    )
    assert (rt.name, rt.metric, rt.task_type) == ("rt", "roc_auc", "binary")
    assert rt.database is db and rt.info == {"source": "test"}
    reg = EntityTask(
        name="r",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
    )
    assert (
        RelationalTask.from_task(
            db, reg, train=CUTOFFS[:1], val=CUTOFFS[2:3], test=CUTOFFS[4:5]
        ).metric
        == "mae"
    )


# ---------------------------------------------------------------- format, errors
def test_seed_table_format(db):
    task = EntityTask(
        name="f",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
    )
    shuffled = [*CUTOFFS[::-1], CUTOFFS[0]]
    X, y = task.make_table(db, shuffled)
    assert X["cutoff"].dtype == np.dtype("datetime64[ns]")
    assert X["cid"].dtype == np.int64
    assert isinstance(X.index, pd.RangeIndex)
    ordered = X.sort_values(["cutoff", "cid"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(X, ordered)
    assert not X.duplicated().any() and len(y) == len(X)


def test_time_zone_aware_database(frames):
    aware = {k: v.copy() for k, v in frames.items()}
    for name, column in (("customers", "signup"), ("orders", "ts"), ("items", "ts")):
        aware[name][column] = aware[name][column].dt.tz_localize("Europe/Paris")
    db = _database(aware)
    task = EntityTask(
        name="tz",
        entity_table="customers",
        window="7D",
        label=count("orders"),
        task_type="regression",
    )
    X, y = task.make_table(db, CUTOFFS.tz_localize("Europe/Paris"))
    assert str(X["cutoff"].dt.tz) == "UTC"
    _, y_naive = task.make_table(_database(frames), CUTOFFS)
    np.testing.assert_array_equal(y, y_naive)
    with pytest.raises(ValueError, match="time-zone-aware"):
        task.make_table(db, CUTOFFS)


def test_errors_name_the_tables(db):
    two_paths = Database(
        {
            "airports": Table(pd.DataFrame({"faa": ["A", "B"]}), primary_key="faa"),
            "flights": Table(
                pd.DataFrame(
                    {"fid": [1], "origin": ["A"], "dest": ["B"], "ts": ["2026-01-02"]}
                ),
                primary_key="fid",
                foreign_keys={"origin": "airports", "dest": "airports"},
                time_column="ts",
            ),
        }
    )
    task = EntityTask(
        name="x",
        entity_table="airports",
        window="7D",
        label=count("flights"),
        task_type="regression",
    )
    with pytest.raises(SchemaError, match=r"several .*'flights'.*'airports'.*via="):
        task.make_table(two_paths, ["2026-01-01"])
    fixed = EntityTask(
        name="x",
        entity_table="airports",
        window="7D",
        label=count("flights", via="dest"),
        task_type="regression",
    )
    assert fixed.make_table(two_paths, ["2026-01-01"])[1].tolist() == [0.0, 1.0]
    orders_task = EntityTask(
        name="y",
        entity_table="orders",
        window="7D",
        label=count("customers"),
        task_type="regression",
    )
    with pytest.raises(SchemaError, match="customers"):
        orders_task.make_table(db, CUTOFFS)
    no_path = EntityTask(
        name="z",
        entity_table="items",
        window="7D",
        label=count("orders"),
        task_type="regression",
    )
    with pytest.raises(SchemaError, match=r"no foreign-key path .*'orders'.*'items'"):
        no_path.make_table(db, CUTOFFS)
    binary = EntityTask(
        name="b",
        entity_table="customers",
        window="30D",
        label=count("orders"),
        task_type="binary",
    )
    with pytest.raises(ValueError, match="not 0/1"):
        binary.make_table(db, CUTOFFS)
    with pytest.raises(ValueError, match="task_type"):
        EntityTask(
            name="c",
            entity_table="customers",
            window="7D",
            label=count("orders"),
            task_type="multiclass",
        )  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="how="):
        aggregate("orders", "amount", "median")


def test_keys_that_reach_no_entity_warn():
    db = Database(
        {
            "users": Table(pd.DataFrame({"uid": [1, 2]}), primary_key="uid"),
            "visits": Table(
                pd.DataFrame({"vid": [1, 2], "uid": [7, 8], "ts": ["2026-01-02"] * 2}),
                primary_key="vid",
                foreign_keys={"uid": "users"},
                time_column="ts",
            ),
        },
        validate=False,
    )
    task = EntityTask(
        name="v",
        entity_table="users",
        window="7D",
        label=count("visits"),
        task_type="regression",
    )
    with pytest.warns(RelationalWarning, match="no value of visits.uid is a key"):
        _, y = task.make_table(db, ["2026-01-01"])
    assert y.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("30D", pd.Timedelta(days=30)),
        ("12h", pd.Timedelta(hours=12)),
        ("30 days", pd.Timedelta(days=30)),
        (pd.Timedelta(days=2), pd.Timedelta(days=2)),
        ("MS", pd.offsets.MonthBegin()),
        ("1MS", pd.offsets.MonthBegin()),  # a month start, not milliseconds
        (pd.DateOffset(months=1), pd.DateOffset(months=1)),
    ],
)
def test_window_parsing(window, expected):
    task = EntityTask(
        name="w",
        entity_table="c",
        window=window,
        label=count("o"),
        task_type="regression",
    )
    assert task.window == expected
    assert type(task.window) is type(expected)


@pytest.mark.parametrize("window", ["-7D", "0D", "soon", 3])
def test_bad_windows(window):
    with pytest.raises((ValueError, TypeError), match="window"):
        EntityTask(
            name="w",
            entity_table="c",
            window=window,
            label=count("o"),
            task_type="regression",
        )


def test_schedule():
    assert schedule("2013-01-28", "2013-02-11", "W-MON").day.tolist() == [28, 4, 11]
    assert schedule("1933-12-31", "1935-12-31", "YE").year.tolist() == [
        1933,
        1934,
        1935,
    ]
    with pytest.raises(ValueError, match="no cut-off"):
        schedule("2013-01-02", "2013-01-03", "MS")


def test_vectorised_on_many_rows_and_cutoffs():
    """200k rows, 52 weekly cut-offs, 28-day look-back: well under a second."""
    rng = np.random.default_rng(1)
    n = 200_000
    db = Database(
        {
            "users": Table(pd.DataFrame({"uid": np.arange(5_000)}), primary_key="uid"),
            "events": Table(
                pd.DataFrame(
                    {
                        "eid": np.arange(n),
                        "uid": rng.integers(0, 5_000, n),
                        "ts": START
                        + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s"),
                    }
                ),
                primary_key="eid",
                foreign_keys={"uid": "users"},
                time_column="ts",
            ),
        }
    )
    task = EntityTask(
        name="v",
        entity_table="users",
        window="7D",
        label=count("events"),
        task_type="regression",
        population=active("events", "28D"),
    )
    X, y = task.make_table(db, schedule("2026-02-02", "2026-12-28", "W-MON"))
    assert len(X) > 100_000
    assert y.sum() > 0
