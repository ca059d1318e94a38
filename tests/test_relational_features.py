"""RelationalFeatures: brute-force agreement, the time rule, sklearn plumbing."""

from __future__ import annotations

import copy
import pickle
import time
import weakref
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_param_validation

import tabkit
from tabkit.relational import Database, SchemaError, Table
from tabkit.relational._features_plan import NUMERIC_AGGREGATES
from tabkit.relational.features import RelationalFeatures

T0 = pd.Timestamp("2024-01-01")
ONE_DAY = pd.Timedelta(days=1)
FAR_PAST = pd.Timestamp.min  # effective time of a static row in the brute force


def day(x: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=x)


def days(*xs: float | None) -> list:
    return [pd.NaT if x is None else day(x) for x in xs]


# ---------------------------------------------------------------- the database
CHANNELS = ["web", "app", "web", None, "shop", "web", "web", "app", "web", "web"]
CHANNELS += ["shop", "web"]


def shop_tables() -> dict[str, pd.DataFrame]:
    """customers -> orders -> items -> products, stores (static), referrals."""
    stores = pd.DataFrame(
        {"store_id": [1, 2, 3], "size": [100.0, np.nan, 30.0], "city": ["P", "L", "P"]}
    )
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5],
            "age": [30.0, np.nan, 45.0, 22.0, 60.0],
            "region": ["north", "south", None, "north", "east"],
            "birth": pd.to_datetime(
                ["1990-05-01", "1985-01-01", None, "2000-02-02", "1960-03-03"]
            ),
            "store_id": [1.0, 2.0, 1.0, np.nan, 3.0],
            "referrer_id": [np.nan, 1.0, 98.0, 2.0, 3.0],  # 98: an orphan
            "signup": days(0, 5, 10, 40, None),  # customer 5 is never visible
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": np.arange(10, 22),
            # 99 is an orphan; one order has no customer
            "customer_id": [1, 1, 1, 2, 2, 3, 99, 1, 4, None, 1, 3],
            "store_id": [1, 2, 1, 2, None, 1, 1, 2, 1, 1, 3, 3],
            "amount": [10, 20, np.nan, 5, 7, 3, 100, 20, 8, 1, 6, 4.5],
            "channel": CHANNELS,
            "ts": days(1, 3, 3, 6, 20, 12, 2, 25, 41, 4, None, 12),
        }
    )
    items = pd.DataFrame(
        {
            "item_id": np.arange(100, 116),
            "order_id": [
                10,
                10,
                11,
                12,
                13,
                14,
                15,
                16,
                17,
                17,
                18,
                999,
                20,
                21,
                21,
                11,
            ],
            "product_id": [1, 2, 3, 1, 2, 2, 3, 1, 3, 77, 1, 1, 2, 3, 1, 2],
            "quantity": [1, 2, 1, np.nan, 3, 1, 2, 5, 1, 1, 2, 9, 4, 2, 2, 7],
        }
    )  # no time column: an item is known when its order is
    products = pd.DataFrame(
        {
            "product_id": [1, 2, 3],
            "price": [2.5, np.nan, 10.0],
            "category": ["toy", "food", "toy"],
            "listed": days(-10, 0, 15),  # product 3 appears after some of its items
        }
    )
    notes = pd.DataFrame(  # static, known when their customer is
        {"note_id": [1, 2, 3, 4], "customer_id": [1, 2, 2, 5], "score": [1.0, 2, 3, 4]}
    )
    return {
        "stores": stores,
        "customers": customers,
        "orders": orders,
        "items": items,
        "products": products,
        "notes": notes,
    }


def shop_db(frames: dict[str, pd.DataFrame] | None = None) -> Database:
    f = frames or shop_tables()
    return Database(
        {
            "stores": Table(f["stores"], primary_key="store_id"),
            "customers": Table(
                f["customers"],
                primary_key="customer_id",
                foreign_keys={"store_id": "stores", "referrer_id": "customers"},
                time_column="signup",
            ),
            "orders": Table(
                f["orders"],
                primary_key="order_id",
                foreign_keys={"customer_id": "customers", "store_id": "stores"},
                time_column="ts",
            ),
            "items": Table(
                f["items"],
                primary_key="item_id",
                foreign_keys={"order_id": "orders", "product_id": "products"},
            ),
            "products": Table(
                f["products"], primary_key="product_id", time_column="listed"
            ),
            "notes": Table(
                f["notes"],
                primary_key="note_id",
                foreign_keys={"customer_id": "customers"},
            ),
        }
    )


def shop_seeds() -> pd.DataFrame:
    keys = [1, 2, 3, 4, 5, 1, 2, 3, 1, 3, 4, 1, 2, 42]
    cuts = [3, 3, 3, 3, 3, 4, 6, 12, 20.5, 21, 41, 45, 45, 45]
    return pd.DataFrame({"customer_id": keys, "cutoff": days(*cuts)})


# ---------------------------------------------------------------- brute force
def _visible_row(table: Table, key, t):
    df = table.df
    match = df[df[table.primary_key] == key]
    if pd.isna(key) or match.empty:
        return None
    row = match.iloc[0]
    tc = table.time_column
    if tc is not None and not (pd.notna(row[tc]) and row[tc] <= t):
        return None
    return row


def _row_time(table: Table, key) -> pd.Timestamp:
    """A referenced row's time: FAR_PAST if static, NaT if absent or unknown."""
    if table.time_column is None:
        return FAR_PAST
    match = table.df[table.df[table.primary_key] == key]
    return pd.NaT if pd.isna(key) or match.empty else match.iloc[0][table.time_column]


