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
from tabkit.relational._errors import OrphanKeysWarning, SchemaError, warn
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
        Check the schema and the keys (see :meth:`validate`) and warn
        (:class:`OrphanKeysWarning`) about foreign keys with orphan values.

    Notes
    -----
    **Time.** Every table is *timed* (it has a time column: a row is visible
    at cut-off ``t`` when its time is ``<= t``) or *static* (its rows are
    always visible: ``Table(..., static=True)``, or a table with no date/time
    column at all). A table that has date/time columns but neither is
    *undeclared*: it can be built, read, inspected (:meth:`describe`) and
    written, but features and tasks refuse it
    (:meth:`check_time_columns`), since using it would show them rows from
    the future.

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
    >>> db
    Database(
      customers: 2 rows, primary key 'customer_id', static
      orders: 2 rows, primary key 'order_id', time column 'ts'
    )
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
                warn(
                    "foreign keys with orphan values (no matching primary key; "
                    "kept, see Database.orphans): "
                    + "; ".join(
                        f"{r.table}.{r.column} -> {r.referenced_table}: "
                        f"{r.n_orphans:,} of {r.n_non_null:,} ({r.share:.1%})"
                        for r in report.itertuples()
                    ),
                    OrphanKeysWarning,
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
        lines = []
        for name, table in self._tables.items():
            parts = [f"{len(table)} rows"]
            if table.primary_key is not None:
                key = table.key_parts(table.primary_key)
                parts.append(
                    f"primary key {key[0]!r}"
                    if len(key) == 1
                    else f"primary key {key!r}"
                )
            status = _time_status(table)
            if status == "static":
                parts.append("static")
            elif status == "UNDECLARED":
                parts.append(
                    f"time UNDECLARED (date/time columns {table.datetime_columns})"
                )
            else:
                inferred = " (inferred)" if status == "inferred" else ""
                parts.append(f"time column {table.time_column!r}{inferred}")
            lines.append(f"  {name}: {', '.join(parts)}")
        return "Database(\n" + "\n".join(lines) + "\n)" if lines else "Database()"

    def describe(self) -> pd.DataFrame:
        """One row per table: its size, keys and time.

        Returns
        -------
        summary : DataFrame
            Indexed by table name, with columns ``rows``, ``primary_key`` (a
            column, a tuple of the parts of a composite key, or None),
            ``foreign_keys`` (``{column or parts: referenced table}``),
            ``time_column`` (or None), ``static`` (see :attr:`Table.static`),
            ``datetime_columns`` (the columns holding dates or times, see
            :attr:`Table.datetime_columns`) and ``time``: ``"declared"`` (a
            declared time column), ``"inferred"`` (a time column
            :meth:`from_sql` chose: check it), ``"static"``, or
            ``"UNDECLARED"`` (date/time columns but neither a time column nor
            ``static``: features and tasks refuse the table).

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Database, Table
        >>> db = Database({
        ...     "parks": Table(pd.DataFrame({"park": ["A"], "opened": ["1912-04-20"]}),
        ...                    primary_key="park", static=True),
        ...     "loans": Table(pd.DataFrame({"id": [1], "start": ["2026-01-01"],
        ...                                  "end": ["2026-03-01"]}),
        ...                    primary_key="id")})
        >>> print(db.describe()[["rows", "time_column", "static", "time"]])
               rows time_column  static        time
        parks     1        None    True      static
        loans     1        None   False  UNDECLARED
        >>> db.describe().loc["loans", "datetime_columns"]
        ['start', 'end']
        """
        rows = []
        for table in self._tables.values():
            pk = table.primary_key
            parts = table.key_parts(pk) if pk is not None else None
            rows.append(
                {
                    "rows": len(table),
                    "primary_key": None
                    if parts is None
                    else (parts[0] if len(parts) == 1 else parts),
                    "foreign_keys": {
                        (p[0] if len(p) == 1 else p): parent
                        for p, parent in (
                            (table.key_parts(c), parent)
                            for c, parent in table.foreign_keys.items()
                        )
                    },
                    "time_column": table.time_column,
                    "static": table.static,
                    "datetime_columns": table.datetime_columns,
                    "time": _time_status(table),
                }
            )
        columns = [
            "rows",
            "primary_key",
            "foreign_keys",
            "time_column",
            "static",
            "datetime_columns",
            "time",
        ]
        index = pd.Index(list(self._tables), dtype=object)
        plain = {"rows": "int64", "static": "bool"}  # others hold None, tuples...
        return pd.DataFrame(
            {
                c: pd.Series(
                    [r[c] for r in rows], index=index, dtype=plain.get(c, object)
                )
                for c in columns
            }
        )

    def check_time_columns(self) -> None:
        """Refuse tables whose time is undeclared: raise :class:`SchemaError`.

        A table is undeclared when it has date/time columns
        (:attr:`Table.datetime_columns`) but neither a time column nor
        ``static=True``: nobody said when its rows become known, so using it
        could show a model rows from after the cut-off. Relational features
        and tasks call this before using a database. The message names every
        such table, its date/time columns and both fixes.

        Raises
        ------
        SchemaError
            When a table is undeclared.

        Examples
        --------
        >>> import pandas as pd
        >>> from tabkit.relational import Database, SchemaError, Table
        >>> loans = pd.DataFrame({"id": [1], "start": ["2026-01-01"],
        ...                       "end": ["2026-03-01"]})
        >>> db = Database({"loans": Table(loans, primary_key="id")})
        >>> try:
        ...     db.check_time_columns()
        ... except SchemaError as error:
        ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
        table 'loans' has date/time columns ['start', 'end'] but no time column
        and is not declared static, so tabkit cannot tell when its rows become
        known. Declare its time column, the moment a whole row is known (for
        example Table(..., time_column='start'), or Database.from_sql(...,
        time_columns={'loans': 'start'})), or declare it static if its rows are
        always known (Table(..., static=True), or Database.from_sql(...,
        static=['loans'])).
        >>> Database({"loans": Table(loans, primary_key="id",
        ...                          time_column="start")}).check_time_columns()
        """
        bad = [
            (name, table)
            for name, table in self._tables.items()
            if table.time_column is None and not table.static
        ]
        if not bad:
            return
        messages = []
        for name, table in bad:
            first = table.datetime_columns[0]
            messages.append(
                f"table {name!r} has date/time columns {table.datetime_columns} but "
                "no time column and is not declared static, so tabkit cannot tell "
                "when its rows become known. Declare its time column, the moment "
                "a whole row is known (for example Table(..., "
                f"time_column={first!r}), or Database.from_sql(..., "
                f"time_columns={{{name!r}: {first!r}}})), or declare it static if "
                "its rows are always known (Table(..., static=True), or "
                f"Database.from_sql(..., static=[{name!r}]))."
            )
        raise SchemaError("\n".join(messages))

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
        time_columns: Mapping[str, str] | None = None,
        static: Sequence[str] | None = None,
        read_only: bool = True,
    ) -> Database:
        """Read a database from SQL: SQLite, DuckDB, PostgreSQL or any SQLAlchemy URL.

        Parameters
        ----------
        url : str, path or sqlalchemy.URL
            A file path or ``sqlite:///path`` (SQLite, the embedded default),
            ``duckdb:///path`` (the ``tabkit-ml[duckdb]`` extra),
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
            ``{table: column}``: the tables' time columns. They replace what
            ``tabkit_schema`` records and what would be inferred.
        static : sequence of str, optional
            Tables declared static: no time column, all rows always visible
            (as ``Table(..., static=True)``). They replace what
            ``tabkit_schema`` records and what would be inferred.
        read_only : bool, default=True
            Open the connection read-only, so that nothing can write through
            it (``file:`` URLs of SQLite included).

        Returns
        -------
        database : Database

        Warns
        -----
        TimeColumnInferredWarning
            When the time of a table was neither declared here nor recorded
            in ``tabkit_schema``, and the table has date/time columns: the
            warning lists the time columns it inferred and the tables it left
            undeclared.

        Notes
        -----
        **Time columns.** For each table, in this order: ``time_columns`` /
        ``static``; else what ``tabkit_schema`` records (written by
        :meth:`to_sql`); else inference. A table with exactly one date/time
        column gets it as its time column; a table with several gets none
        and stays *undeclared*: features and tasks refuse it
        (:meth:`check_time_columns`) until you declare it. A table without a
        date/time column is static. Date/time columns are those of a date or
        time SQL type (``DATE``, ``DATETIME``, ``TIMESTAMP``,
        ``TIMESTAMP WITH TIME ZONE``, ``TIMESTAMPTZ``...; not ``TIME`` nor
        ``INTERVAL``) and, since SQLite stores times as text, those whose
        values are all ISO 8601 dates (:attr:`Table.datetime_columns`).
        :meth:`describe` shows the result (``time``: ``"inferred"``).

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

        A file written by another program, with a ``TIMESTAMP`` column:

        >>> import sqlite3, warnings
        >>> other = path.with_name("loans.db")
        >>> with sqlite3.connect(other) as con:
        ...     _ = con.execute("CREATE TABLE loans (id INTEGER PRIMARY KEY, "
        ...                     "amount REAL, ts TIMESTAMP)")
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     loans = Database.from_sql(other)["loans"]
        >>> loans.time_column, type(caught[0].message).__name__
        ('ts', 'TimeColumnInferredWarning')
        >>> Database.from_sql(other, time_columns={"loans": "ts"})["loans"].time_column
        'ts'
        """
        found = _sql.read_tables(
            url,
            tables=tables,
            primary_keys=primary_keys,
            foreign_keys=foreign_keys,
            time_columns=time_columns,
            static=static,
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
        dependency order; a table ``tabkit_schema`` records time columns,
        ``static`` declarations and dtypes so that :meth:`from_sql` gives the
        same database back.

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
def _time_status(table: Table) -> str:
    if table.time_column is not None:
        return "inferred" if table._time_inferred else "declared"
    return "static" if table.static else "UNDECLARED"


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
