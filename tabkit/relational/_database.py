# SPDX-License-Identifier: BSD-3-Clause
"""A relational database: named tables linked by primary and foreign keys."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from tabkit.relational._errors import SchemaError
from tabkit.relational._table import Table


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
        Check the schema (see :meth:`validate`).

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
    """

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
        """Check references and time columns; raise :class:`SchemaError` if broken.

        Every foreign key must reference a table of the database that has a
        primary key, and time columns must be all time-zone-aware (UTC) or all
        naive.
        """
        aware: dict[bool, tuple[str, str]] = {}
        for name, table in self._tables.items():
            for column, parent in table.foreign_keys.items():
                if parent not in self._tables:
                    raise SchemaError(
                        f"table {name!r}: foreign key {column!r} references unknown "
                        f"table {parent!r} (tables: {sorted(self._tables)})"
                    )
                if self._tables[parent].primary_key is None:
                    raise SchemaError(
                        f"table {name!r}: foreign key {column!r} references table "
                        f"{parent!r}, which has no primary key"
                    )
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
    def time_aware(self) -> bool | None:
        """Whether time columns are tz-aware (UTC); None without time columns."""
        for table in self._tables.values():
            if table.time_column is not None:
                return isinstance(
                    table._df[table.time_column].dtype, pd.DatetimeTZDtype
                )
        return None

    # ---------------------------------------------------------------- time
    def upto(self, t: Any) -> Database:
        """Return the database as known at ``t``: rows with time <= t.

        Tables without a time column are kept whole; rows of a timed table whose
        time is missing are never visible.

        Parameters
        ----------
        t : Timestamp or str
            The cut-off (inclusive).

        Returns
        -------
        database : Database
        """
        new = type(self).__new__(type(self))
        new._tables = MappingProxyType(
            {n: t_.upto(t) for n, t_ in self._tables.items()}
        )
        return new

    def __copy__(self) -> Database:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Database:
        return self
