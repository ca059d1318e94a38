# SPDX-License-Identifier: BSD-3-Clause
"""A relational database: named tables linked by primary and foreign keys."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd

from tabkit.relational import _sql, _sql_write
from tabkit.relational._errors import SchemaError
from tabkit.relational._table import Table, key_kind

logger = logging.getLogger(__name__)

_ORPHAN_COLUMNS = [
    "table",
    "column",
    "referenced_table",
    "n_orphans",
    "n_non_null",
    "share",
]
_SHOW = 5  # offending values shown in an error message


class Database:
    """Named :class:`Table` objects linked by primary and foreign keys.

    A database is immutable and shared, never copied: :func:`copy.copy`,
    :func:`copy.deepcopy` and scikit-learn's ``clone`` return it as it is, so a
    relational estimator's ``database=`` parameter costs nothing to clone.

    Parameters
    ----------
    tables : mapping of str to Table
        The tables, by name.
    validate : bool, default=True
        Check the schema and the keys (see :meth:`validate`) and log a warning
        listing foreign keys with orphan values.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> customers = Table(pd.DataFrame({"customer_id": [1, 2]}),
    ...                   primary_key="customer_id")
    >>> orders = Table(pd.DataFrame({"order_id": [10, 11], "customer_id": [1, 2],
    ...                              "ts": ["2026-01-01", "2026-03-01"]}),
    ...                primary_key="order_id",
    ...                foreign_keys={"customer_id": "customers"}, time_column="ts")
    >>> db = Database({"customers": customers, "orders": orders})
    >>> sorted(db), len(db.upto("2026-02-01")["orders"])
    (['customers', 'orders'], 1)
    >>> db.min_time, db.max_time
    (Timestamp('2026-01-01 00:00:00'), Timestamp('2026-03-01 00:00:00'))
    """

    _orphans: pd.DataFrame | None = None

    def __init__(self, tables: Mapping[str, Table], *, validate: bool = True) -> None:
        named: dict[str, Table] = {}
        for name, table in tables.items():
            if not isinstance(table, Table):
                raise TypeError(
                    f"table {name!r}: expected a tabkit.relational.Table, got "
                    f"{type(table).__name__}"
                )
            named[str(name)] = table._named(str(name))
        self._tables = MappingProxyType(named)
        if validate:
            self.validate()
            report = self.orphans
            if len(report):
                logger.warning(
                    "foreign keys with orphan values (no matching primary key; "
                    "kept, see Database.orphans): %s",
                    "; ".join(
                        f"{r.table}.{r.column} -> {r.referenced_table}: "
                        f"{r.n_orphans:,} of {r.n_non_null:,} ({r.share:.1%})"
                        for r in report.itertuples()
                    ),
                )

    # ---------------------------------------------------------------- access
    def __getitem__(self, name: str) -> Table:
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(
                f"no table {name!r} in the database (tables: {sorted(self._tables)})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)

    @property
    def tables(self) -> Mapping[str, Table]:
        """``{name: Table}`` (read-only)."""
        return self._tables

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}: {len(t)}" for n, t in self._tables.items())
        return f"Database({sizes})"

    # ---------------------------------------------------------------- schema
    def validate(self) -> None:
        """Check keys, references and time columns; raise :class:`SchemaError`.

        * primary keys: no missing and no duplicated values;
        * foreign keys: reference a table of the database that has a primary
          key, with as many parts as that key (composite keys, matched by
          position) and compatible types (integer keys match integers and
          floats holding whole numbers; str, object and category match each
          other);
        * time columns: all time-zone-aware (UTC) or all naive.

        Orphan foreign-key values (no matching primary key) are not errors:
        see :attr:`orphans`.

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Database, SchemaError, Table
        >>> t = Table(pd.DataFrame({"id": [1, 1, 2]}), primary_key="id")
        >>> try:
        ...     Database({"t": t})
        ... except SchemaError as error:
        ...     print(error)
        table 't': primary key 'id' has 1 duplicated value (2 rows), e.g. [1]
        """
        for name, table in self._tables.items():
            _check_primary_key(name, table)
        aware: dict[bool, tuple[str, str]] = {}
        for name, table in self._tables.items():
            for column, parent in table.foreign_keys.items():
                _check_foreign_key(name, table, column, parent, self._tables)
            if table.time_column is not None:
                dtype = table._df[table.time_column].dtype
                aware.setdefault(
                    isinstance(dtype, pd.DatetimeTZDtype), (name, table.time_column)
                )
        if len(aware) > 1:
            (t1, c1), (t2, c2) = aware[True], aware[False]
            raise SchemaError(
                f"time columns mix time-zone-aware ({t1!r}.{c1!r}, UTC) and naive "
                f"({t2!r}.{c2!r}) timestamps: make them all aware or all naive"
            )

    @property
    def orphans(self) -> pd.DataFrame:
        """Foreign keys with orphan values: values no primary key holds.

        Orphans are kept (a flight's plane may be missing from ``planes``);
        they reach no parent row. One row per foreign key with at least one
        orphan value, sorted by table and column.

        Returns
        -------
        report : DataFrame
            Columns ``table``, ``column``, ``referenced_table``, ``n_orphans``
            (rows whose non-missing value no parent row has), ``n_non_null``
            (rows with a value) and ``share`` (``n_orphans / n_non_null``).

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Database, Table
        >>> db = Database({
        ...     "p": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id"),
        ...     "c": Table(pd.DataFrame({"p_id": [1, 3, None]}),
        ...                foreign_keys={"p_id": "p"})}, validate=False)
        >>> db.orphans
          table column referenced_table  n_orphans  n_non_null  share
        0     c   p_id                p          1           2    0.5
        """
        if self._orphans is None:
            self._orphans = _orphan_report(self._tables)
        return self._orphans.copy()

    @property
    def time_aware(self) -> bool | None:
        """Whether time columns are tz-aware (UTC); None without time columns."""
        for table in self._tables.values():
            if table.time_column is not None:
                return isinstance(
                    table._df[table.time_column].dtype, pd.DatetimeTZDtype
                )
        return None

    @property
    def min_time(self) -> pd.Timestamp | None:
        """Earliest time over the timed tables; None without any time."""
        return self._time_extreme("min")

    @property
    def max_time(self) -> pd.Timestamp | None:
        """Latest time over the timed tables; None without any time."""
        return self._time_extreme("max")

    def _time_extreme(self, how: Literal["min", "max"]) -> pd.Timestamp | None:
        values = [
            getattr(t._df[t.time_column], how)()
            for t in self._tables.values()
            if t.time_column is not None
        ]
        values = [v for v in values if not pd.isna(v)]
        if not values:
            return None
        return min(values) if how == "min" else max(values)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the schema, not of the data.

        It covers the sorted table names and, per table, its columns with
        their dtypes (as strings, sorted by column name: column order does not
        matter), primary key, composite-key parts, foreign keys and time
        column. Rows never enter it: row order, row count and values
        (:meth:`upto` snapshots included) leave it unchanged.

        Returns
        -------
        fingerprint : str
            64 hexadecimal characters.

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Database, Table
        >>> db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
        >>> len(db.fingerprint()), db.fingerprint() == db.upto("2000").fingerprint()
        (64, True)
        """
        spec = [
            {
                "name": name,
                "columns": sorted(
                    [str(c), str(d)] for c, d in table._df.dtypes.items()
                ),
                "primary_key": table.primary_key,
                "composite_keys": {k: list(v) for k, v in table.composite_keys.items()},
                "foreign_keys": sorted([c, p] for c, p in table.foreign_keys.items()),
                "time_column": table.time_column,
            }
            for name, table in sorted(self._tables.items())
        ]
        text = json.dumps({"tabkit_schema": 1, "tables": spec}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    # ---------------------------------------------------------------- time
    def upto(self, t: Any) -> Database:
        """Return the database as known at ``t``: rows with time <= t.

        Tables without a time column are kept whole; rows of a timed table whose
        time is missing are never visible.

        Parameters
        ----------
        t : Timestamp or str
            The cut-off (inclusive). A naive cut-off against tz-aware (UTC)
            times is read as UTC.

        Returns
        -------
        database : Database

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Database, Table
        >>> db = Database({"e": Table(pd.DataFrame({"ts": ["2026-01-01", None]}),
        ...                           time_column="ts")})
        >>> len(db.upto("2026-01-01")["e"]), len(db.upto("2025-01-01")["e"])
        (1, 0)
        """
        new = type(self).__new__(type(self))
        new._tables = MappingProxyType(
            {n: t_.upto(t) for n, t_ in self._tables.items()}
        )
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tables"] = dict(self._tables)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["_tables"] = MappingProxyType(state["_tables"])
        self.__dict__.update(state)

    def __copy__(self) -> Database:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Database:
        return self

    # ---------------------------------------------------------------- SQL
    @classmethod
    def from_sql(
        cls,
        url: str | os.PathLike[str] | Any,
        *,
        tables: Sequence[str] | None = None,
        primary_keys: Mapping[str, str | tuple[str, ...] | None] | None = None,
        foreign_keys: Mapping[str, Mapping[str | tuple[str, ...], str | None]]
        | None = None,
        time_columns: Mapping[str, str | None] | None = None,
        read_only: bool = True,
    ) -> Database:
        """Read a database from SQL: SQLite, DuckDB, PostgreSQL or any SQLAlchemy URL.

        Parameters
        ----------
        url : str, path or sqlalchemy.URL
            A file path or ``sqlite:///path`` (SQLite, the embedded default),
            ``duckdb:///path`` (the ``tabkit[duckdb]`` extra),
            ``postgresql://user@host/db`` (a driver such as ``psycopg2``), or
            any other SQLAlchemy URL.
        tables : sequence of str, optional
            Tables to read (default: all but ``tabkit_schema``). Foreign keys
            to tables not read are dropped, with a warning.
        primary_keys : mapping, optional
            ``{table: column or tuple of columns or None}``: replaces the
            primary key discovered from the schema (None: no primary key).
        foreign_keys : mapping, optional
            ``{table: {column or tuple: referenced table or None}}``: added to
            the discovered foreign keys; None removes a discovered one.
        time_columns : mapping, optional
            ``{table: column or None}``: replaces the time column recorded in
            ``tabkit_schema`` (without it, tables have no time column unless
            declared here).
        read_only : bool, default=True
            Open the connection read-only, so that nothing can write through
            it.

        Returns
        -------
        database : Database

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import pandas as pd
        >>> from tabkit.relational import Database, Table
        >>> db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.db"
        >>> db.to_sql(path)
        >>> Database.from_sql(path)["t"].primary_key
        'id'
        """
        found = _sql.read_tables(
            url,
            tables=tables,
            primary_keys=primary_keys,
            foreign_keys=foreign_keys,
            time_columns=time_columns,
            read_only=read_only,
        )
        return cls(found)

    def to_sql(
        self,
        url: str | os.PathLike[str] | Any,
        *,
        if_exists: Literal["fail", "replace"] = "fail",
    ) -> None:
        """Write every table, with its keys, to a SQL database.

        Tables get real ``PRIMARY KEY`` and ``FOREIGN KEY`` constraints (a
        composite key's parts, not its surrogate column) and are created in
        dependency order; a table ``tabkit_schema`` records time columns and
        dtypes so that :meth:`from_sql` gives the same database back.

        Parameters
        ----------
        url : str, path or sqlalchemy.URL
            As for :meth:`from_sql`.
        if_exists : {"fail", "replace"}, default="fail"
            What to do when a table of that name exists: raise, or drop it.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import pandas as pd
        >>> from tabkit.relational import Database, Table
        >>> db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.db"
        >>> db.to_sql(path)
        >>> db.to_sql(path, if_exists="replace")
        """
        _sql_write.write_database(self, url, if_exists=if_exists)


# -------------------------------------------------------------------- checks
def _key_label(table: Table, column: str) -> str:
    parts = table.key_parts(column)
    return repr(column) if len(parts) == 1 else f"{column!r} (parts {parts})"


def _check_primary_key(name: str, table: Table) -> None:
    pk = table.primary_key
    if pk is None:
        return
    values = table._df[pk]
    missing = values.isna().to_numpy()
    if missing.any():
        rows = table._df.index[missing][:_SHOW].tolist()
        raise SchemaError(
            f"table {name!r}: primary key {_key_label(table, pk)} has "
            f"{int(missing.sum())} missing value(s), e.g. at index {rows}"
        )
    dup = values.duplicated(keep=False).to_numpy()
    if dup.any():
        repeated = pd.unique(values[dup])
        n = len(repeated)
        raise SchemaError(
            f"table {name!r}: primary key {_key_label(table, pk)} has {n} "
            f"duplicated value{'s' if n > 1 else ''} ({int(dup.sum())} rows), "
            f"e.g. {pd.Series(repeated[:_SHOW]).tolist()}"
        )


def _check_foreign_key(
    name: str, table: Table, column: str, parent: str, tables: Mapping[str, Table]
) -> None:
    label = _key_label(table, column)
    if parent not in tables:
        raise SchemaError(
            f"table {name!r}: foreign key {label} references unknown table "
            f"{parent!r} (tables: {sorted(tables)})"
        )
    ptable = tables[parent]
    ppk = ptable.primary_key
    if ppk is None:
        raise SchemaError(
            f"table {name!r}: foreign key {label} references table {parent!r}, "
            "which has no primary key"
        )
    parts, pparts = table.key_parts(column), ptable.key_parts(ppk)
    if len(parts) > 1 and len(parts) != len(pparts):
        raise SchemaError(
            f"table {name!r}: foreign key {label} has {len(parts)} parts but the "
            f"primary key of {parent!r} has {len(pparts)} {pparts}"
        )
    pairs = list(zip(parts, pparts, strict=True)) if len(parts) > 1 else [(column, ppk)]
    for child_col, parent_col in pairs:
        kind = key_kind(table._df[child_col])
        pkind = key_kind(ptable._df[parent_col])
        if "empty" not in (kind, pkind) and kind != pkind:
            raise SchemaError(
                f"table {name!r}: foreign key column {child_col!r} "
                f"({kind}, {table._df[child_col].dtype}) references "
                f"{parent!r}.{parent_col!r} ({pkind}, "
                f"{ptable._df[parent_col].dtype}): key types differ; convert one "
                "of them"
            )


def _orphan_report(tables: Mapping[str, Table]) -> pd.DataFrame:
    rows = []
    for name, table in tables.items():
        for column, parent in table.foreign_keys.items():
            ptable = tables.get(parent)
            if ptable is None or ptable.primary_key is None:
                continue
            values = table._df[column]
            present = values.notna().to_numpy()
            n_present = int(present.sum())
            keys = pd.Index(ptable._df[ptable.primary_key].dropna().unique())
            found = values[present].isin(keys).to_numpy()
            n_orphans = int(n_present - found.sum())
            if n_orphans:
                rows.append(
                    (name, column, parent, n_orphans, n_present, n_orphans / n_present)
                )
    report = pd.DataFrame(rows, columns=_ORPHAN_COLUMNS)
    report = report.astype({"n_orphans": "int64", "n_non_null": "int64"})
    return report.sort_values(["table", "column"], ignore_index=True)
