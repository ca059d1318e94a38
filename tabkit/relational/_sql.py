# SPDX-License-Identifier: BSD-3-Clause
"""Reading relational databases through SQLAlchemy (``Database.from_sql``).

SQLite is the embedded default (a plain file path means SQLite); DuckDB and
PostgreSQL go through their SQLAlchemy drivers. Keys come from the schema's
``PRIMARY KEY`` / ``FOREIGN KEY`` constraints; a small table ``tabkit_schema``,
written by ``Database.to_sql`` (``_sql_write``), records what SQL schemas cannot
say: time columns, static tables, pandas dtypes, and foreign keys a backend
could not enforce. Tables whose time is recorded nowhere get it inferred from
their date/time columns (:func:`read_tables`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tabkit.relational._errors import (
    RelationalWarning,
    SchemaError,
    TimeColumnInferredWarning,
    warn,
)
from tabkit.relational._table import Table, _key_parts, is_datetime_column

logger = logging.getLogger(__name__)

#: Name of the metadata table written next to the data.
SCHEMA_TABLE = "tabkit_schema"
_DRIVER_HINTS = {
    "duckdb": (
        "DuckDB URLs need duckdb and duckdb-engine: pip install 'tabkit-ml[duckdb]'"
    ),
    "postgresql": (
        "PostgreSQL URLs need a driver: pip install 'psycopg[binary]' (for "
        "postgresql+psycopg://, and postgresql:// with SQLAlchemy >= 2.1) or "
        "psycopg2-binary (for postgresql+psycopg2://)"
    ),
}

KeySpec = str | tuple[str, ...]
#: Newest ``tabkit_schema`` entry format this version reads in full.
SCHEMA_FORMAT = 2
#: SQL type names of dates and times (not ``TIME`` of day, not ``INTERVAL``).
_DATETIME_TYPE = re.compile(r"DATE|TIMESTAMP", re.IGNORECASE)
#: Dtypes ``tabkit_schema`` may name: numbers, booleans, strings, categories,
#: objects, datetimes (naive or with a time zone) and timedeltas.
_SAFE_DTYPE = re.compile(
    r"u?int(?:8|16|32|64)|U?Int(?:8|16|32|64)|float(?:16|32|64)|Float(?:32|64)"
    r"|bool|boolean|str|string|string\[(?:python|pyarrow)\]|category|object"
    r"|datetime64\[(?:s|ms|us|ns)(?:, [A-Za-z0-9_+\-/:]+)?\]"
    r"|timedelta64\[(?:s|ms|us|ns)\]"
)
#: What pysqlite reads as true in ``uri=...``.
_TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
#: Query arguments of a SQLite URL that go to the driver, not into a file URI.
_PYSQLITE_ARGS = frozenset(
    {
        "uri",
        "timeout",
        "check_same_thread",
        "isolation_level",
        "detect_types",
        "cached_statements",
    }
)


# -------------------------------------------------------------------- engines
def parse_url(url: Any) -> sa.URL:
    """Turn ``url`` into a SQLAlchemy URL; a path (or no ``://``) means SQLite.

    Parameters
    ----------
    url : str, path or sqlalchemy.URL

    Returns
    -------
    url : sqlalchemy.URL

    Examples
    --------
    >>> from tabkit.relational._sql import parse_url
    >>> parse_url("data/shop.db").render_as_string()
    'sqlite:///data/shop.db'
    >>> parse_url("duckdb:///shop.duckdb").get_backend_name()
    'duckdb'
    """
    if isinstance(url, sa.URL):
        return url
    if isinstance(url, os.PathLike):
        return sa.URL.create("sqlite", database=os.fspath(url))
    if isinstance(url, str):
        if "://" not in url:
            return sa.URL.create("sqlite", database=url)
        return sa.make_url(url)
    raise TypeError(
        f"expected a database URL, a path or a sqlalchemy.URL, got {type(url).__name__}"
    )


def connect(url: Any, *, read_only: bool = True) -> sa.Engine:
    """Create an engine for ``url``, read-only by default.

    Read-only means: SQLite opens the file with ``mode=ro`` (``file:`` URIs
    with ``uri=true`` included) and sets ``PRAGMA query_only``; DuckDB opens
    it with ``read_only=True``; PostgreSQL sessions start with
    ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``. Other backends
    are not restricted (a :class:`RelationalWarning` says so).

    Parameters
    ----------
    url : str, path or sqlalchemy.URL
    read_only : bool, default=True

    Returns
    -------
    engine : sqlalchemy.Engine
        Call ``engine.dispose()`` when done.

    Raises
    ------
    ImportError
        The backend's driver is missing (the message says what to install).
    FileNotFoundError
        A read-only SQLite or DuckDB file does not exist.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from tabkit.relational._sql import connect
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.db"
    >>> engine = connect(path, read_only=False)
    >>> with engine.begin() as conn:
    ...     _ = conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    >>> engine.dispose()
    >>> engine = connect(path)
    >>> with engine.connect() as conn:
    ...     conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    0
    >>> engine.dispose()
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        path, params = _sqlite_file(parsed)
        if read_only and path is not None:
            if not os.path.exists(path):
                raise FileNotFoundError(f"no sqlite database at {path!r}")
            query = urllib.parse.urlencode({**params, "mode": "ro"})
            uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?{query}"
            kwargs["creator"] = lambda: sqlite3.connect(uri, uri=True)
            parsed = sa.URL.create(parsed.drivername)
    elif backend == "duckdb":
        path = parsed.database or ""
        if read_only and path not in {"", ":memory:"} and not os.path.exists(path):
            raise FileNotFoundError(f"no duckdb database at {path!r}")
        if read_only:
            kwargs["connect_args"] = {"read_only": True}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        hint = _DRIVER_HINTS.get(
            backend, f"install the SQLAlchemy driver for {backend}"
        )
        raise ImportError(f"cannot open {backend!r} database: {hint} ({exc})") from exc
    if backend == "sqlite" and not read_only:
        _transactional_sqlite(engine)
    if backend == "sqlite" and read_only:  # also holds for in-memory databases

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

    if read_only and backend == "postgresql":

        @sa.event.listens_for(engine, "connect")
        def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cursor.close()
            dbapi_connection.commit()

    elif read_only and backend not in {"sqlite", "duckdb"}:
        warn(
            f"read-only mode is not enforced for {backend} databases: this "
            "connection could write; connect as a user without write rights "
            "to be sure",
            RelationalWarning,
        )
    return engine


def _sqlite_file(parsed: sa.URL) -> tuple[str | None, dict[str, str]]:
    """Return the file of a SQLite URL (None: in memory) and its URI parameters.

    With ``uri=true`` the database is a SQLite URI (``file:path?...``), whose
    parameters SQLAlchemy moves to the URL's query: they are kept (``mode`` is
    replaced when reading read-only).
    """
    database = parsed.database or ""
    params = {
        str(k): str(v if isinstance(v, str) else v[-1])
        for k, v in parsed.query.items()
        if k not in _PYSQLITE_ARGS
    }
    uri = parsed.query.get("uri", "false")
    uri = uri if isinstance(uri, str) else uri[-1]
    if database.startswith("file:") and uri.strip().lower() in _TRUE:
        split = urllib.parse.urlsplit(database)
        params = {**dict(urllib.parse.parse_qsl(split.query)), **params}
        file = urllib.parse.unquote(split.path)
        if params.get("mode") == "memory" or file in {"", ":memory:"}:
            return None, params
        return file, params
    if database in {"", ":memory:"}:
        return None, {}
    return database, {}


def _transactional_sqlite(engine: sa.Engine) -> None:
    """Make DDL part of transactions (pysqlite otherwise commits it at once)."""

    @sa.event.listens_for(engine, "connect")
    def _no_implicit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def _quote(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _table_names(conn: sa.Connection) -> list[str]:
    if conn.dialect.name == "duckdb":
        rows = conn.exec_driver_sql(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = "
            "current_schema() AND database_name = current_database() "
            "ORDER BY table_name"
        )
        return [str(r[0]) for r in rows]
    return [str(n) for n in sa.inspect(conn).get_table_names()]


# -------------------------------------------------------------------- reading
@dataclass
class _Spec:
    """Keys of one table as found in the schema or in ``tabkit_schema``."""

    primary_key: tuple[str, ...] | None = None
    #: (columns, referenced table, referenced columns or None = its primary key)
    foreign_keys: list[tuple[tuple[str, ...], str, tuple[str, ...] | None]] = field(
        default_factory=list
    )
    time_column: str | None = None
    #: declared static in ``tabkit_schema`` (format 2)
    static: bool = False
    dtypes: dict[str, str] = field(default_factory=dict)
    #: columns of a date or time SQL type
    datetime: set[str] = field(default_factory=set)


def _reflect(conn: sa.Connection, names: Sequence[str]) -> dict[str, _Spec]:
    specs = {name: _Spec() for name in names}
    if conn.dialect.name == "duckdb":  # duckdb-engine's inspector is unreliable
        rows = conn.exec_driver_sql(
            "SELECT table_name, constraint_type, constraint_column_names, "
            "referenced_table, referenced_column_names FROM duckdb_constraints() "
            "WHERE schema_name = current_schema() AND database_name = "
            "current_database() AND constraint_type IN ('PRIMARY KEY', "
            "'FOREIGN KEY') ORDER BY table_name, constraint_index"
        )
        for table, kind, cols, parent, referred in rows:
            if table not in specs:
                continue
            if kind == "PRIMARY KEY":
                specs[table].primary_key = tuple(cols)
            else:
                specs[table].foreign_keys.append(
                    (tuple(cols), str(parent), tuple(referred))
                )
        types = conn.exec_driver_sql(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = current_schema() AND database_name = "
            "current_database()"
        )
        for table, column, data_type in types:
            if table in specs and _DATETIME_TYPE.search(str(data_type)):
                specs[table].datetime.add(str(column))
        return specs
    inspector = sa.inspect(conn)
    for name in names:
        specs[name].datetime = _datetime_typed(conn, inspector, name)
        pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
        specs[name].primary_key = tuple(pk) or None
        for fk in inspector.get_foreign_keys(name):
            if fk.get("referred_schema") not in {None, inspector.default_schema_name}:
                warn(
                    f"table {name!r}: foreign key {fk['constrained_columns']} "
                    f"references another schema ({fk['referred_schema']}): dropped",
                    RelationalWarning,
                )
                continue
            specs[name].foreign_keys.append(
                (
                    tuple(fk["constrained_columns"]),
                    str(fk["referred_table"]),
                    tuple(fk["referred_columns"]),
                )
            )
    return specs


def _datetime_typed(conn: sa.Connection, inspector: Any, name: str) -> set[str]:
    """Columns of ``name`` whose SQL type is a date or a time stamp."""
    if conn.dialect.name == "sqlite":  # the declared type, before affinity
        rows = conn.exec_driver_sql(f"PRAGMA table_info({_quote(conn, name)})")
        return {str(r[1]) for r in rows if _DATETIME_TYPE.search(str(r[2] or ""))}
    found = set()
    for column in inspector.get_columns(name):
        kind = column["type"]
        if isinstance(kind, sa.types.DateTime | sa.types.Date):
            found.add(str(column["name"]))
            continue
        try:
            text = str(kind)
        except sa.exc.SQLAlchemyError:  # pragma: no cover - uncompilable type
            text = type(kind).__name__
        if _DATETIME_TYPE.search(text):
            found.add(str(column["name"]))
    return found


def _recorded(conn: sa.Connection) -> dict[str, _Spec]:
    """Read the specs stored in ``tabkit_schema`` (unreadable entries skipped)."""
    frame = pd.read_sql_query(
        sa.text(
            f"SELECT table_name, time_column, spec FROM {_quote(conn, SCHEMA_TABLE)}"
        ),
        conn,
    )
    specs: dict[str, _Spec] = {}
    for table, time_column, text in frame.itertuples(index=False):
        try:
            raw = json.loads(text)
            if int(raw.get("format", 1)) > SCHEMA_FORMAT:
                warn(
                    f"{SCHEMA_TABLE}: the entry for {table!r} was written by a "
                    f"newer tabkit (format {raw['format']}); reading what this "
                    "version understands",
                    RelationalWarning,
                )
            static = raw.get("static", False)
            if not isinstance(static, bool):
                raise TypeError(f"'static' must be true or false, got {static!r}")
            specs[str(table)] = _Spec(
                primary_key=tuple(raw["primary_key"]) if raw["primary_key"] else None,
                foreign_keys=[
                    (tuple(fk["columns"]), str(fk["table"]), None)
                    for fk in raw["foreign_keys"]
                ],
                time_column=None if pd.isna(time_column) else str(time_column),
                static=static,
                dtypes={str(k): str(v) for k, v in raw["dtypes"].items()},
            )
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            warn(
                f"{SCHEMA_TABLE}: unreadable entry for {table!r} ignored ({exc}); "
                "its keys, time column and dtypes come from the SQL schema and "
                "inference instead",
                RelationalWarning,
            )
    return specs


def _read_frame(conn: sa.Connection, name: str) -> pd.DataFrame:
    if conn.dialect.name == "duckdb":  # DuckDB builds the frame itself (fast)
        raw: Any = conn.connection.dbapi_connection
        frame = raw.execute(f"SELECT * FROM {_quote(conn, name)}").df()
        return pd.DataFrame(frame)
    return pd.read_sql_table(name, conn)


def _restore_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str], table: str) -> None:
    """Give columns back the pandas dtypes recorded in ``tabkit_schema``.

    Only dtypes of the allow-list ``_SAFE_DTYPE`` are accepted: any other
    name is a :class:`SchemaError` naming the table and the column.
    """
    for column, dtype in dtypes.items():
        if not _SAFE_DTYPE.fullmatch(dtype):
            raise SchemaError(
                f"{SCHEMA_TABLE}: table {table!r}, column {column!r} names dtype "
                f"{dtype!r}, which tabkit does not restore (allowed: integer, "
                "float, bool, string, category, object, datetime64 with or "
                "without a time zone, timedelta64); fix or remove the entry"
            )
    for column, dtype in dtypes.items():
        if column not in frame.columns or str(frame[column].dtype) == dtype:
            continue
        values = frame[column]
        try:
            if dtype.startswith("datetime64"):
                aware = "," in dtype
                parsed = pd.to_datetime(values, utc=aware, format="mixed")
                if not aware and isinstance(parsed.dtype, pd.DatetimeTZDtype):
                    parsed = parsed.dt.tz_convert(None)
                frame[column] = parsed.astype(pd.api.types.pandas_dtype(dtype))
            else:
                frame[column] = values.astype(pd.api.types.pandas_dtype(dtype))
        except (TypeError, ValueError, OverflowError) as exc:
            logger.debug(
                "table %r: column %r kept as %s (%s)", table, column, values.dtype, exc
            )


