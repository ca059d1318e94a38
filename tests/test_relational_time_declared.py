"""Every table is timed or static: inference from SQL, refusal, declarations."""

from __future__ import annotations

import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest

from tabkit.relational import (
    Database,
    EntityTask,
    RelationalFeatures,
    SchemaError,
    Table,
    TimeColumnInferredWarning,
    count,
    window_rows,
)

CUTOFF = pd.Timestamp("2026-03-01")


def _bank(path, *, loan_dates: str = "ts TIMESTAMP") -> None:
    """An SQLite file as another program writes it: no tabkit_schema."""
    con = sqlite3.connect(path)
    con.executescript(
        f"""
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, region TEXT);
        CREATE TABLE branches (branch_id INTEGER PRIMARY KEY, city TEXT);
        CREATE TABLE loans (loan_id INTEGER PRIMARY KEY,
            customer_id INTEGER REFERENCES customers (customer_id),
            branch_id INTEGER REFERENCES branches (branch_id),
            amount REAL, {loan_dates});
        INSERT INTO customers VALUES (1, 'north'), (2, 'south');
        INSERT INTO branches VALUES (1, 'Oslo');
        """
    )
    con.executemany(
        "INSERT INTO loans VALUES (?, ?, ?, ?, ?)",
        [
            (10, 1, 1, 100.0, "2026-01-10 09:00:00"),
            (11, 1, 1, 50.0, "2026-02-20 12:30:00"),
            (12, 1, 1, 75.0, "2026-04-02 08:00:00"),  # after the cut-off
            (13, 2, 1, 20.0, "2026-02-01 00:00:00"),
        ],
    )
    con.commit()
    con.close()


def _seeds() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [1, 2], "cutoff": [CUTOFF, CUTOFF]})


def _features(db: Database) -> pd.DataFrame:
    rf = RelationalFeatures(
        database=db,
        entity_table="customers",
        hops=1,
        windows=(None,),
        numeric_aggregates=("count", "recency"),
        drop_redundant=False,  # these tests read every raw feature
    )
    return rf.fit_transform(_seeds())


# ------------------------------------------------------------------ inference
@pytest.mark.parametrize(
    "loan_dates",
    [
        "ts TIMESTAMP",
        "ts DATETIME",
        "ts TIMESTAMPTZ",  # a type name SQLite does not know: NUMERIC affinity
        "ts",  # no declared type: found by its values
        "ts TEXT",  # dates stored as text
    ],
)
def test_sqlite_time_column_inferred_and_no_future_row_counted(tmp_path, loan_dates):
    path = tmp_path / "bank.db"
    _bank(path, loan_dates=loan_dates)
    with pytest.warns(TimeColumnInferredWarning, match=r"'loans': 'ts'") as caught:
        db = Database.from_sql(path)
    assert caught[0].filename == __file__  # points at the caller
    assert db["loans"].time_column == "ts"
    assert db["customers"].static and db["branches"].static
    out = _features(db)
    # the loan of April 2 is after the cut-off: 2 loans, not 3
    assert out["loans.count.all"].tolist() == [2.0, 1.0]
    assert (out["loans.recency.all"] >= 0).all()
    summary = db.describe()
    assert summary.loc["loans", "time"] == "inferred"
    assert summary.loc["customers", "time"] == "static"
    assert "time column 'ts' (inferred)" in repr(db)


def test_the_leak_this_prevents(tmp_path):
    """Declared timeless, the future loan is counted: what inference avoids."""
    path = tmp_path / "bank.db"
    _bank(path)
    db = Database.from_sql(path, static=["loans"])  # a wrong declaration
    assert _features(db)["loans.count.all"].tolist() == [3.0, 1.0]


