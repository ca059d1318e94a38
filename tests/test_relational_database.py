"""Tables, databases, validation, the time rule and SQL round trips."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import sys
import uuid
import warnings

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.base import BaseEstimator, clone

from tabkit.relational import (
    Database,
    OrphanKeysWarning,
    RelationalFeatures,
    RelationalWarning,
    SchemaError,
    Table,
    TimeColumnInferredWarning,
)
from tabkit.relational._sql import _SAFE_DTYPE, SCHEMA_TABLE, connect

# the fixture's orphans are deliberate; test_orphans_reported_not_fatal checks
# the warning
pytestmark = pytest.mark.filterwarnings("ignore::tabkit.relational.OrphanKeysWarning")


# ----------------------------------------------------------------- fixtures
def _frames() -> dict[str, pd.DataFrame]:
    """A small shop: composite key, self-reference, tz-aware time, orphans."""
    teams = pd.DataFrame(
        {
            "yearID": [2001, 2001, 2002],
            "teamID": ["NYA", "BOS", "NYA"],
            "W": [95, 82, 103],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "referrer_id": ["b", None, "a", "a"],
            "signup": pd.to_datetime(
                ["2001-04-01 10:00", "2001-03-01 09:30", None, "2002-01-05 00:00"]
            ).tz_localize("US/Eastern"),
            "segment": pd.Categorical(["x", "y", None, "x"]),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4, 5],
            "customer_id": ["a", "b", "c", "zz", None],
            "yearID": [2001.0, 2001.0, 2002.0, 2002.0, np.nan],
            "teamID": ["NYA", "BOS", "NYA", "XXX", None],
            "amount": [1.5, np.nan, 3.0, 4.0, 2.0],
            "n_items": pd.array([1, None, 3, 4, 2], dtype="Int64"),
            "gift": [True, False, True, True, False],
            "ts": pd.to_datetime(
                [
                    "2001-05-01 12:00",
                    "2001-06-01 12:00",
                    "2002-02-01 08:00",
                    None,
                    "2002-03-01 00:00",
                ]
            ).tz_localize("UTC"),
        }
    )
    return {"teams": teams, "customers": customers, "orders": orders}


def _database(frames: dict[str, pd.DataFrame] | None = None) -> Database:
    f = frames or _frames()
    return Database(
        {
            "teams": Table(f["teams"], primary_key=("yearID", "teamID")),
            "customers": Table(
                f["customers"],
                primary_key="customer_id",
                foreign_keys={"referrer_id": "customers"},
                time_column="signup",
            ),
            "orders": Table(
                f["orders"],
                primary_key="order_id",
                foreign_keys={
                    "customer_id": "customers",
                    ("yearID", "teamID"): "teams",
                },
                time_column="ts",
            ),
        }
    )


@pytest.fixture
def db() -> Database:
    return _database()


def _assert_same(a: Database, b: Database) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        ta, tb = a[name], b[name]
        assert ta.primary_key == tb.primary_key, name
        assert dict(ta.foreign_keys) == dict(tb.foreign_keys), name
        assert dict(ta.composite_keys) == dict(tb.composite_keys), name
        assert ta.time_column == tb.time_column, name
        pd.testing.assert_frame_equal(ta.df, tb.df)
    assert a.fingerprint() == b.fingerprint()


# ----------------------------------------------------------------- tables
def test_composite_surrogate_format():
    t = Table(
        pd.DataFrame(
            {
                "y": [2001, 2001, 2002],
                "t": ["NYA", None, "BOS"],
                "when": pd.to_datetime(["2020-01-01 00:00", "2020-01-02 10:30", None]),
            }
        ),
        primary_key=("y", "t"),
        foreign_keys={("y", "when"): "other"},
    )
    assert t.primary_key == "y__t"
    assert t.df["y__t"].tolist()[0] == "2001|NYA"
    assert pd.isna(t.df["y__t"].iloc[1])
    assert t.df["y__when"].tolist()[:2] == [
        "2001|2020-01-01 00:00:00",
        "2001|2020-01-02 10:30:00",
    ]
    assert dict(t.composite_keys) == {"y__t": ("y", "t"), "y__when": ("y", "when")}
    assert t.foreign_keys == {"y__when": "other"}
    assert t.key_parts("y__t") == ("y", "t")
    assert "y" in t.feature_columns and "y__t" not in t.feature_columns
    # whole floats (a nullable integer column) give the same key as integers
    f = Table(
        pd.DataFrame({"y": [2001.0, np.nan], "t": ["NYA", "NYA"]}),
        primary_key=("y", "t"),
    )
    assert f.df["y__t"].iloc[0] == "2001|NYA"


def test_time_column_inside_a_composite_key():
    weather = Table(
        pd.DataFrame({"origin": ["EWR"], "hour": ["2013-01-01T10:00:00Z"]}),
        primary_key=("origin", "hour"),
        time_column="hour",
    )
    flights = Table(
        pd.DataFrame(
            {
                "fid": [1],
                "origin": ["EWR"],
                "hour": [pd.Timestamp("2013-01-01 10:00", tz="UTC")],
            }
        ),
        primary_key="fid",
        foreign_keys={("origin", "hour"): "weather"},
    )
    assert weather.df["origin__hour"].tolist() == ["EWR|2013-01-01 10:00:00"]
    assert Database({"weather": weather, "flights": flights}).orphans.empty


def test_surrogate_column_clash():
    df = pd.DataFrame({"a": [1], "b": [2], "a__b": ["other"]})
    with pytest.raises(SchemaError, match=r"'a__b' exists"):
        Table(df, primary_key=("a", "b"))
    ok = pd.DataFrame({"a": [1], "b": [2], "a__b": ["1|2"]})
    assert Table(ok, primary_key=("a", "b")).primary_key == "a__b"


def test_bad_declarations():
    df = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(SchemaError, match="'nope' is not a column"):
        Table(df, primary_key="nope")
    with pytest.raises(SchemaError, match="foreign key column 'nope' is not a column"):
        Table(df, foreign_keys={("a", "nope"): "x"})
    with pytest.raises(SchemaError, match="repeats a column"):
        Table(df, primary_key=("a", "a"))
    with pytest.raises(SchemaError, match="declared twice"):
        Table(df, foreign_keys={"a": "x", ("a",): "y"})
    with pytest.raises(SchemaError, match="time column 'nope'"):
        Table(df, time_column="nope")


def test_caller_frames_unchanged_and_table_immutable(db):
    frames = _frames()
    before = {n: f.copy(deep=True) for n, f in frames.items()}
    _database(frames)
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, before[name])
    orders = db["orders"]
    view = orders.df
    view.loc[0, "amount"] = -1.0
    view["new"] = 1
    assert orders.df.loc[0, "amount"] == 1.5
    assert "new" not in orders.columns
    assert copy.copy(db) is db and copy.deepcopy(db) is db
    assert copy.deepcopy(orders) is orders


class _Holder(BaseEstimator):
    def __init__(self, database=None, entity_table="customers"):
        self.database = database
        self.entity_table = entity_table


def test_clone_shares_database(db):
    est = _Holder(database=db)
    assert clone(est).database is db
    assert copy.deepcopy(est).database is db


# ----------------------------------------------------------------- validation
def _check(tables: dict[str, Table], match: str) -> None:
    with pytest.raises(SchemaError, match=match):
        Database(tables)


def test_duplicate_primary_key():
    t = Table(pd.DataFrame({"id": [1, 1, 2, 2, 2, 3]}), primary_key="id")
    _check(
        {"t": t},
        r"table 't': primary key 'id' has 2 duplicated values \(5 rows\), "
        r"e\.g\. \[1, 2\]",
    )


def test_missing_primary_key():
    t = Table(pd.DataFrame({"id": [1.0, np.nan, 3.0]}), primary_key="id")
    _check({"t": t}, r"table 't': primary key 'id' has 1 missing value\(s\)")
    c = Table(pd.DataFrame({"a": [1, 2], "b": ["x", None]}), primary_key=("a", "b"))
    _check({"c": c}, r"primary key 'a__b' \(parts \('a', 'b'\)\) has 1 missing")


def test_unknown_table_and_table_without_primary_key():
    child = Table(pd.DataFrame({"p": [1]}), foreign_keys={"p": "parent"})
    _check(
        {"child": child},
        r"table 'child': foreign key 'p' references unknown table 'parent'",
    )
    parent = Table(pd.DataFrame({"id": [1]}))
    _check({"child": child, "parent": parent}, "which has no primary key")


def test_key_type_mismatch():
    parent = Table(pd.DataFrame({"id": ["1", "2"]}), primary_key="id")
    child = Table(pd.DataFrame({"p": [1, 2]}), foreign_keys={"p": "parent"})
    _check(
        {"parent": parent, "child": child},
        r"table 'child': foreign key column 'p' \(integer, int64\) references "
        r"'parent'\.'id' \(string, (str|object)\): key types differ",
    )
    real = Table(pd.DataFrame({"p": [1.5]}), foreign_keys={"p": "parent"})
    ints = Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")
    _check({"parent": ints, "child": real}, r"\(float, float64\)")
    # compatible: whole floats with integers, category / object with str
    ok = Database(
        {
            "parent": ints,
            "floats": Table(
                pd.DataFrame({"p": [1.0, np.nan]}), foreign_keys={"p": "parent"}
            ),
            "names": Table(pd.DataFrame({"id": ["a", "b"]}), primary_key="id"),
            "cats": Table(
                pd.DataFrame({"n": pd.Categorical(["a", "b"])}),
                foreign_keys={"n": "names"},
            ),
            "objs": Table(
                pd.DataFrame({"n": pd.Series(["a", None], dtype=object)}),
                foreign_keys={"n": "names"},
            ),
        }
    )
    assert len(ok.orphans) == 0


def test_composite_key_checks():
    teams = Table(
        pd.DataFrame({"y": [2001], "t": ["NYA"], "l": ["AL"]}),
        primary_key=("y", "t", "l"),
    )
    two = Table(
        pd.DataFrame({"y": [2001], "t": ["NYA"]}), foreign_keys={("y", "t"): "teams"}
    )
    _check(
        {"teams": teams, "c": two}, r"has 2 parts but the primary key of 'teams' has 3"
    )
    pk = Table(pd.DataFrame({"y": [2001], "t": ["NYA"]}), primary_key=("y", "t"))
    swapped = Table(
        pd.DataFrame({"t": ["NYA"], "y": [2001]}), foreign_keys={("t", "y"): "pk"}
    )
    _check(
        {"pk": pk, "c": swapped},
        r"foreign key column 't' \(string, .*\) references 'pk'\.'y'",
    )


def test_time_column_errors():
    with pytest.raises(SchemaError, match=r"'t'.*'ts' cannot be parsed"):
        Table(pd.DataFrame({"ts": ["2026-01-01", "soon"]}), time_column="ts", name="t")
    with pytest.raises(SchemaError, match="'ts' mixes time zones"):
        Table(
            pd.DataFrame({"ts": ["2026-01-01T00:00+01:00", "2026-01-01T00:00+03:00"]}),
            time_column="ts",
        )
    mixed = pd.Series(
        [pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-02")], dtype=object
    )
    with pytest.raises(SchemaError, match="mixes time-zone-aware and naive"):
        Table(pd.DataFrame({"ts": mixed}), time_column="ts")
    aware = Table(pd.DataFrame({"ts": ["2026-01-01T00:00Z"]}), time_column="ts")
    naive = Table(pd.DataFrame({"ts": ["2026-01-01"]}), time_column="ts")
    _check(
        {"a": aware, "n": naive},
        r"mix time-zone-aware \('a'\.'ts', UTC\) and naive \('n'\.'ts'\)",
    )


def test_orphans_reported_not_fatal(db):
    report = db.orphans
    assert list(report.columns) == [
        "table",
        "column",
        "referenced_table",
        "n_orphans",
        "n_non_null",
        "share",
    ]
    assert report.to_dict("records") == [
        {
            "table": "orders",
            "column": "customer_id",
            "referenced_table": "customers",
            "n_orphans": 1,
            "n_non_null": 4,
            "share": 0.25,
        },
        {
            "table": "orders",
            "column": "yearID__teamID",
            "referenced_table": "teams",
            "n_orphans": 1,
            "n_non_null": 4,
            "share": 0.25,
        },
    ]
    with pytest.warns(OrphanKeysWarning) as caught:
        _database()
    messages = [str(w.message) for w in caught if "orphan" in str(w.message)]
    assert len(messages) == 1
    assert "orders.customer_id -> customers: 1 of 4 (25.0%)" in messages[0]
    assert caught[0].filename == __file__  # points at the caller's code
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean database warns about nothing
        clean = Database({"t": Table(pd.DataFrame({"id": [1]}), primary_key="id")})
    assert clean.orphans.empty


# ----------------------------------------------------------------- time
def test_upto_time_rule(db):
    snap = db.upto("2001-06-01 12:00")  # inclusive
    assert snap["orders"].df["order_id"].tolist() == [1, 2]
    assert snap["teams"] is db["teams"]  # static tables whole
    # NaT rows are never visible, even far in the future
    future = db.upto("2100-01-01")
    assert 4 not in future["orders"].df["order_id"].tolist()
    assert "c" not in future["customers"].df["customer_id"].tolist()
    assert len(db.upto("1990-01-01")["orders"]) == 0
    assert db.min_time == pd.Timestamp("2001-03-01 14:30", tz="UTC")
    assert db.max_time == pd.Timestamp("2002-03-01", tz="UTC")
    assert db.time_aware is True
    static = Database({"t": Table(pd.DataFrame({"id": [1]}), primary_key="id")})
    assert static.min_time is None and static.max_time is None


# ----------------------------------------------------------------- fingerprint
def test_fingerprint(db):
    fp = db.fingerprint()
    assert len(fp) == 64 and fp == _database().fingerprint()
    shuffled = {n: f.sample(frac=1.0, random_state=0) for n, f in _frames().items()}
    assert _database(shuffled).fingerprint() == fp  # row order
    assert db.upto("2001-06-01").fingerprint() == fp  # rows
    reordered = _frames()
    reordered["teams"] = reordered["teams"][["W", "teamID", "yearID"]]
    assert _database(reordered).fingerprint() == fp  # column order

    def changed(**edit) -> str:
        f = _frames()
        for name, fn in edit.items():
            f[name] = fn(f[name])
        return _database(f).fingerprint()

    assert changed(teams=lambda d: d.assign(W=d["W"].astype(float))) != fp  # dtype
    assert changed(teams=lambda d: d.assign(L=0)) != fp  # new column
    f = _frames()
    no_fk = Database(
        {
            "teams": Table(f["teams"], primary_key=("yearID", "teamID")),
            "customers": Table(
                f["customers"], primary_key="customer_id", time_column="signup"
            ),
            "orders": Table(f["orders"], primary_key="order_id", time_column="ts"),
        }
    )
    assert no_fk.fingerprint() != fp
    no_time = Database(
        {
            n: Table(t.df, primary_key=t.primary_key, foreign_keys=t.foreign_keys)
            for n, t in no_fk.tables.items()
        }
    )
    assert no_time.fingerprint() != no_fk.fingerprint()


# ----------------------------------------------------------------- SQL
def test_sqlite_round_trip(db, tmp_path):
    path = tmp_path / "shop.db"
    db.to_sql(path)
    _assert_same(db, Database.from_sql(path))
    _assert_same(db, Database.from_sql(f"sqlite:///{path}"))
    ddl = "\n".join(
        r[0]
        for r in sqlite3.connect(path).execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"
        )
    )
    assert 'PRIMARY KEY ("yearID", "teamID")' in ddl
    assert (
        'FOREIGN KEY("yearID", "teamID") REFERENCES teams ("yearID", "teamID")' in ddl
    )
    assert "FOREIGN KEY(referrer_id) REFERENCES customers (customer_id)" in ddl
    assert "signup DATETIME" in ddl and "ts DATETIME" in ddl
    # tables are created parents first
    names = [
        r[0]
        for r in sqlite3.connect(path).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    ]
    assert names.index("teams") < names.index("orders") and names.index(
        "customers"
    ) < names.index("orders")


def test_duckdb_round_trip(db, tmp_path, optional_import):
    optional_import("duckdb_engine")
    url = f"duckdb:///{tmp_path / 'shop.duckdb'}"
    db.to_sql(url)
    _assert_same(db, Database.from_sql(url))
    engine = connect(url)
    try:
        with engine.connect() as conn:
            kinds = conn.exec_driver_sql(
                "SELECT table_name, constraint_type FROM duckdb_constraints() "
                "WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')"
            ).fetchall()
    finally:
        engine.dispose()
    assert ("teams", "PRIMARY KEY") in kinds and ("orders", "PRIMARY KEY") in kinds
    clean = Database(
        {
            "p": Table(
                pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), primary_key=("a", "b")
            ),
            "c": Table(
                pd.DataFrame({"id": [1], "a": [2], "b": ["y"]}),
                primary_key="id",
                foreign_keys={("a", "b"): "p"},
            ),
        }
    )
    url2 = f"duckdb:///{tmp_path / 'clean.duckdb'}"
    clean.to_sql(url2)
    _assert_same(clean, Database.from_sql(url2))
    engine = connect(url2)
    try:
        with engine.connect() as conn:
            fks = conn.exec_driver_sql(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'FOREIGN KEY'"
            ).fetchall()
    finally:
        engine.dispose()
    assert fks == [(["a", "b"],)]


def test_duckdb_foreign_schema_discovery(tmp_path, optional_import):
    duckdb = optional_import("duckdb")
    optional_import("duckdb_engine")
    path = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        """
        CREATE TABLE teams (year BIGINT, team VARCHAR, PRIMARY KEY (year, team));
        CREATE TABLE games (game_id BIGINT PRIMARY KEY, year BIGINT, team VARCHAR,
            played TIMESTAMPTZ, FOREIGN KEY (year, team) REFERENCES teams (year, team));
        INSERT INTO teams VALUES (2001, 'NYA');
        INSERT INTO games VALUES (1, 2001, 'NYA', '2001-05-01 10:00:00+02'),
                                 (2, NULL, NULL, NULL);
        CREATE TABLE notes (note_id BIGINT PRIMARY KEY, written DATE, seen DATE);
        """
    )
    con.close()
    url = f"duckdb:///{path}"
    # inferred from the SQL types; 'notes' (empty) is typed only by its schema
    with pytest.warns(TimeColumnInferredWarning, match=r"'games': 'played'") as w:
        inferred = Database.from_sql(url)
    assert "'notes' ['written', 'seen']" in str(w[0].message)
    assert inferred["games"].time_column == "played"
    assert inferred.describe().loc["notes", "time"] == "UNDECLARED"
    db = Database.from_sql(url, time_columns={"games": "played"}, static=["notes"])
    assert db["teams"].primary_key == "year__team"
    assert db["games"].foreign_keys == {"year__team": "teams"}
    assert db["games"].df["played"].tolist()[0] == pd.Timestamp(
        "2001-05-01 08:00", tz="UTC"
    )
    assert db.orphans.empty


@pytest.mark.skipif(
    not os.environ.get("TABKIT_TEST_POSTGRES_URL"),
    reason="TABKIT_TEST_POSTGRES_URL unset",
)
def test_postgres_round_trip_and_read_only(db):
    url = os.environ["TABKIT_TEST_POSTGRES_URL"]
    prefix = f"tk_{uuid.uuid4().hex[:8]}_"
    f = _frames()
    ours = Database(
        {
            prefix + "teams": Table(f["teams"], primary_key=("yearID", "teamID")),
            prefix + "customers": Table(
                f["customers"],
                primary_key="customer_id",
                foreign_keys={"referrer_id": prefix + "customers"},
                time_column="signup",
            ),
            prefix + "orders": Table(
                f["orders"],
                primary_key="order_id",
                foreign_keys={
                    "customer_id": prefix + "customers",
                    ("yearID", "teamID"): prefix + "teams",
                },
                time_column="ts",
            ),
        }
    )
    try:
        ours.to_sql(url)
        back = Database.from_sql(url, tables=list(ours))
        _assert_same(ours, back)
        engine = connect(url)
        try:
            with (
                engine.connect() as conn,
                pytest.raises(sa.exc.DBAPIError, match="read-only"),
            ):
                conn.exec_driver_sql(f'DELETE FROM "{prefix}teams"')
        finally:
            engine.dispose()
    finally:
        engine = connect(url, read_only=False)
        with engine.begin() as conn:
            for name in ours:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
            conn.execute(
                sa.text(
                    f"DELETE FROM {SCHEMA_TABLE} WHERE table_name IN :names"
                ).bindparams(sa.bindparam("names", expanding=True)),
                {"names": list(ours)},
            )
        engine.dispose()


def test_read_only(tmp_path, optional_import):
    path = tmp_path / "ro.db"
    Database({"t": Table(pd.DataFrame({"id": [1]}), primary_key="id")}).to_sql(path)
    engine = connect(path)
    try:
        with (
            engine.connect() as conn,
            pytest.raises(sa.exc.OperationalError, match="readonly"),
        ):
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    finally:
        engine.dispose()
    with pytest.raises(FileNotFoundError):
        Database.from_sql(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    optional_import("duckdb_engine")
    url = f"duckdb:///{tmp_path / 'ro.duckdb'}"
    Database({"t": Table(pd.DataFrame({"id": [1]}), primary_key="id")}).to_sql(url)
    engine = connect(url)
    try:
        with (
            engine.connect() as conn,
            pytest.raises(sa.exc.DBAPIError, match="read-only"),
        ):
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    finally:
        engine.dispose()


def test_if_exists(tmp_path):
    path = tmp_path / "x.db"
    one = Database({"t": Table(pd.DataFrame({"id": [1]}), primary_key="id")})
    one.to_sql(path)
    with pytest.raises(ValueError, match=r"tables \['t'\] already exist"):
        one.to_sql(path)
    two = Database(
        {"t": Table(pd.DataFrame({"id": [5, 6], "x": ["a", "b"]}), primary_key="id")}
    )
    two.to_sql(path, if_exists="replace")
    _assert_same(two, Database.from_sql(path))
    other = Database({"u": Table(pd.DataFrame({"k": ["z"]}), primary_key="k")})
    other.to_sql(path)  # a second database in the same file
    both = Database.from_sql(path)
    assert sorted(both) == ["t", "u"] and both["u"].primary_key == "k"


def test_foreign_schema_discovery_and_overrides(tmp_path):
    path = tmp_path / "foreign.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE teams (year INTEGER, team TEXT, PRIMARY KEY (year, team));
        CREATE TABLE games (game_id INTEGER PRIMARY KEY, team TEXT, year INTEGER,
            played TEXT, score INTEGER, refcode TEXT,
            FOREIGN KEY (team, year) REFERENCES teams (team, year),
            FOREIGN KEY (refcode) REFERENCES codes (code));
        CREATE TABLE codes (code TEXT UNIQUE, label TEXT);
        CREATE TABLE loose (k TEXT, game INTEGER);
        INSERT INTO teams VALUES (2001, 'NYA'), (2002, 'BOS');
        INSERT INTO games VALUES (1, 'NYA', 2001, '2001-05-01 10:00:00', 3, 'a'),
                                 (2, 'BOS', 2002, '2002-06-01', NULL, 'b');
        INSERT INTO codes VALUES ('a', 'x'), ('b', 'y');
        INSERT INTO loose VALUES ('k1', 1), ('k2', 2);
        """
    )
    con.close()
    with pytest.warns(
        RelationalWarning,
        match=r"references columns \['code'\] of 'codes', not its primary key",
    ):
        db = Database.from_sql(
            path,
            time_columns={"games": "played"},
            primary_keys={"loose": "k"},
            foreign_keys={"loose": {"game": "games"}},
        )
    games = db["games"]
    # SQL matches composite parts by position: (team, year) -> (team, year),
    # put in the order of the referenced primary key (year, team)
    assert games.foreign_keys == {"year__team": "teams"}
    assert games.composite_keys["year__team"] == ("year", "team")
    assert db["teams"].primary_key == "year__team"
    assert (
        games.time_column == "played"
        and str(games.df["played"].dtype) == "datetime64[ns]"
    )
    assert games.df["score"].dtype == np.float64  # integers with NULL widen to float
    assert db["loose"].foreign_keys == {"game": "games"}
    assert db.orphans.empty
    # removing a discovered key, reading a subset
    with pytest.warns(RelationalWarning, match="which is not read: dropped"):
        sub = Database.from_sql(
            path,
            tables=["games"],
            foreign_keys={"games": {("year", "team"): None}},
            time_columns={"games": "played"},
        )
    assert sub["games"].foreign_keys == {}
    with pytest.raises(SchemaError, match=r"tables \['nope'\] are not in the database"):
        Database.from_sql(path, tables=["nope"])
    with pytest.raises(SchemaError, match="primary_keys names tables"):
        Database.from_sql(path, tables=["games"], primary_keys={"teams": None})
    with (
        pytest.warns(RelationalWarning, match="not its primary key"),
        pytest.raises(SchemaError, match="no foreign key 'score' to remove"),
    ):
        Database.from_sql(path, foreign_keys={"games": {"score": None}})


