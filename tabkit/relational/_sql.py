# SPDX-License-Identifier: BSD-3-Clause
"""Reading relational databases through SQLAlchemy (``Database.from_sql``).

SQLite is the embedded default (a plain file path means SQLite); DuckDB and
PostgreSQL go through their SQLAlchemy drivers. Keys come from the schema's
``PRIMARY KEY`` / ``FOREIGN KEY`` constraints; a small table ``tabkit_schema``,
written by ``Database.to_sql`` (``_sql_write``), records what SQL schemas cannot
say: time columns, pandas dtypes, and foreign keys a backend could not enforce.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tabkit.relational._errors import SchemaError
from tabkit.relational._table import Table, _key_parts

logger = logging.getLogger(__name__)

#: Name of the metadata table written next to the data.
SCHEMA_TABLE = "tabkit_schema"
_DRIVER_HINTS = {
    "duckdb": "DuckDB URLs need duckdb and duckdb-engine: pip install 'tabkit[duckdb]'",
    "postgresql": (
        "PostgreSQL URLs need a driver: pip install 'psycopg[binary]' (for "
        "postgresql+psycopg://, and postgresql:// with SQLAlchemy >= 2.1) or "
        "psycopg2-binary (for postgresql+psycopg2://)"
    ),
}

KeySpec = str | tuple[str, ...]


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

    Read-only means: SQLite opens the file with ``mode=ro``; DuckDB with
    ``read_only=True``; PostgreSQL sessions start with
    ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``. Other backends
    are not restricted (a warning says so).

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
    path = parsed.database or ""
    local = backend in {"sqlite", "duckdb"} and path not in {"", ":memory:"}
    if (
        read_only
        and local
        and not path.startswith("file:")
        and not os.path.exists(path)
    ):
        raise FileNotFoundError(f"no {backend} database at {path!r}")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite" and read_only and local and not path.startswith("file:"):
        uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
        kwargs["creator"] = lambda: sqlite3.connect(uri, uri=True)
        parsed = sa.URL.create(parsed.drivername)
    elif backend == "duckdb" and read_only:
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
    if read_only and backend == "postgresql":

        @sa.event.listens_for(engine, "connect")
        def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cursor.close()
            dbapi_connection.commit()

    elif read_only and backend not in {"sqlite", "duckdb"}:
        logger.warning("read-only mode is not enforced for %s databases", backend)
    return engine


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
    dtypes: dict[str, str] = field(default_factory=dict)


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
        return specs
    inspector = sa.inspect(conn)
    for name in names:
        pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
        specs[name].primary_key = tuple(pk) or None
        for fk in inspector.get_foreign_keys(name):
            if fk.get("referred_schema") not in {None, inspector.default_schema_name}:
                logger.warning(
                    "table %r: foreign key %s references another schema (%s): dropped",
                    name,
                    fk["constrained_columns"],
                    fk["referred_schema"],
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
            if int(raw.get("format", 1)) > 1:
                logger.warning(
                    "%s: the entry for %r was written by a newer tabkit (format "
                    "%s); reading what this version understands",
                    SCHEMA_TABLE,
                    table,
                    raw["format"],
                )
            specs[str(table)] = _Spec(
                primary_key=tuple(raw["primary_key"]) if raw["primary_key"] else None,
                foreign_keys=[
                    (tuple(fk["columns"]), str(fk["table"]), None)
                    for fk in raw["foreign_keys"]
                ],
                time_column=None if pd.isna(time_column) else str(time_column),
                dtypes={str(k): str(v) for k, v in raw["dtypes"].items()},
            )
        except (TypeError, ValueError, KeyError) as exc:
            logger.warning(
                "%s: unreadable entry for %r ignored (%s)", SCHEMA_TABLE, table, exc
            )
    return specs


def _read_frame(conn: sa.Connection, name: str) -> pd.DataFrame:
    if conn.dialect.name == "duckdb":  # DuckDB builds the frame itself (fast)
        raw: Any = conn.connection.dbapi_connection
        frame = raw.execute(f"SELECT * FROM {_quote(conn, name)}").df()
        return pd.DataFrame(frame)
    return pd.read_sql_table(name, conn)


def _restore_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str], table: str) -> None:
    """Give columns back the pandas dtypes recorded in ``tabkit_schema``."""
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
    time_columns: Mapping[str, str | None] | None = None,
    read_only: bool = True,
) -> dict[str, Table]:
    """Read tables with their keys (the engine of ``Database.from_sql``).

    Parameters
    ----------
    url, tables, primary_keys, foreign_keys, time_columns, read_only
        As for :meth:`tabkit.relational.Database.from_sql`.

    Returns
    -------
    tables : dict of str to Table
    """
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
        frames, specs, primary_keys or {}, foreign_keys or {}, time_columns or {}
    )


def _merge_recorded(spec: _Spec, record: _Spec) -> None:
    """Fill in what the schema's constraints lack from ``tabkit_schema``."""
    if spec.primary_key is None:
        spec.primary_key = record.primary_key
    known = {frozenset(cols) for cols, _, _ in spec.foreign_keys}
    spec.foreign_keys += [
        fk for fk in record.foreign_keys if frozenset(fk[0]) not in known
    ]
    spec.time_column = record.time_column
    spec.dtypes = record.dtypes


def _build_tables(
    frames: Mapping[str, pd.DataFrame],
    specs: Mapping[str, _Spec],
    primary_keys: Mapping[str, KeySpec | None],
    foreign_keys: Mapping[str, Mapping[KeySpec, str | None]],
    time_columns: Mapping[str, str | None],
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
    for name, spec in specs.items():
        fks: dict[tuple[str, ...], str] = {}
        discovered = {frozenset(cols) for cols, _, _ in spec.foreign_keys}
        for cols, parent, referred in spec.foreign_keys:
            ppk = pks.get(parent)
            if parent not in specs:
                logger.warning(
                    "table %r: foreign key %s references table %r, which is not "
                    "read: dropped",
                    name,
                    list(cols),
                    parent,
                )
                continue
            if referred is not None and (ppk is None or set(referred) != set(ppk)):
                logger.warning(
                    "table %r: foreign key %s references columns %s of %r, not its "
                    "primary key %s: dropped",
                    name,
                    list(cols),
                    list(referred),
                    parent,
                    ppk,
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
        result[name] = Table(
            frame,
            primary_key=None if pk is None else (pk[0] if len(pk) == 1 else pk),
            foreign_keys={(c[0] if len(c) == 1 else c): p for c, p in fks.items()},
            time_column=time_columns.get(name, spec.time_column),
            name=name,
        )
    return result