def _own_times(table: Table, rows: pd.DataFrame) -> pd.Series:
    if table.time_column is None:
        return pd.Series(FAR_PAST, index=rows.index)
    return rows[table.time_column]


def _path_rows(db: Database, entity: str, path: dict, key, t) -> pd.DataFrame:
    """Rows of a path visible at t for one seed, with their effective time."""
    if path["up"]:
        fk, parent = path["up"][0]
        child, fkc = path["down"][0]
        erow = _visible_row(db[entity], key, t)
        if erow is None or pd.isna(erow[fk]):
            return db[child].df.iloc[:0].assign(_eff=pd.Series(dtype="M8[ns]"))
        rows = db[child].df[db[child].df[fkc] == erow[fk]].copy()
        if db[child].time_column is None:
            rows["_eff"] = _row_time(db[parent], erow[fk])
        else:
            rows["_eff"] = rows[db[child].time_column]
    else:
        child, fk1 = path["down"][0]
        rows = db[child].df[db[child].df[fk1] == key].copy()
        if db[child].time_column is None:
            rows["_eff"] = _row_time(db[entity], key)
        else:
            rows["_eff"] = rows[db[child].time_column]
        if len(path["down"]) == 2:
            grand, fk2 = path["down"][1]
            parents = rows[[db[child].primary_key, "_eff"]].rename(
                columns={db[child].primary_key: fk2, "_eff": "_parent_eff"}
            )
            g = db[grand].df.reset_index().merge(parents, on=fk2, how="inner")
            own = _own_times(db[grand], g)
            g["_eff"] = np.maximum(own, g["_parent_eff"]).where(own.notna())
            rows = g.sort_values("index").drop(columns=["index", "_parent_eff"])
    rows = rows[rows["_eff"].notna() & (rows["_eff"] <= t)]
    return rows.sort_values("_eff", kind="stable")


def _column_values(db: Database, path: dict, rows: pd.DataFrame, col: dict):
    if col["via"] is None:
        return rows[col["column"]]
    fk, parent = col["via"]
    out = []
    for _, row in rows.iterrows():
        prow = _visible_row(db[parent], row[fk], row["_eff"])
        out.append(np.nan if prow is None else prow[col["column"]])
    return pd.Series(out, index=rows.index, dtype=object)


def _num(values: pd.Series, kind: str) -> np.ndarray:
    if kind == "time":
        stamps = pd.to_datetime(values)
        return ((stamps - pd.Timestamp(0)) / ONE_DAY).to_numpy(dtype=float)
    x = pd.to_numeric(values).to_numpy(dtype=float)
    return np.where(np.isinf(x), np.nan, x)  # infinite values count as missing


def brute_force(rf: RelationalFeatures, db: Database, seeds: pd.DataFrame):
    entity, pk = rf.entity_table, db[rf.entity_table].primary_key
    out = []
    for key, t in zip(seeds[pk], seeds["cutoff"], strict=True):
        t_days = (t - pd.Timestamp(0)) / ONE_DAY
        feats: dict = {}
        for spec in rf.columns_:
            row = _visible_row(db[entity], key, t)
            for fk, parent in spec["chain"]:
                row = None if row is None else _visible_row(db[parent], row[fk], t)
            value = np.nan if row is None else row[spec["column"]]
            if spec["kind"] == "cat":
                known = pd.notna(value)
                cats = spec["categories"]
                feats[spec["name"]] = (
                    (str(value) if str(value) in cats else "__other__")
                    if known
                    else "__missing__"
                )
            elif spec["kind"] == "time":
                feats[spec["name"]] = t_days - _num(pd.Series([value]), "time")[0]
            else:
                feats[spec["name"]] = float(value)
        hop1 = [p for p in rf.paths_ if not p["up"] and len(p["down"]) == 1]
        times = [_path_rows(db, entity, p, key, t)["_eff"] for p in hop1 if p["timed"]]
        times = pd.concat(times) if times else pd.Series(dtype="M8[ns]")
        erow = _visible_row(db[entity], key, t)
        tc = db[entity].time_column
        own = erow[tc] if erow is not None and tc else pd.NaT
        first = min([x for x in [own, times.min()] if pd.notna(x)], default=pd.NaT)
        feats["seed.entity_age_days"] = (t - own) / ONE_DAY if pd.notna(own) else np.nan
        feats["seed.days_since_first"] = (
            (t - first) / ONE_DAY if pd.notna(first) else np.nan
        )
        feats["seed.days_since_last"] = (
            (t - times.max()) / ONE_DAY if len(times) else np.nan
        )
        for path in rf.paths_:
            feats.update(_brute_path(rf, db, path, key=key, t=t, t_days=t_days))
        out.append(feats)
    return pd.DataFrame(out)


def _brute_path(rf, db, path, *, key, t, t_days) -> dict:
    feats = {}
    rows = _path_rows(db, rf.entity_table, path, key, t)
    wins = rf.windows_ if path["timed"] else [["all", None]]
    label = path["name"]
    for w, span in wins:
        sub = rows if span is None else rows[rows["_eff"] > t - pd.Timedelta(span)]
        feats[f"{label}.count.{w}"] = len(sub)
        if span is None or w == "all":
            recency = (t - sub["_eff"].max()) / ONE_DAY if len(sub) else np.nan
            feats[f"{label}.recency.{w}"] = recency
        for col in path["columns"]:
            base = f"{label}.{col['label']}"
            values = _column_values(db, path, sub, col)
            if col["kind"] in ("cat", "key"):
                feats[f"{base}.nunique.{w}"] = values.dropna().nunique()
                strings = values.astype("string")
                for v in col.get("categories", []):
                    feats[f"{base}={v}.count.{w}"] = int((strings == v).sum())
                continue
            x = _num(values, col["kind"])
            ok = x[~np.isnan(x)]
            shift = t_days if col["kind"] == "time" else None
            stats = {
                "count": len(ok),
                "mean": ok.mean() if len(ok) else np.nan,
                "min": ok.min() if len(ok) else np.nan,
                "max": ok.max() if len(ok) else np.nan,
                "sum": ok.sum(),
                "nunique": len(np.unique(ok)),
                "last": ok[-1] if len(ok) else np.nan,
            }
            for name, value in stats.items():
                relative = shift is not None and name in ("mean", "min", "max", "last")
                feats[f"{base}.{name}.{w}"] = shift - value if relative else value
    return feats