def test_to_sql_rejects_unstorable(tmp_path):
    db = Database({"t": Table(pd.DataFrame({"d": pd.to_timedelta([1, 2], unit="s")}))})
    with pytest.raises(
        SchemaError, match="table 't': column 'd' has dtype timedelta64"
    ):
        db.to_sql(tmp_path / "x.db")


def test_missing_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb_engine", None)
    with pytest.raises(ImportError, match=r"tabkit-ml\[duckdb\]"):
        connect("duckdb:///:memory:", read_only=False)


# ----------------------------------------------------------------- issue 7
def test_composite_key_parts_never_collide():
    parents = Table(
        pd.DataFrame(
            {
                "a": ["a|b", "a"],
                "b": ["c", "b|c"],
                "name": ["P1", "P2"],
                "score": [1.0, 2.0],
            }
        ),
        primary_key=("a", "b"),
    )
    children = Table(
        pd.DataFrame({"id": [1, 2], "a": ["a", "a|b"], "b": ["b|c", "c"]}),
        primary_key="id",
        foreign_keys={("a", "b"): "parents"},
    )
    db = Database({"parents": parents, "children": children})  # unique keys
    assert db.orphans.empty
    joined = db["children"].df.merge(db["parents"].df, on="a__b", suffixes=("", "_p"))
    # each child joins the parent with the same tuple, not the other one
    assert dict(zip(joined["id"], joined["name"], strict=True)) == {1: "P2", 2: "P1"}
    assert parents.df["a__b"].tolist() == ["a\\|b|c", "a|b\\|c"]
    rf = RelationalFeatures(database=db, entity_table="children", hops=1)
    seeds = pd.DataFrame({"id": [1, 2], "cutoff": pd.to_datetime(["2026-01-01"] * 2)})
    assert rf.fit_transform(seeds)["a__b->parents.score"].tolist() == [2.0, 1.0]
    # the escape character itself is escaped: ("x\\", "|y") != ("x\\|", "y")
    escaped = Table(
        pd.DataFrame({"a": ["x\\", "x\\|"], "b": ["|y", "y"]}), primary_key=("a", "b")
    )
    assert escaped.df["a__b"].is_unique
    # missing where any part is missing, as before
    gaps = pd.DataFrame({"a": ["x", None, "z"], "b": [None, "y", "w"]})
    values = Table(gaps, foreign_keys={("a", "b"): "p"}).df["a__b"]
    assert values.isna().tolist() == [True, True, False]


