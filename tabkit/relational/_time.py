# SPDX-License-Identifier: BSD-3-Clause
"""Time columns: parsing and the normalisation of the time rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from tabkit.relational._errors import SchemaError

_NAIVE = "datetime64[ns]"
_AWARE = "datetime64[ns, UTC]"


def normalize_time(values: pd.Series, table: str, column: str) -> pd.Series:
    """Parse a time column: tz-aware values to UTC, naive ones kept naive.

    Parameters
    ----------
    values : Series
        Datetimes or strings (SQLite returns times as strings).
    table, column : str
        Names used in error messages.

    Returns
    -------
    times : Series of datetime64[ns] or datetime64[ns, UTC]
        Missing or empty values become NaT.

    Raises
    ------
    SchemaError
        When values cannot be parsed, fall outside the nanosecond range
        (years 1677-2262), or mix time zones (or aware and naive values).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational._time import normalize_time
    >>> s = pd.Series(["2026-01-01T10:00:00+02:00", None])
    >>> normalize_time(s, "t", "c").tolist()
    [Timestamp('2026-01-01 08:00:00+0000', tz='UTC'), NaT]
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _to_ns(values.dt.tz_convert("UTC"), table, column)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _to_ns(values, table, column)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    present = values.dropna()
    if len(present) and isinstance(present.iloc[0], datetime):
        zones = {getattr(v, "tzinfo", None) is not None for v in present}
        if len(zones) > 1:
            raise SchemaError(
                f"table {table!r}: time column {column!r} mixes time-zone-aware and "
                "naive timestamps"
            )
    try:
        parsed = pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError) as exc:
        text = str(exc).lower()
        if any(word in text for word in ("tz-aware", "time zone", "timezone")):
            raise SchemaError(
                f"table {table!r}: time column {column!r} mixes time zones "
                f"({exc}); convert it to UTC first (pd.to_datetime(..., utc=True)) "
                "or store naive local times"
            ) from None
        raise SchemaError(
            f"table {table!r}: time column {column!r} cannot be parsed as datetimes "
            f"({exc})"
        ) from None
    if parsed.dtype == object:
        raise SchemaError(
            f"table {table!r}: time column {column!r} mixes time zones; store UTC "
            "or naive local times"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC")
    return _to_ns(parsed, table, column)


def _to_ns(values: pd.Series, table: str, column: str) -> pd.Series:
    target = _AWARE if isinstance(values.dtype, pd.DatetimeTZDtype) else _NAIVE
    if str(values.dtype) == target:
        return values
    try:
        return values.astype(pd.api.types.pandas_dtype(target))
    except (ValueError, OverflowError) as exc:
        raise SchemaError(
            f"table {table!r}: time column {column!r} has times outside the "
            f"supported range (years 1677-2262): {exc}"
        ) from None


def as_cutoff(t: Any, aware: bool, table: str = "<unnamed>") -> pd.Timestamp:
    """Return a cut-off comparable with a time column.

    A naive cut-off against tz-aware (UTC) times is read as UTC; an aware one
    against naive times is an error.

    Parameters
    ----------
    t : Timestamp, datetime or str
        The cut-off.
    aware : bool
        Whether the time column is tz-aware (UTC).
    table : str
        Name used in error messages.

    Returns
    -------
    cutoff : Timestamp

    Examples
    --------
    >>> from tabkit.relational._time import as_cutoff
    >>> as_cutoff("2026-01-01", aware=True)
    Timestamp('2026-01-01 00:00:00+0000', tz='UTC')
    """
    cutoff = pd.Timestamp(t)
    if cutoff is pd.NaT:
        raise ValueError(f"table {table!r}: the cut-off is missing (NaT)")
    if aware:
        if cutoff.tzinfo is None:
            return cutoff.tz_localize("UTC")
        return cutoff.tz_convert("UTC")
    if cutoff.tzinfo is not None:
        raise ValueError(
            f"table {table!r}: the cut-off {cutoff} is time-zone-aware but the "
            "table's times are naive; pass a naive cut-off"
        )
    return cutoff