def assert_frames_agree(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    for name in got.columns:
        assert name in expected.columns, f"no brute-force value for {name}"
        g, e = got[name], expected[name]
        if isinstance(g.dtype, pd.CategoricalDtype):
            as_list = [[None if pd.isna(v) else v for v in s] for s in (g, e)]
            assert as_list[0] == as_list[1], name
            continue
        np.testing.assert_allclose(
            g.to_numpy(dtype=float),
            e.to_numpy(dtype=float),
            rtol=2e-6,
            atol=1e-5,
            err_msg=name,
        )


# ---------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def db() -> Database:
    return shop_db()


@pytest.fixture(scope="module")
def fitted(db) -> RelationalFeatures:
    rf = RelationalFeatures(
        database=db, entity_table="customers", windows=("2D", "7D", None)
    )
    return rf.fit(shop_seeds())


@pytest.fixture(scope="module")
def full(db) -> RelationalFeatures:
    """Every aggregate, and nothing dropped."""
    rf = RelationalFeatures(
        database=db,
        entity_table="customers",
        windows=("2D", "7D", None),
        numeric_aggregates=NUMERIC_AGGREGATES,
        drop_redundant=False,
    )
    return rf.fit(shop_seeds())


@pytest.mark.parametrize("which", ["fitted", "full"])
def test_matches_brute_force(db, which, request):
    rf = request.getfixturevalue(which)
    seeds = shop_seeds()
    got = rf.transform(seeds)
    assert list(got.columns) == list(rf.get_feature_names_out())
    assert got.shape == (len(seeds), len(rf.feature_names_out_))
    assert_frames_agree(got, brute_force(rf, db, seeds))


def test_matches_brute_force_one_hop_without_parents(db):
    rf = RelationalFeatures(
        database=db,
        entity_table="customers",
        hops=1,
        windows=(pd.Timedelta(days=3), None),
        include_parents=False,
    ).fit(shop_seeds())
    assert_frames_agree(rf.transform(shop_seeds()), brute_force(rf, db, shop_seeds()))


def random_db(seed: int) -> tuple[Database, pd.DataFrame]:
    """Many ties, missing values and times; values repeat within entities."""
    rng = np.random.default_rng(seed)
    n_rows = 1500
    when = pd.Series(T0 + pd.to_timedelta(rng.integers(0, 30, n_rows), unit="D"))
    when[rng.random(n_rows) < 0.05] = pd.NaT
    value = rng.integers(0, 6, n_rows).astype(float)
    value[rng.random(n_rows) < 0.2] = np.nan
    value[rng.random(n_rows) < 0.02] = np.inf  # counts as missing
    events = pd.DataFrame(
        {
            "event_id": np.arange(n_rows),
            "user_id": rng.integers(0, 40, n_rows),
            "value": value,
            "kind": rng.choice(["a", "b", "c", None], n_rows),
            "ts": when,
        }
    )
    users = pd.DataFrame({"user_id": np.arange(40)})
    rdb = Database(
        {
            "users": Table(users, primary_key="user_id"),
            "events": Table(
                events,
                primary_key="event_id",
                foreign_keys={"user_id": "users"},
                time_column="ts",
            ),
        }
    )
    seeds = pd.DataFrame(
        {
            "user_id": rng.integers(0, 45, 200),
            "cutoff": T0 + pd.to_timedelta(rng.integers(0, 32 * 24, 200), unit="h"),
        }
    )
    return rdb, seeds


@pytest.mark.parametrize("chunk", [3, 1 << 22])
def test_random_database_matches_brute_force(monkeypatch, chunk):
    import tabkit.relational._features_compute as compute

    monkeypatch.setattr(compute, "_CHUNK", chunk)  # nunique in many chunks
    rdb, seeds = random_db(seed=chunk)
    rf = RelationalFeatures(
        database=rdb,
        entity_table="users",
        windows=("1D", "3D", "10D", None),
        numeric_aggregates=NUMERIC_AGGREGATES,
    ).fit(seeds)
    got = rf.transform(seeds)
    assert_frames_agree(got, brute_force(rf, rdb, seeds))
    assert got["events.value.nunique.10D"].max() > 1


def test_hand_computed_values(full):
    seeds = pd.DataFrame({"customer_id": [1, 1], "cutoff": days(3, 45)})
    out = full.transform(seeds).iloc[0]
    # orders of customer 1 by day 3: 10 (day 1), 11 (day 3, 20.0), 12 (day 3, NaN)
    assert out["orders.count.2D"] == 2  # (day 1, day 3]
    assert out["orders.count.all"] == 3
    assert out["orders.amount.count.2D"] == 1
    assert out["orders.amount.sum.2D"] == 20
    assert out["orders.amount.mean.all"] == 15
    assert out["orders.amount.last.all"] == 20  # latest non-missing
    assert out["orders.recency.all"] == 0
    assert out["orders.channel=web.count.all"] == 2
    assert out["orders.channel.nunique.all"] == 2
    assert out["orders.store_id.nunique.all"] == 2
    assert out["orders.store_id->stores.size.mean.all"] == 100  # store 2: missing
    # items of those orders (10: products 1, 2; 11: 3, 2; 12: 1); product 3 is
    # listed on day 15, so item 102 carries no price
    assert out["orders/items.count.all"] == 5
    assert out["orders/items.quantity.sum.all"] == 11
    assert out["orders/items.product_id->products.price.mean.all"] == 2.5
    assert out["orders/items.product_id->products.category=toy.count.all"] == 2
    assert out["seed.entity_age_days"] == 3
    assert out["seed.days_since_last"] == 0
    assert out["store_id->stores.size"] == 100
    assert out["customers.region"] == "north"
    late = full.transform(seeds).iloc[1]
    # order 20 (no time) never counts; order 17 (day 25) does
    assert late["orders.count.all"] == 4
    # prices 2.5 (twice) and, once product 3 is listed, 10 (item 108)
    price = late["orders/items.product_id->products.price.mean.all"]
    assert price == pytest.approx(5.0)


def test_planted_future_rows_change_nothing(db, fitted):
    base = shop_tables()
    seeds = shop_seeds()
    for cut in sorted(seeds["cutoff"].unique()):
        t = pd.Timestamp(cut)
        after = [t + pd.Timedelta(seconds=1), t + 2 * ONE_DAY, t + 400 * ONE_DAY]
        f = {k: v.copy() for k, v in base.items()}
        f["orders"] = pd.concat(
            [
                f["orders"],
                pd.DataFrame(
                    {
                        "order_id": [500, 501, 502, 503],
                        "customer_id": [1, 2, 3, 1],
                        "store_id": [1, 2, 3, 1],
                        "amount": [1e6, -1e6, 7.0, 3.0],
                        "channel": ["new", "web", "app", "web"],
                        "ts": [*after, pd.NaT],  # a missing time: never visible
                    }
                ),
            ],
            ignore_index=True,
        )
        f["items"] = pd.concat(
            [
                f["items"],
                pd.DataFrame(
                    {
                        "item_id": [600, 601, 602, 603],
                        "order_id": [500, 501, 503, 502],
                        "product_id": [9, 1, 2, 9],
                        "quantity": [1e3, 1e3, 1e3, 1e3],
                    }
                ),
            ],
            ignore_index=True,
        )
        f["products"] = pd.concat(
            [
                f["products"],
                pd.DataFrame(
                    # 77: referenced by an old item (an orphan until now)
                    {"product_id": [9, 77], "price": [1e5, 1e5], "category": "new"}
                ).assign(listed=after[:2]),
            ],
            ignore_index=True,
        )
        f["customers"] = pd.concat(
            [
                f["customers"],
                pd.DataFrame(
                    {
                        # 98: the (orphan) referrer of customer 3
                        "customer_id": [7, 8, 98],
                        "age": [99.0, 98.0, 97.0],
                        "region": ["x", "y", "z"],
                        "store_id": [1.0, 2.0, 3.0],
                        "referrer_id": [1.0, 2.0, 3.0],
                    }
                ).assign(birth=pd.NaT, signup=after),
            ],
            ignore_index=True,
        )
        planted = shop_db(f)
        rows = seeds[seeds["cutoff"] == t]
        before = fitted.transform(rows)
        now = copy.deepcopy(fitted).set_params(database=planted)
        pd.testing.assert_frame_equal(now.transform(rows), before)


def test_windows_are_half_open(db):
    rf = RelationalFeatures(
        database=db,
        entity_table="customers",
        hops=1,
        windows=("2D",),
        numeric_aggregates=("count",),
        categorical_aggregates=(),
    )
    seeds = pd.DataFrame({"customer_id": [1, 1, 1], "cutoff": days(2.999, 3, 5)})
    out = rf.fit_transform(seeds)
    # (t - 2D, t]: day 1 is in at day 2.999, out at day 3; day 3 is in until day 5
    assert out["orders.count.2D"].tolist() == [1, 2, 0]
    assert "orders.count.all" not in out.columns


def test_hops_and_parents_choose_paths(db):
    seeds = shop_seeds()
    paths = {}
    for hops in (1, 2):
        for parents in (True, False):
            rf = RelationalFeatures(
                database=db,
                entity_table="customers",
                hops=hops,
                include_parents=parents,
            ).fit(seeds)
            paths[hops, parents] = [p["name"] for p in rf.paths_]
            names = rf.get_feature_names_out()
            has_parent_cols = any(n.startswith("store_id->stores.") for n in names)
            assert has_parent_cols == parents
            carried = any("->products." in n for n in names)
            assert carried == (parents and hops == 2)
    assert paths[1, True] == ["customers@referrer_id", "orders", "notes"]
    assert paths[1, False] == paths[1, True]
    assert paths[2, False] == [
        "customers@referrer_id",
        "customers@referrer_id/customers@referrer_id",
        "customers@referrer_id/orders",
        "customers@referrer_id/notes",
        "orders",
        "orders/items",
        "notes",
    ]
    assert paths[2, True] == [
        *paths[2, False],
        "store_id->stores/customers",
        "store_id->stores/orders",
        "referrer_id->customers/customers@referrer_id",
        "referrer_id->customers/orders",
        "referrer_id->customers/notes",
    ]


def test_a_parent_is_carried_by_its_largest_child_table(full):
    # stores are referenced by orders (12 rows) and by customers (5 rows)
    columns = {spec["name"] for spec in full.columns_}
    names = [n for n in full.get_feature_names_out() if n not in columns]
    paths = {n.split(".")[0] for n in names if ".store_id->stores." in n}
    assert paths == {
        "orders",
        "customers@referrer_id/orders",
        "referrer_id->customers/orders",
    }
    assert any(".product_id->products." in n for n in names)  # only items do


def test_static_paths_get_the_all_time_window():
    stores = pd.DataFrame({"store_id": [1, 2], "size": [3.0, 4.0]})
    shelves = pd.DataFrame(
        {"shelf_id": [1, 2, 3], "store_id": [1, 1, 2], "h": [1, 2, 5]}
    )
    static = Database(
        {
            "stores": Table(stores, primary_key="store_id"),
            "shelves": Table(
                shelves, primary_key="shelf_id", foreign_keys={"store_id": "stores"}
            ),
        }
    )
    seeds = pd.DataFrame({"store_id": [1, 2], "cutoff": days(0, 0)})
    rf = RelationalFeatures(database=static, entity_table="stores").fit(seeds)
    out = rf.transform(seeds)
    assert [n for n in out.columns if n.startswith("shelves.count")] == [
        "shelves.count.all"
    ]
    assert not any(n.startswith("seed.") for n in out.columns)
    assert out["shelves.h.sum.all"].tolist() == [3, 5]


def test_empty_tables_and_no_seeds(db, fitted):
    f = shop_tables()
    f["orders"] = f["orders"].iloc[:0]
    empty = shop_db(f)
    rf = copy.deepcopy(fitted).set_params(database=empty)
    out = rf.transform(shop_seeds())
    assert (out["orders.count.all"] == 0).all()
    assert out["orders.amount.mean.all"].isna().all()
    assert (out["orders/items.count.all"] == 0).all()
    none = fitted.transform(shop_seeds().iloc[:0])
    assert none.shape == (0, len(fitted.feature_names_out_))
    assert list(none.columns) == list(fitted.feature_names_out_)


def test_composite_keys(db):
    teams = pd.DataFrame(
        {"year": [2001, 2001, 2002], "team": ["A", "B", "A"], "wins": [90, 70, 95]}
    )
    players = pd.DataFrame({"player": ["p", "q"]})
    stints = pd.DataFrame(
        {
            "stint_id": [1, 2, 3],
            "player": ["p", "p", "q"],
            "year": [2001, 2002, 2001],
            "team": ["A", "A", "B"],
            "ts": pd.to_datetime(["2001-12-31", "2002-12-31", "2001-12-31"]),
        }
    )
    base = Database(
        {
            "players": Table(players, primary_key="player"),
            "teams": Table(teams, primary_key=("year", "team")),
            "stints": Table(
                stints,
                primary_key="stint_id",
                foreign_keys={"player": "players", ("year", "team"): "teams"},
                time_column="ts",
            ),
        }
    )
    seeds = pd.DataFrame(
        {
            "player": ["p", "p", "q"],
            "cutoff": pd.to_datetime(["2001-12-31"] * 2 + ["2002-12-31"]),
        }
    )
    out = RelationalFeatures(
        database=base, entity_table="players", drop_redundant=False
    ).fit_transform(seeds)
    assert out["stints.year__team->teams.wins.mean.all"].tolist() == [90, 90, 70]
    assert out["stints.year__team.nunique.all"].tolist() == [1, 1, 1]


def test_output_types_index_and_inputs_untouched(db, fitted):
    seeds = shop_seeds().set_index(pd.Index(np.arange(100, 114)))
    before = seeds.copy()
    out = fitted.transform(seeds)
    pd.testing.assert_frame_equal(seeds, before)
    assert out.index.equals(seeds.index)
    kinds = {str(d) for d in out.dtypes}
    assert kinds == {"float32", "category"}
    assert isinstance(out["customers.region"].dtype, pd.CategoricalDtype)
    with config_context(transform_output="pandas"):
        pd.testing.assert_frame_equal(fitted.transform(seeds), out)
    # values known by the last cut-off of the fit (customer 5 never is)
    categories = out["customers.region"].cat.categories
    assert list(categories) == ["north", "south", "__other__", "__missing__"]
    assert out.select_dtypes("category").notna().all().all()  # "__missing__"
    assert (out["customers.region"] == "__missing__").any()


def test_time_zone_aware_database():
    f = shop_tables()
    for name, col in (
        ("customers", "signup"),
        ("orders", "ts"),
        ("products", "listed"),
    ):
        f[name][col] = f[name][col].dt.tz_localize("Europe/Paris")
    aware = shop_db(f)
    seeds = shop_seeds().assign(cutoff=lambda s: s["cutoff"].dt.tz_localize("UTC"))
    rf = RelationalFeatures(database=aware, entity_table="customers").fit(seeds)
    assert rf.transform(seeds).shape[0] == len(seeds)
    with pytest.raises(ValueError, match="naive but the database's time columns"):
        rf.transform(shop_seeds())


@pytest.mark.parametrize(
    ("params", "seeds", "error", "match"),
    [
        ({"entity_table": "nope"}, None, SchemaError, "'nope' is not a table"),
        ({"entity_table": None}, None, ValueError, "needs entity_table"),
        ({"database": None}, None, ValueError, "needs database="),
        ({"windows": ("7D", "1W")}, None, ValueError, "given twice"),
        ({"windows": (pd.DateOffset(months=1),)}, None, ValueError, "calendar"),
        ({"windows": ("-3D",)}, None, ValueError, "positive"),
        ({"windows": ()}, None, ValueError, "windows is empty"),
        ({"numeric_aggregates": ("mean", "median")}, None, ValueError, "median"),
        ({"hops": 3}, None, ValueError, "hops"),
        ({}, pd.DataFrame({"customer_id": [1]}), ValueError, "missing \\['cutoff'\\]"),
        (
            {},
            shop_seeds().assign(label=1),
            ValueError,
            "unexpected \\['label'\\]",
        ),
        ({}, shop_seeds().to_numpy(), TypeError, "seed table"),
        (
            {},
            pd.DataFrame({"customer_id": [77], "cutoff": days(3)}),
            ValueError,
            "none of the seed keys",
        ),
        (
            {},
            pd.DataFrame({"customer_id": ["1"], "cutoff": days(3)}),
            ValueError,
            "key column 'customer_id' holds string values",
        ),
        ({"exclude_columns": {"nope": "x"}}, None, ValueError, "table 'nope' is not"),
        (
            {"exclude_columns": {"orders": ["amount", "price"]}},
            None,
            ValueError,
            "table 'orders' has no column 'price'",
        ),
        (
            {"exclude_columns": {"orders": "customer_id"}},
            None,
            ValueError,
            "column 'customer_id' of table 'orders' is a foreign key",
        ),
        (
            {"exclude_columns": {"orders": "ts"}},
            None,
            ValueError,
            "column 'ts' of table 'orders' is its time column",
        ),
        ({"exclude_columns": {"orders": [1]}}, None, TypeError, "exclude_columns"),
        (
            {},
            pd.DataFrame({"customer_id": [1], "cutoff": [pd.NaT]}),
            ValueError,
            "missing values",
        ),
    ],
)
def test_clear_errors(db, params, seeds, error, match):
    rf = RelationalFeatures(database=db, entity_table="customers").set_params(**params)
    with pytest.raises(error, match=match):
        rf.fit(shop_seeds() if seeds is None else seeds)


def test_sklearn_parameter_validation(db):
    rf = RelationalFeatures(database=db, entity_table="customers")
    check_param_validation("RelationalFeatures", rf)


def test_entity_without_primary_key_is_an_error():
    no_pk = Database({"events": Table(pd.DataFrame({"x": [1]}))})
    rf = RelationalFeatures(database=no_pk, entity_table="events")
    with pytest.raises(SchemaError, match="'events' has no primary key"):
        rf.fit(pd.DataFrame({"x": [1], "cutoff": days(0)}))


def test_clone_get_set_params_share_the_database(db, fitted):
    twin = clone(fitted)
    assert twin.database is db
    assert twin.get_params()["windows"] == ("2D", "7D", None)
    assert copy.deepcopy(fitted).database is db
    assert not hasattr(twin, "feature_names_out_")
    # a snapshot: the same features for seeds at or before its time
    snapshot = db.upto(day(12))
    seeds = shop_seeds()
    early = seeds[seeds["cutoff"] <= day(12)]
    swapped = copy.deepcopy(fitted).set_params(database=snapshot)
    pd.testing.assert_frame_equal(swapped.transform(early), fitted.transform(early))


def test_pickle_keeps_a_reference_not_the_tables(db, fitted, monkeypatch):
    from tabkit.relational import _shared

    monkeypatch.setattr(_shared, "_loaded", OrderedDict())  # this test's loads
    seeds = shop_seeds()
    blob = pickle.dumps(fitted)
    assert b"pandas" not in blob  # the plan and a reference, not the tables
    ref = fitted.__getstate__()["_database_ref"]
    assert ref.fingerprint == db.fingerprint()
    assert Path(ref.path).is_file()
    assert pickle.dumps(fitted) == blob  # written once, the same reference
    assert pickle.loads(blob).database is db  # this process: the database itself
    # another process finds the copy on disk and memory-maps it
    monkeypatch.setattr(_shared, "_live", weakref.WeakValueDictionary())
    elsewhere = pickle.loads(blob)
    assert elsewhere.database is not db
    assert elsewhere.database.fingerprint() == db.fingerprint()
    assert pickle.loads(blob).database is elsewhere.database  # loaded once
    pd.testing.assert_frame_equal(elsewhere.transform(seeds), fitted.transform(seeds))
    # once the copy is gone: no database, and the error says what to do
    monkeypatch.setattr(_shared, "_live", weakref.WeakValueDictionary())
    monkeypatch.setattr(_shared, "_loaded", OrderedDict())
    Path(ref.path).unlink()
    loaded = pickle.loads(blob)
    assert loaded.database is None
    assert loaded.schema_fingerprint_ == db.fingerprint()
    with pytest.raises(ValueError, match="set_params\\(database=db\\)") as error:
        loaded.transform(seeds)
    assert "is gone" in str(error.value)
    loaded.set_params(database=db)
    pd.testing.assert_frame_equal(loaded.transform(seeds), fitted.transform(seeds))
    assert pickle.loads(pickle.dumps(fitted)).database is db  # a new copy
    f = shop_tables()
    f["orders"]["amount"] = f["orders"]["amount"].astype(str)
    with pytest.raises(SchemaError, match="'orders': column 'amount' is cat"):
        loaded.set_params(database=shop_db(f)).transform(shop_seeds())
    f = shop_tables()
    f["products"] = f["products"].drop(columns="category")
    with pytest.raises(SchemaError, match="'products': column 'category' is missing"):
        loaded.set_params(database=shop_db(f)).transform(shop_seeds())
    # a column the features do not use, or a wider dtype, is not a mismatch
    f = shop_tables()
    f["stores"]["extra"] = 1
    f["customers"]["age"] = f["customers"]["age"].astype("float32")
    assert shop_db(f).fingerprint() != db.fingerprint()
    out = loaded.set_params(database=shop_db(f)).transform(shop_seeds())
    pd.testing.assert_frame_equal(out, fitted.transform(shop_seeds()))


def test_model_file_round_trip(tmp_path, db):
    rf = RelationalFeatures(
        database=db, entity_table="customers", windows=(pd.Timedelta(hours=36), None)
    ).fit(shop_seeds())
    path = rf.save(tmp_path / "features.tabkit")
    loaded = tabkit.load(path)
    assert loaded.database is None
    assert loaded.windows == ("36h", None)
    loaded.set_params(database=db)
    pd.testing.assert_frame_equal(
        loaded.transform(shop_seeds()), rf.transform(shop_seeds())
    )


# ---------------------------------------------------------------- with LightGBM
def activity_task(
    n_customers: int, seed: int
) -> tuple[Database, pd.DataFrame, np.ndarray]:
    """Customers with a latent order rate; label: any order in the next 30 days."""
    rng = np.random.default_rng(seed)
    rate = np.exp(rng.normal(-2.5, 1.0, n_customers))  # orders per day
    n_orders = rng.poisson(rate * 200)
    owner = np.repeat(np.arange(n_customers), n_orders)
    when = T0 + pd.to_timedelta(rng.uniform(0, 200, len(owner)), unit="D")
    orders = pd.DataFrame(
        {
            "order_id": np.arange(len(owner)),
            "customer_id": owner,
            "amount": rng.gamma(2.0, 10.0, len(owner)),
            "ts": when,
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": np.arange(n_customers),
            "age": rng.integers(18, 80, n_customers),
        }
    )
    db = Database(
        {
            "customers": Table(customers, primary_key="customer_id"),
            "orders": Table(
                orders,
                primary_key="order_id",
                foreign_keys={"customer_id": "customers"},
                time_column="ts",
            ),
        }
    )
    cutoffs = days(100, 130, 160)
    seeds = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(n_customers), len(cutoffs)),
            "cutoff": np.repeat(cutoffs, n_customers),
        }
    )
    future = seeds.merge(orders, on="customer_id")
    future = future[
        (future["ts"] > future["cutoff"])
        & (future["ts"] <= future["cutoff"] + 30 * ONE_DAY)
    ]
    y = seeds.set_index(["customer_id", "cutoff"]).index.isin(
        future.set_index(["customer_id", "cutoff"]).index
    )
    return db, seeds, y.astype(int)