def read_tables(
    url: Any,
    *,
    tables: Sequence[str] | None = None,
    primary_keys: Mapping[str, KeySpec | None] | None = None,
    foreign_keys: Mapping[str, Mapping[KeySpec, str | None]] | None = None,
    time_columns: Mapping[str, str] | None = None,
    static: Sequence[str] | None = None,
    read_only: bool = True,
) -> dict[str, Table]:
    """Read tables with their keys and time (the engine of ``Database.from_sql``).

    Parameters
    ----------
    url, tables, primary_keys, foreign_keys, time_columns, static, read_only
        As for :meth:`tabkit.relational.Database.from_sql`.

    Returns
    -------
    tables : dict of str to Table
    """
    static = _check_time_declarations(time_columns or {}, static)
    engine = connect(url, read_only=read_only)
    try:
        with engine.connect() as conn:
            available = _table_names(conn)
            recorded = _recorded(conn) if SCHEMA_TABLE in available else {}
            data_tables = [n for n in available if n != SCHEMA_TABLE]
            names = list(data_tables if tables is None else tables)
            missing = [n for n in names if n not in data_tables]
            if missing:
                raise SchemaError(
                    f"tables {missing} are not in the database (tables: {data_tables})"
                )
            for what, given in (
                ("primary_keys", primary_keys),
                ("foreign_keys", foreign_keys),
                ("time_columns", time_columns),
                ("static", static),
            ):
                unknown = sorted(set(given or {}) - set(names))
                if unknown:
                    raise SchemaError(
                        f"{what} names tables {unknown} that are not read "
                        f"(tables read: {names})"
                    )
            specs = _reflect(conn, names)
            frames = {name: _read_frame(conn, name) for name in names}
            conn.rollback()
    finally:
        engine.dispose()
    for name, spec in recorded.items():
        if name in specs:
            _merge_recorded(specs[name], spec)
    return _build_tables(
        frames,
        specs,
        primary_keys or {},
        foreign_keys or {},
        time_columns or {},
        static=static,
    )