def _sqlite_file(tmp_path):
    path = tmp_path / "ro.db"
    Database({"t": Table(pd.DataFrame({"id": [1]}), primary_key="id")}).to_sql(path)
    return path


@pytest.mark.parametrize(
    "form", ["file:{path}", "file://{path}", "file:{path}?cache=private"]
)
def test_sqlite_file_uri_stays_read_only(tmp_path, form):
    path = _sqlite_file(tmp_path)
    uri = form.format(path=path)
    sep = "&" if "?" in uri else "?"
    url = f"sqlite:///{uri}{sep}uri=true"
    assert Database.from_sql(url)["t"].primary_key == "id"
    engine = connect(url)
    try:
        for sql in ("DROP TABLE t", "INSERT INTO t VALUES (2)"):
            with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()
    assert len(Database.from_sql(path)["t"]) == 1  # nothing was dropped
    # mode=rw in the URL does not beat read_only=True
    engine = connect(f"sqlite:///file:{path}?mode=rw&uri=true")
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
            conn.exec_driver_sql("DROP TABLE t")
    finally:
        engine.dispose()


def test_sqlite_file_uri_missing_file_is_an_error(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(FileNotFoundError, match="no sqlite database"):
        Database.from_sql(f"sqlite:///file:{missing}?uri=true")
    assert not missing.exists()
    # a literal file name starting with "file:" (no uri=true) is checked too
    with pytest.raises(FileNotFoundError):
        Database.from_sql(f"sqlite:///file:{missing}")
    # writing through a file URI still works
    db = Database({"t": Table(pd.DataFrame({"id": [3]}), primary_key="id")})
    db.to_sql(f"sqlite:///file:{missing}?uri=true")
    assert Database.from_sql(missing)["t"].df["id"].tolist() == [3]


def test_in_memory_read_only_sqlite_refuses_writes():
    engine = connect("sqlite://")
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError):
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "dtype",
    [
        "int64",
        "Int32",
        "float32",
        "Float64",
        "bool",
        "boolean",
        "str",
        "string",
        "category",
        "object",
        "datetime64[ns]",
        "datetime64[us, UTC]",
        "datetime64[ns, America/New_York]",
        "timedelta64[ns]",
    ],
)
def test_schema_dtypes_allowed(dtype):
    assert _SAFE_DTYPE.fullmatch(dtype)