def test_pipeline_with_lightgbm_and_grid_search():
    lightgbm = pytest.importorskip("lightgbm")
    db, seeds, y = activity_task(300, seed=0)
    pipe = make_pipeline(
        RelationalFeatures(database=db, entity_table="customers"),
        lightgbm.LGBMClassifier(
            n_estimators=30, min_child_samples=5, verbose=-1, n_jobs=1
        ),
    )
    grid = GridSearchCV(
        pipe,
        {
            "relationalfeatures__windows": [("30D", None), (None,)],
            "lgbmclassifier__num_leaves": [4, 8],
        },
        cv=2,
        scoring="roc_auc",
    )
    grid.fit(seeds, y)
    assert grid.best_score_ > 0.7
    features = grid.best_estimator_[0]
    assert features.database is db
    proba = grid.predict_proba(seeds.iloc[:5])
    assert proba.shape == (5, 2)


# ---------------------------------------------------------------- performance
def test_performance_smoke(record_property):
    """50k seeds x 300k child rows: well under a few seconds on one core."""
    rng = np.random.default_rng(1)
    n_c, n_o, n_s = 20_000, 300_000, 50_000
    customers = pd.DataFrame({"customer_id": np.arange(n_c)})
    orders = pd.DataFrame(
        {
            "order_id": np.arange(n_o),
            "customer_id": rng.integers(0, n_c, n_o),
            "amount": rng.gamma(2, 10, n_o),
            "channel": rng.choice(["web", "app", "shop"], n_o),
            "ts": T0 + pd.to_timedelta(rng.integers(0, 700 * 86_400, n_o), unit="s"),
        }
    )
    big = Database(
        {
            "customers": Table(customers, primary_key="customer_id"),
            "orders": Table(
                orders,
                primary_key="order_id",
                foreign_keys={"customer_id": "customers"},
                time_column="ts",
            ),
        }
    )
    seeds = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n_c, n_s),
            "cutoff": T0 + pd.to_timedelta(rng.integers(200, 700, n_s), unit="D"),
        }
    )
    rf = RelationalFeatures(database=big, entity_table="customers")
    start = time.perf_counter()
    out = rf.fit_transform(seeds)
    elapsed = time.perf_counter() - start
    record_property("fit_transform_seconds", round(elapsed, 2))
    assert out.shape == (n_s, len(rf.feature_names_out_))
    assert out["orders.count.all"].sum() > 0
    assert elapsed < 30  # about 1-2 s on the 2-core development machine