def test_declarations_win_over_inference(tmp_path):
    path = tmp_path / "two.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE loans (loan_id INTEGER PRIMARY KEY, start TIMESTAMP,
                            due DATE, amount REAL);
        INSERT INTO loans VALUES (1, '2026-01-01 10:00:00', '2026-06-01', 5.0);
        CREATE TABLE parks (park TEXT PRIMARY KEY, opened DATE);
        INSERT INTO parks VALUES ('A', '1912-04-20');
        """
    )
    con.close()
    with pytest.warns(TimeColumnInferredWarning) as caught:
        db = Database.from_sql(path)
    message = str(caught[0].message)
    assert "'parks': 'opened'" in message
    assert "'loans' ['start', 'due']" in message and "refuse" in message
    assert db["loans"].time_column is None and not db["loans"].static
    assert db["loans"].datetime_columns == ["start", "due"]
    assert db.describe().loc["loans", "time"] == "UNDECLARED"
    assert "time UNDECLARED" in repr(db)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left to infer: no warning
        declared = Database.from_sql(
            path, time_columns={"loans": "start"}, static=["parks"]
        )
    assert declared["loans"].time_column == "start"
    assert declared["parks"].static and declared["parks"].time_column is None
    assert declared.describe()["time"].tolist() == ["declared", "static"]
    with pytest.raises(SchemaError, match=r"static=\['parks'\]"):
        Database.from_sql(path, time_columns={"parks": None})
    with pytest.raises(SchemaError, match="either timed or static"):
        Database.from_sql(path, time_columns={"parks": "opened"}, static=["parks"])
    with pytest.raises(SchemaError, match=r"static names tables \['nope'\]"):
        Database.from_sql(path, static=["nope"])


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ("('2026-01-01T10:00:00+02:00'), ('2026-01-01T10:00:00')", "mixes"),
        # Unix times in a date-typed column: never read as nanoseconds of 1970
        ("(1767225600), (1767312000)", r"values are not dates, e.g. \[1767225600\]"),
    ],
)
def test_inferred_column_that_cannot_be_used_is_left_undeclared(
    tmp_path, values, reason
):
    path = tmp_path / "bad.db"
    con = sqlite3.connect(path)
    con.executescript(
        f"""
        CREATE TABLE e (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TIMESTAMPTZ);
        INSERT INTO e (ts) VALUES {values};
        """
    )
    con.close()
    with pytest.warns(TimeColumnInferredWarning, match=reason):
        db = Database.from_sql(path)
    assert db["e"].time_column is None and db["e"].datetime_columns == ["ts"]
    with pytest.raises(SchemaError, match="table 'e' has date/time columns"):
        db.check_time_columns()


# ------------------------------------------------------------------ refusal
def _undeclared() -> Database:
    loans = pd.DataFrame(
        {
            "loan_id": [10, 11, 12],
            "customer_id": [1, 1, 2],
            "start": pd.to_datetime(["2026-01-10", "2026-02-20", "2026-04-02"]),
            "due": ["2026-06-01", "2026-07-01", "2026-08-01"],
        }
    )
    return Database(
        {
            "customers": Table(
                pd.DataFrame({"customer_id": [1, 2]}), primary_key="customer_id"
            ),
            "loans": Table(
                loans,
                primary_key="loan_id",
                foreign_keys={"customer_id": "customers"},
            ),
        }
    )


def _assert_refused(call) -> None:
    with pytest.raises(SchemaError) as info:
        call()
    message = str(info.value)
    assert "table 'loans' has date/time columns ['start', 'due']" in message
    assert "time_column='start'" in message and "time_columns={'loans':" in message
    assert "static=True" in message and "static=['loans']" in message


def test_undeclared_table_refused_by_features_tasks_and_window_rows():
    db = _undeclared()
    rf = RelationalFeatures(database=db, entity_table="customers", hops=1)
    _assert_refused(lambda: rf.fit(_seeds()))
    task = EntityTask(
        name="loans",
        entity_table="customers",
        window="30D",
        label=count("loans"),
        task_type="regression",
    )
    _assert_refused(lambda: task.make_table(db, [CUTOFF]))
    _assert_refused(
        lambda: task.split(db, train=[CUTOFF], val=["2026-05-01"], test=["2026-07-01"])
    )
    _assert_refused(
        lambda: window_rows(db, _seeds(), "loans", entity_table="customers", end="7D")
    )
    # the database itself can still be built, inspected and used for snapshots
    assert len(db.upto(CUTOFF)["loans"]) == 3
    assert db.describe().loc["loans", "datetime_columns"] == ["start", "due"]


def test_declared_tables_are_accepted():
    db = _undeclared()
    loans = db["loans"].df.drop(columns="loan_id__dummy", errors="ignore")
    for declaration in ({"time_column": "start"}, {"static": True}):
        fixed = Database(
            {
                "customers": db["customers"],
                "loans": Table(
                    loans,
                    primary_key="loan_id",
                    foreign_keys={"customer_id": "customers"},
                    **declaration,
                ),
            }
        )
        fixed.check_time_columns()
        counts = _features(fixed)["loans.count.all"].tolist()
        assert counts == ([2.0, 0.0] if "time_column" in declaration else [2.0, 1.0])


def test_static_and_time_column_contradict():
    frame = pd.DataFrame({"ts": ["2026-01-01"]})
    with pytest.raises(SchemaError, match="static=True and time_column='ts'"):
        Table(frame, time_column="ts", static=True, name="t")
    with pytest.raises(TypeError, match="static must be True or False"):
        Table(frame, static="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.to_datetime(["2026-01-01", None]), True),
        (pd.to_datetime(["2026-01-01"]).tz_localize("UTC"), True),
        (pd.Series(pd.Categorical(pd.to_datetime(["2026-01-01"]))), True),
        (pd.Series(["2026-01-01", "2026-02-01T10:30:00.25Z", None]), True),
        (pd.Series([pd.Timestamp("2026-01-01").date()], dtype=object), True),
        (pd.Series(["2026-13-45"]), False),  # ISO-shaped but not a date
        (pd.Series(["2026-01-01", "later"]), False),
        (pd.Series(["2026-01-01_x"]), False),
        (pd.Series([2026, 2027]), False),  # numbers are never dates
        (pd.Series([None, None], dtype=object), False),
        (pd.to_timedelta([1], unit="D"), False),
    ],
)
def test_datetime_columns(values, expected):
    table = Table(pd.DataFrame({"c": values, "k": range(len(values))}))
    assert table.datetime_columns == (["c"] if expected else [])
    assert table.static is not expected  # no time column: static unless dated


# ------------------------------------------------------------------ round trip
def test_static_and_time_round_trip_through_sql(tmp_path):
    parks = Table(
        pd.DataFrame({"park": ["A", "B"], "opened": ["1912-04-20", "1923-04-18"]}),
        primary_key="park",
        static=True,
    )
    games = Table(
        pd.DataFrame(
            {
                "game": [1, 2],
                "park": ["A", "B"],
                "played": pd.to_datetime(["2026-04-01", "2026-04-02"]),
                "booked": pd.to_datetime(["2026-01-01", "2026-01-05"]),
            }
        ),
        primary_key="game",
        foreign_keys={"park": "parks"},
        time_column="played",
    )
    db = Database({"parks": parks, "games": games})
    path = tmp_path / "ball.db"
    db.to_sql(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recorded in tabkit_schema: no inference
        back = Database.from_sql(path)
    assert back["parks"].static and back["parks"].time_column is None
    assert back["games"].time_column == "played"
    pd.testing.assert_frame_equal(back.describe().loc[list(db)], db.describe())
    assert repr(back["parks"]).endswith("static=True)")
    back.check_time_columns()
    # an argument still wins over the record
    assert Database.from_sql(path, time_columns={"games": "booked"})[
        "games"
    ].time_column == ("booked")


def test_describe_columns_and_composite_keys():
    teams = Table(
        pd.DataFrame({"y": [2001], "t": ["NYA"]}), primary_key=("y", "t"), name="x"
    )
    players = Table(
        pd.DataFrame({"p": ["a"], "y": [2001], "t": ["NYA"]}),
        primary_key="p",
        foreign_keys={("y", "t"): "teams"},
    )
    summary = Database({"teams": teams, "players": players}).describe()
    assert list(summary.columns) == [
        "rows",
        "primary_key",
        "foreign_keys",
        "time_column",
        "static",
        "datetime_columns",
        "time",
    ]
    assert summary.loc["teams", "primary_key"] == ("y", "t")
    assert summary.loc["players", "foreign_keys"] == {("y", "t"): "teams"}
    assert summary["rows"].dtype == np.int64