@pytest.mark.parametrize(
    "dtype", ["Sparse[float64]", "interval", "period[D]", "int64; DROP", "O", "V8"]
)
def test_schema_dtypes_outside_the_allow_list_are_refused(tmp_path, dtype):
    path = _sqlite_file(tmp_path)
    con = sqlite3.connect(path)
    spec = con.execute(f"SELECT spec FROM {SCHEMA_TABLE}").fetchone()[0]
    spec = spec.replace('"int64"', json.dumps(dtype))
    con.execute(f"UPDATE {SCHEMA_TABLE} SET spec = ?", (spec,))
    con.commit()
    con.close()
    with pytest.raises(
        SchemaError, match=r"table 't', column 'id' names dtype .*allowed:"
    ):
        Database.from_sql(path)


def _edit_schema_entry(path, edit) -> None:
    con = sqlite3.connect(path)
    spec = json.loads(con.execute(f"SELECT spec FROM {SCHEMA_TABLE}").fetchone()[0])
    con.execute(f"UPDATE {SCHEMA_TABLE} SET spec = ?", (json.dumps(edit(spec)),))
    con.commit()
    con.close()


def test_schema_entries_newer_or_unreadable_warn(tmp_path):
    path = _sqlite_file(tmp_path)
    _edit_schema_entry(path, lambda spec: {**spec, "format": 99})
    with pytest.warns(RelationalWarning, match="written by a newer tabkit"):
        assert Database.from_sql(path)["t"].primary_key == "id"
    _edit_schema_entry(path, lambda spec: {**spec, "format": 2, "static": "yes"})
    with pytest.warns(RelationalWarning, match="unreadable entry for 't' ignored"):
        assert Database.from_sql(path)["t"].primary_key == "id"  # from the schema


def test_read_only_not_enforced_warns(monkeypatch):
    created = []

    def fake_engine(url, **kwargs):
        created.append(url)
        return object()

    monkeypatch.setattr(sa, "create_engine", fake_engine)
    with pytest.warns(RelationalWarning, match="read-only mode is not enforced"):
        connect("mysql://user@host/db")
    assert created