def _check_time_declarations(
    time_columns: Mapping[str, str], static: Sequence[str] | None
) -> list[str]:
    """Check ``time_columns=`` and ``static=``; return the static table names."""
    if isinstance(static, str):
        raise TypeError(f"static must be a list of table names, got {static!r}")
    names = [str(n) for n in (static or [])]
    for table, column in time_columns.items():
        if column is None:
            raise SchemaError(
                f"time_columns={{{table!r}: None}}: a table without time is "
                f"declared static: pass static=[{table!r}]"
            )
        if not isinstance(column, str):
            raise SchemaError(
                f"time_columns[{table!r}] must name a column, got {column!r}"
            )
    both = sorted(set(names) & set(time_columns))
    if both:
        raise SchemaError(
            f"tables {both} are in both time_columns and static: a table is "
            "either timed or static"
        )
    return names


def _merge_recorded(spec: _Spec, record: _Spec) -> None:
    """Fill in what the schema's constraints lack from ``tabkit_schema``."""
    if spec.primary_key is None:
        spec.primary_key = record.primary_key
    known = {frozenset(cols) for cols, _, _ in spec.foreign_keys}
    spec.foreign_keys += [
        fk for fk in record.foreign_keys if frozenset(fk[0]) not in known
    ]
    spec.time_column = record.time_column
    spec.static = record.static
    spec.dtypes = record.dtypes


