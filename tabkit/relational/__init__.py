# SPDX-License-Identifier: BSD-3-Clause
"""Relational data: tables linked by keys, with time (no training code).

A :class:`Database` holds named :class:`Table` objects. A row's time is the
moment the whole row is known; a prediction at cut-off ``t`` may use rows with
time <= ``t`` and static tables (tabkit's time rule).
"""

from __future__ import annotations

from tabkit.relational._cutoff_split import CutoffSplit
from tabkit.relational._database import Database
from tabkit.relational._errors import SchemaError
from tabkit.relational._table import Table
from tabkit.relational.features import RelationalFeatures
from tabkit.relational.tasks import (
    EntityTask,
    RelationalTask,
    TaskSplit,
    active,
    aggregate,
    count,
    exists,
    schedule,
    window_rows,
)

__all__ = [
    "CutoffSplit",
    "Database",
    "EntityTask",
    "RelationalFeatures",
    "RelationalTask",
    "SchemaError",
    "Table",
    "TaskSplit",
    "active",
    "aggregate",
    "count",
    "exists",
    "schedule",
    "window_rows",
]