def test_hops_zero_is_the_entity_only_baseline():
    from tabkit.datasets import make_relational

    task = make_relational(size="tiny", seed=0)
    X, _ = task.train
    names = (
        RelationalFeatures(database=task.database, entity_table="customers", hops=0)
        .fit(X)
        .get_feature_names_out()
    )
    assert all(n.startswith(("customers.", "seed.")) for n in names)
    assert "seed.entity_age_days" in names
    assert "seed.days_since_last" not in names  # needs child rows


# ---------------------------------------------------------------- at scale
def test_dropped_features_are_constant_or_duplicates(fitted):
    seeds = shop_seeds()
    every = clone(fitted).set_params(drop_redundant=False).fit_transform(seeds)
    kept = fitted.transform(seeds)
    dropped = fitted.dropped_features_
    assert dropped
    assert list(kept.columns) == [n for n in every.columns if n not in dropped]
    assert list(fitted.get_feature_names_out()) == list(kept.columns)
    pd.testing.assert_frame_equal(kept, every[kept.columns])
    for name, why in dropped.items():
        if why == "constant":
            assert every[name].nunique(dropna=False) == 1, name
        else:
            twin = why.removeprefix("duplicate of ")
            assert twin in kept.columns
            assert list(every.columns).index(twin) < list(every.columns).index(name)
            np.testing.assert_array_equal(every[name], every[twin], err_msg=name)
    # what is kept is neither constant nor a repeat
    assert (kept.nunique(dropna=False) > 1).all()
    numeric = kept.select_dtypes("float32").fillna(np.inf) + 0.0
    assert not numeric.T.duplicated().any()