def _build_tables(
    frames: Mapping[str, pd.DataFrame],
    specs: Mapping[str, _Spec],
    primary_keys: Mapping[str, KeySpec | None],
    foreign_keys: Mapping[str, Mapping[KeySpec, str | None]],
    time_columns: Mapping[str, str],
    *,
    static: Sequence[str],
) -> dict[str, Table]:
    pks: dict[str, tuple[str, ...] | None] = {}
    for name, spec in specs.items():
        if name in primary_keys:
            given = primary_keys[name]
            pks[name] = (
                None if given is None else _key_parts(given, name, "primary key")
            )
        else:
            pks[name] = spec.primary_key
    result: dict[str, Table] = {}
    report: list[tuple[str, list[str], str | None, str | None]] = []
    for name, spec in specs.items():
        fks: dict[tuple[str, ...], str] = {}
        discovered = {frozenset(cols) for cols, _, _ in spec.foreign_keys}
        for cols, parent, referred in spec.foreign_keys:
            ppk = pks.get(parent)
            if parent not in specs:
                warn(
                    f"table {name!r}: foreign key {list(cols)} references table "
                    f"{parent!r}, which is not read: dropped",
                    RelationalWarning,
                )
                continue
            if referred is not None and (ppk is None or set(referred) != set(ppk)):
                warn(
                    f"table {name!r}: foreign key {list(cols)} references columns "
                    f"{list(referred)} of {parent!r}, not its primary key ("
                    + ("it has none" if ppk is None else f"{list(ppk)}")
                    + "): dropped (tabkit keys reference primary keys; see "
                    "primary_keys= and foreign_keys= of from_sql)",
                    RelationalWarning,
                )
                continue
            if referred is not None and ppk is not None:  # SQL matches by position
                fks[tuple(cols[referred.index(p)] for p in ppk)] = parent
            else:
                fks[cols] = parent
        for given, target in foreign_keys.get(name, {}).items():
            cols = _key_parts(given, name, "foreign key")
            match = [c for c in fks if set(c) == set(cols)]
            if target is None and not match and frozenset(cols) not in discovered:
                raise SchemaError(
                    f"table {name!r}: no foreign key {given!r} to remove "
                    f"(found: {[list(c) for c in fks]})"
                )
            for old in match:
                del fks[old]
            if target is not None:
                fks[cols] = target
        frame = frames[name]
        _restore_dtypes(frame, spec.dtypes, name)
        pk = pks[name]
        keys: dict[str, Any] = {
            "primary_key": None if pk is None else (pk[0] if len(pk) == 1 else pk),
            "foreign_keys": {(c[0] if len(c) == 1 else c): p for c, p in fks.items()},
            "name": name,
        }
        if name in time_columns or name in static:
            table = Table(
                frame, time_column=time_columns.get(name), static=name in static, **keys
            )
        elif spec.time_column is not None or spec.static:
            table = Table(
                frame, time_column=spec.time_column, static=spec.static, **keys
            )
        else:
            table = _inferred(frame, spec.datetime, keys, report)
        result[name] = table
    if report:
        warn(_inference_message(report), TimeColumnInferredWarning)
    return result


