# SPDX-License-Identifier: BSD-3-Clause
"""Writing a :class:`~tabkit.relational.Database` to SQL (``Database.to_sql``).

Tables are created parents first with real ``PRIMARY KEY`` and ``FOREIGN KEY``
constraints; ``tabkit_schema`` records time columns, static declarations, dtypes
and every key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from tabkit.relational._errors import SchemaError
from tabkit.relational._sql import (
    SCHEMA_FORMAT,
    SCHEMA_TABLE,
    _quote,
    _table_names,
    connect,
    parse_url,
)

if TYPE_CHECKING:
    from tabkit.relational._database import Database

logger = logging.getLogger(__name__)

_CHUNK = 10_000
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format


# -------------------------------------------------------------------- writing
def _sql_type(  # noqa: PLR0911 - one return per SQL type
    values: pd.Series, table: str, column: str
) -> sa.types.TypeEngine[Any]:
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _sql_type(pd.Series(dtype.categories), table, column)
    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Double()
    if isinstance(dtype, pd.DatetimeTZDtype):
        return sa.DateTime(timezone=True)
    if pd.api.types.is_datetime64_dtype(dtype):
        return sa.DateTime()
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        simple: dict[str, sa.types.TypeEngine[Any]] = {
            "string": sa.Text(),
            "empty": sa.Text(),
            "integer": sa.BigInteger(),
            "floating": sa.Double(),
            "mixed-integer-float": sa.Double(),
            "boolean": sa.Boolean(),
            "date": sa.Date(),
            "bytes": sa.LargeBinary(),
            "decimal": sa.Numeric(),
        }
        if inferred in simple:
            return simple[inferred]
        if inferred == "datetime":
            present = values.dropna()
            return sa.DateTime(timezone=present.iloc[0].tzinfo is not None)
        shown = f"object ({inferred})"
    elif pd.api.types.is_string_dtype(dtype):
        return sa.Text()
    else:
        shown = str(dtype)
    raise SchemaError(
        f"table {table!r}: column {column!r} has dtype {shown}, which tabkit cannot "
        "store in SQL; convert it first (e.g. to str, float or seconds)"
    )


def _dependency_order(db: Database) -> list[str]:
    """Parents before children (self-references ignored; cycles kept in order)."""
    names = list(db)
    parents = {
        n: {p for p in db[n].foreign_keys.values() if p != n and p in db} for n in names
    }
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(names):
        ready = [n for n in names if n not in placed and parents[n] <= placed]
        if not ready:  # a cycle: place the first remaining table
            ready = [next(n for n in names if n not in placed)]
        for n in ready:
            order.append(n)
            placed.add(n)
    return order


def _plain(frame: pd.DataFrame, backend: str) -> pd.DataFrame:
    """Values the driver can take: categories decoded, UTC for SQLite."""
    out = frame.copy(deep=False)
    for column in out.columns:
        values = out[column]
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories.dtype
            if pd.api.types.is_integer_dtype(cats):
                values = values.astype("Int64")
            elif pd.api.types.is_numeric_dtype(
                cats
            ) or pd.api.types.is_datetime64_any_dtype(cats):
                values = values.astype(cats)
            else:
                values = values.astype(object)
            dtype = values.dtype
        if backend == "sqlite" and isinstance(dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        out[column] = values
    return out


def _records(frame: pd.DataFrame) -> Iterable[list[dict[Any, Any]]]:
    for start in range(0, len(frame), _CHUNK):
        chunk = frame.iloc[start : start + _CHUNK]
        yield chunk.astype(object).where(chunk.notna(), None).to_dict("records")


def _insert(conn: sa.Connection, target: sa.Table, frame: pd.DataFrame) -> None:
    if not len(frame):
        return
    if conn.dialect.name == "duckdb":  # bulk insert from the frame itself
        raw = conn.connection.dbapi_connection
        view = "__tabkit_insert"
        raw.register(view, frame)  # type: ignore[union-attr]
        try:
            cols = ", ".join(_quote(conn, str(c)) for c in frame.columns)
            conn.exec_driver_sql(
                f"INSERT INTO {_quote(conn, target.name)} ({cols}) SELECT {cols} "
                f"FROM {view}"
            )
        finally:
            raw.unregister(view)  # type: ignore[union-attr]
        return
    if conn.dialect.name == "sqlite":  # the driver's executemany, no processing
        frame = frame.copy(deep=False)
        for column in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
                frame[column] = frame[column].dt.strftime(_SQLITE_DATETIME)
        cols = ", ".join(_quote(conn, str(c)) for c in frame.columns)
        marks = ", ".join("?" * frame.shape[1])
        sql = f"INSERT INTO {_quote(conn, target.name)} ({cols}) VALUES ({marks})"
        for start in range(0, len(frame), _CHUNK):
            chunk = frame.iloc[start : start + _CHUNK].astype(object)
            rows = chunk.where(chunk.notna(), None).itertuples(index=False, name=None)
            conn.exec_driver_sql(sql, list(rows))
        return
    for records in _records(frame):
        conn.execute(target.insert(), records)


def _fk_name(table: str, column: str) -> str:
    digest = hashlib.sha256(f"{table}.{column}".encode()).hexdigest()[:10]
    return f"fk_{table}_{column}"[:40] + f"_{digest}"


def write_database(db: Database, url: Any, *, if_exists: str = "fail") -> None:
    """Write ``db`` with its keys and ``tabkit_schema`` (``Database.to_sql``).

    Parameters
    ----------
    db : Database
    url : str, path or sqlalchemy.URL
    if_exists : {"fail", "replace"}
    """
    if if_exists not in {"fail", "replace"}:
        raise ValueError(f"if_exists must be 'fail' or 'replace', got {if_exists!r}")
    if SCHEMA_TABLE in db:
        raise SchemaError(f"a table may not be called {SCHEMA_TABLE!r} (tabkit's own)")
    for name in db:
        bad = [c for c in db[name]._df.columns if not isinstance(c, str)]
        if bad:
            raise SchemaError(
                f"table {name!r}: column names must be strings, got {bad}"
            )
    order = _dependency_order(db)
    with_orphans = {(r.table, r.column) for r in db.orphans.itertuples()}
    engine = connect(url, read_only=False)
    backend = engine.dialect.name
    metadata = sa.MetaData()
    targets: dict[str, sa.Table] = {}
    frames: dict[str, pd.DataFrame] = {}
    for name in order:
        table = db[name]
        written = [c for c in table.columns if c not in table.composite_keys]
        frame = table._df[written]
        types = {c: _sql_type(frame[c], name, c) for c in written}
        for column, parent in table.foreign_keys.items():  # the parent's key types
            ptable = db[parent]
            parts = table.key_parts(column)
            pparts = ptable.key_parts(ptable.primary_key or "")
            if len(parts) != len(pparts):
                continue
            for part, ppart in zip(parts, pparts, strict=True):
                ptype = _sql_type(ptable._df[ppart], parent, ppart)
                if isinstance(ptype, sa.BigInteger) and isinstance(
                    types[part], sa.Double
                ):
                    frame = frame.assign(**{part: frame[part].astype("Int64")})
                    types[part] = ptype
        frames[name] = frame
        pk_parts = table.key_parts(table.primary_key) if table.primary_key else ()
        columns = [sa.Column(c, types[c], autoincrement=False) for c in written]
        constraints = [sa.PrimaryKeyConstraint(*pk_parts)] if pk_parts else []
        targets[name] = sa.Table(name, metadata, *columns, *constraints)
    deferred: list[tuple[sa.Table, sa.ForeignKeyConstraint]] = []
    for position, name in enumerate(order):
        table = db[name]
        for column, parent in table.foreign_keys.items():
            ptable = db[parent]
            parts = table.key_parts(column)
            pparts = ptable.key_parts(ptable.primary_key or "")
            if len(parts) != len(pparts):  # detail: tabkit reads it back
                logger.info(
                    "table %r: foreign key %r references the composite key of %r "
                    "through its surrogate column: not written as a constraint "
                    "(recorded in %s)",
                    name,
                    column,
                    parent,
                    SCHEMA_TABLE,
                )
                continue
            orphans = (name, column) in with_orphans
            dialect_options: dict[str, Any] = (
                {"postgresql_not_valid": True} if orphans else {}
            )
            fkc = sa.ForeignKeyConstraint(
                list(parts),
                [targets[parent].c[p] for p in pparts],
                name=_fk_name(name, column),
                **dialect_options,
            )
            enforced = backend != "sqlite"
            parent_first = order.index(parent) < position
            if not enforced or (parent_first and not orphans):
                targets[name].append_constraint(fkc)
            elif backend == "postgresql":
                deferred.append((targets[name], fkc))
            else:  # detail: tabkit reads it back from tabkit_schema
                logger.info(
                    "table %r: foreign key %r -> %r is not written as a %s "
                    "constraint (%s); it is recorded in %s and read back",
                    name,
                    column,
                    parent,
                    backend,
                    "orphan values" if orphans else "self-reference or cycle",
                    SCHEMA_TABLE,
                )
    try:
        with engine.begin() as conn:
            existing = set(_table_names(conn))
            clash = [n for n in order if n in existing]
            if clash and if_exists == "fail":
                raise ValueError(
                    f"tables {clash} already exist in {parse_url(url)!r}; pass "
                    "if_exists='replace' to overwrite them"
                )
            cascade = " CASCADE" if backend == "postgresql" else ""
            for name in reversed(order):
                if name in existing:
                    conn.exec_driver_sql(f"DROP TABLE {_quote(conn, name)}{cascade}")
            for name in order:
                targets[name].create(conn)
            for name in order:
                _insert(conn, targets[name], _plain(frames[name], backend))
            for target, fkc in deferred:
                target.append_constraint(fkc)
                conn.execute(sa.schema.AddConstraint(fkc))
            _write_schema_table(conn, db, SCHEMA_TABLE in existing)
    finally:
        engine.dispose()


def _write_schema_table(conn: sa.Connection, db: Database, exists: bool) -> None:
    meta = sa.Table(
        SCHEMA_TABLE,
        sa.MetaData(),
        sa.Column("table_name", sa.Text(), primary_key=True),
        sa.Column("time_column", sa.Text()),
        sa.Column("spec", sa.Text(), nullable=False),
    )
    if exists:
        conn.execute(meta.delete().where(meta.c.table_name.in_(list(db))))
    else:
        meta.create(conn)
    rows = []
    for name in db:
        table = db[name]
        pk = table.primary_key
        spec = {
            "format": SCHEMA_FORMAT,
            "static": table._static,
            "primary_key": list(table.key_parts(pk)) if pk else None,
            "foreign_keys": [
                {"columns": list(table.key_parts(c)), "table": p}
                for c, p in table.foreign_keys.items()
            ],
            "dtypes": {
                str(c): str(d)
                for c, d in table._df.dtypes.items()
                if c not in table.composite_keys
            },
        }
        rows.append(
            {
                "table_name": name,
                "time_column": table.time_column,
                "spec": json.dumps(spec),
            }
        )
    if rows:
        conn.execute(meta.insert(), rows)
