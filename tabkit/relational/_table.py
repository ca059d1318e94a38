# SPDX-License-Identifier: BSD-3-Clause
"""One table of a relational database: a DataFrame with keys and a time column."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from tabkit.relational._errors import SchemaError
from tabkit.relational._time import normalize_time


class Table:
    """A DataFrame with its primary key, foreign keys and time column.

    A table is immutable: it keeps its own copy of the frame (cheap with
    pandas' copy-on-write), :attr:`df` returns a new frame object each time, and
    :func:`copy.copy` / :func:`copy.deepcopy` return the table itself.

    Parameters
    ----------
    df : DataFrame
        The rows. Not modified.
    primary_key : str, optional
        Column whose values identify the rows (unique, never missing).
    foreign_keys : mapping of str to str, optional
        ``{column: referenced table name}``; the column holds values of that
        table's primary key (missing values allowed).
    time_column : str, optional
        The moment each row becomes known (tabkit's time rule). Parsed to
        datetime: tz-aware values become UTC, naive ones stay naive. A table
        without one is static: all its rows are always visible.

    Attributes
    ----------
    primary_key : str or None
    foreign_keys : mapping of str to str (read-only)
    time_column : str or None

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Table
    >>> orders = Table(
    ...     pd.DataFrame({"order_id": [1, 2], "customer_id": [7, 7],
    ...                   "ts": ["2026-01-01", "2026-02-01"]}),
    ...     primary_key="order_id", foreign_keys={"customer_id": "customers"},
    ...     time_column="ts")
    >>> len(orders.upto(pd.Timestamp("2026-01-15")))
    1
    >>> orders.df["ts"].dtype
    dtype('<M8[ns]')
    """

    def __init__(
        self,
        df: pd.DataFrame,
        *,
        primary_key: str | None = None,
        foreign_keys: Mapping[str, str] | None = None,
        time_column: str | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(
                f"table {name or ''!r}: expected a pandas DataFrame, "
                f"got {type(df).__name__}"
            )
        label = name or "<unnamed>"
        frame = df.copy(deep=False)
        for role, column in (
            ("primary key", primary_key),
            ("time column", time_column),
        ):
            if column is not None and column not in frame.columns:
                raise SchemaError(
                    f"table {label!r}: {role} column {column!r} is not a column "
                    f"(columns: {list(map(str, frame.columns))[:20]})"
                )
        for column in foreign_keys or {}:
            if column not in frame.columns:
                raise SchemaError(
                    f"table {label!r}: foreign key column {column!r} is not a column"
                )
        if time_column is not None:
            frame[time_column] = normalize_time(frame[time_column], label, time_column)
        self._df = frame
        self._name = name
        self._primary_key = primary_key
        self._foreign_keys = MappingProxyType(dict(foreign_keys or {}))
        self._time_column = time_column

    # ---------------------------------------------------------------- access
    @property
    def df(self) -> pd.DataFrame:
        """The rows: a new frame sharing the data (edits never reach the table)."""
        return self._df.copy(deep=False)

    @property
    def name(self) -> str | None:
        """The table's name in its database (None before it joins one)."""
        return self._name

    @property
    def primary_key(self) -> str | None:
        """Primary key column, or None."""
        return self._primary_key

    @property
    def foreign_keys(self) -> Mapping[str, str]:
        """``{column: referenced table}`` (read-only)."""
        return self._foreign_keys

    @property
    def time_column(self) -> str | None:
        """Time column, or None for a static table."""
        return self._time_column

    @property
    def columns(self) -> list[str]:
        """All column names."""
        return [str(c) for c in self._df.columns]

    @property
    def feature_columns(self) -> list[str]:
        """Columns other than the keys and the time column."""
        skip = {self._primary_key, self._time_column, *self._foreign_keys}
        return [str(c) for c in self._df.columns if c not in skip]

    def __len__(self) -> int:
        return len(self._df)

    def __repr__(self) -> str:
        parts = [f"{len(self)} rows"]
        if self._primary_key:
            parts.append(f"primary_key={self._primary_key!r}")
        if self._foreign_keys:
            parts.append(f"foreign_keys={dict(self._foreign_keys)!r}")
        if self._time_column:
            parts.append(f"time_column={self._time_column!r}")
        return f"Table({', '.join(parts)})"

    # ---------------------------------------------------------------- time
    def visible_mask(self, t: Any) -> pd.Series:
        """Rows visible at time ``t``: time <= t (rows with a missing time never).

        Parameters
        ----------
        t : Timestamp or str
            The cut-off.

        Returns
        -------
        mask : Series of bool
        """
        if self._time_column is None:
            return pd.Series(True, index=self._df.index)
        times = self._df[self._time_column]
        return (times <= pd.Timestamp(t)).fillna(False).astype(bool)

    def upto(self, t: Any) -> Table:
        """Return the table as known at ``t`` (rows with time <= t).

        Parameters
        ----------
        t : Timestamp or str
            The cut-off (inclusive).

        Returns
        -------
        table : Table
            This table itself when it has no time column.
        """
        if self._time_column is None:
            return self
        return self._with_frame(self._df[self.visible_mask(t).to_numpy()])

    def _with_frame(self, frame: pd.DataFrame) -> Table:
        new = type(self).__new__(type(self))
        new._df = frame
        new._name = self._name
        new._primary_key = self._primary_key
        new._foreign_keys = self._foreign_keys
        new._time_column = self._time_column
        return new

    def _named(self, name: str) -> Table:
        if self._name == name:
            return self
        new = self._with_frame(self._df)
        new._name = name
        return new

    def __copy__(self) -> Table:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Table:
        return self