def _inferred(
    frame: pd.DataFrame,
    typed: set[str],
    keys: Mapping[str, Any],
    report: list[tuple[str, list[str], str | None, str | None]],
) -> Table:
    """Build a table whose time nobody declared: its only date/time column.

    ``typed`` holds the columns of a date/time SQL type; with the columns
    whose values are dates (:func:`is_datetime_column`) they are the
    candidates. One candidate becomes the time column; several leave the
    table undeclared (refused at use). ``report`` gets ``(table, candidates,
    time column, reason it could not be used)`` for the warning.
    """
    name = keys["name"]
    dated = {str(c) for c in frame.columns if is_datetime_column(frame[c])}
    candidates = [str(c) for c in frame.columns if c in typed or c in dated]
    time_column, problem = None, None
    if len(candidates) == 1 and candidates[0] not in dated:
        # a date/time SQL type holding other values (SQLite keeps any value),
        # such as Unix times: how to read them is the user's to declare
        sample = frame[candidates[0]].dropna().head(1).tolist()
        problem = f"its values are not dates, e.g. {sample}" if sample else None
    elif len(candidates) == 1:
        try:
            table = Table(frame, time_column=candidates[0], **keys)
        except SchemaError as exc:
            problem = str(exc)
        else:
            time_column = candidates[0]
    if time_column is None:
        table = Table(frame, **keys)
    # SQL-typed columns count even when their values do not look like dates
    table._datetime = tuple(
        c for c in table.columns if c in candidates or c in table._datetime
    )
    table._time_inferred = time_column is not None
    if candidates:
        report.append((name, candidates, time_column, problem))
    return table


def _inference_message(
    report: Sequence[tuple[str, list[str], str | None, str | None]],
) -> str:
    inferred = [f"{t!r}: {c!r}" for t, _, c, _ in report if c is not None]
    left = [(t, cands, problem) for t, cands, c, problem in report if c is None]
    parts = []
    if inferred:
        parts.append(
            "Database.from_sql inferred time columns that were not declared, "
            "each its table's only date/time column: " + ", ".join(inferred) + "."
        )
    if left:
        shown = "; ".join(
            f"{t!r} {cands}" + (f" ({problem})" if problem else "")
            for t, cands, problem in left
        )
        parts.append(
            "Tables left without a time column (several date/time columns, or "
            f"one that cannot be used): {shown}. Features and tasks refuse them "
            "until they are declared."
        )
    example = (left or report)[0][0]
    parts.append(
        "Check with db.describe(); declare with time_columns={"
        f"{example!r}: ...}} or static=[{example!r}] (to_sql records the "
        "declarations in tabkit_schema)."
    )
    return " ".join(parts)