def test_redundancy_over_chunks():
    from tabkit.relational._features_run import Redundancy

    found = Redundancy(6)
    chunks = [
        # equal, then different; constant, then not; -0.0 == 0.0; NaN == NaN
        [[1.0, 2.0], [1.0, 2.0], [3.0, 3.0], [0.0, np.nan], [-0.0, np.nan]],
        [[5.0], [6.0], [4.0], [1.0], [1.0]],
    ]
    for chunk in chunks:
        for j, values in enumerate(chunk):
            found.update(j, np.asarray(values))
        found.update(5, pd.Categorical(["a"] * len(chunk[0])))  # a constant category
    assert found.dropped(list("abcdef")) == {
        "e": "duplicate of d",
        "f": "constant",
    }


def test_fit_transform_in_one_pass_equals_fit_then_transform(fitted):
    seeds = shop_seeds().set_index(pd.Index(np.arange(100, 114)))
    twin = clone(fitted)
    out = twin.fit_transform(seeds)  # one chunk: every feature computed once
    assert twin.dropped_features_ == fitted.dropped_features_
    assert list(twin.get_feature_names_out()) == list(out.columns)
    pd.testing.assert_frame_equal(out, fitted.transform(seeds))
    assert out.index.equals(seeds.index)


@pytest.mark.parametrize("chunk", [1, 4])
def test_chunks_of_seeds_give_the_same_features(fitted, monkeypatch, chunk):
    import tabkit.relational._features_run as run

    seeds = shop_seeds()
    whole = fitted.transform(seeds)
    monkeypatch.setattr(run, "SEED_CHUNK", chunk)
    refit = clone(fitted).fit(seeds)
    assert refit.dropped_features_ == fitted.dropped_features_
    pd.testing.assert_frame_equal(refit.transform(seeds), whole)
    pd.testing.assert_frame_equal(clone(fitted).fit_transform(seeds), whole)
    pd.testing.assert_frame_equal(fitted.transform(seeds.iloc[::-1]), whole[::-1])


def test_exclude_columns(db, full):
    seeds = shop_seeds()
    excluded = {"orders": "amount", "products": ["price"], "customers": ["region"]}
    rf = clone(full).set_params(exclude_columns=excluded).fit(seeds)
    names = list(rf.get_feature_names_out())
    assert names == [
        n
        for n in full.get_feature_names_out()
        if not any(part in n for part in (".amount.", ".price.", "region"))
    ]
    pd.testing.assert_frame_equal(rf.transform(seeds), full.transform(seeds)[names])
    assert "amount" not in rf.schema_["orders"]["columns"]
    # an excluded column may change kind: it is not part of the fitted schema
    f = shop_tables()
    f["orders"]["amount"] = f["orders"]["amount"].astype(str)
    out = copy.deepcopy(rf).set_params(database=shop_db(f)).transform(seeds)
    pd.testing.assert_frame_equal(out, rf.transform(seeds))


def test_transform_checks_the_seed_key_dtype(fitted):
    seeds = shop_seeds()
    with pytest.raises(ValueError, match="key column 'customer_id'") as error:
        fitted.transform(seeds.astype({"customer_id": str}))
    message = str(error.value)
    assert "key column 'customer_id' holds string values (dtype" in message
    assert "'customers' holds integer values (dtype int64)" in message
    # whole floats are integer keys
    floats = fitted.transform(seeds.astype({"customer_id": float}))
    pd.testing.assert_frame_equal(floats, fitted.transform(seeds))


def test_verbose_shows_a_progress_bar(db, capsys):
    rf = RelationalFeatures(database=db, entity_table="customers")
    rf.fit_transform(shop_seeds())
    assert capsys.readouterr().err == ""
    rf.set_params(verbose=1).fit(shop_seeds()).transform(shop_seeds())
    err = capsys.readouterr().err
    assert "RelationalFeatures(customers).fit" in err
    assert "RelationalFeatures(customers).transform" in err
    rf.fit_transform(shop_seeds())
    assert "RelationalFeatures(customers).fit_transform" in capsys.readouterr().err


def test_a_large_feature_table_warns(db, monkeypatch):
    from tabkit.relational import features

    monkeypatch.setattr(features, "_LARGE_GIB", 1e-9)
    rf = RelationalFeatures(database=db, entity_table="customers")
    with pytest.warns(UserWarning, match=r"feature table of 0\.0 GiB") as record:
        rf.fit(shop_seeds())
    assert record[0].filename == __file__  # points at the call to fit
    assert "exclude_columns=" in str(record[0].message)
    with pytest.warns(UserWarning, match="feature table") as record:
        make_pipeline(rf, "passthrough").fit_transform(shop_seeds())
    assert record[0].filename == __file__
