# SPDX-License-Identifier: BSD-3-Clause
"""Relational data: tables linked by keys, with time (no training code).

A :class:`Database` holds named :class:`Table` objects. The time rule: a row's
time is the moment the whole row is known, and a prediction at cut-off ``t``
may use only rows with time <= ``t`` and the rows of static tables. Every
table is therefore timed (a time column) or static; a table with date/time
columns but neither is refused by features and tasks
(:meth:`Database.check_time_columns`).
"""

from __future__ import annotations

from tabkit.relational._cutoff_split import CutoffSplit
from tabkit.relational._database import Database
from tabkit.relational._errors import (
    OrphanKeysWarning,
    RelationalWarning,
    SchemaError,
    TimeColumnInferredWarning,
)
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
    "OrphanKeysWarning",
    "RelationalFeatures",
    "RelationalTask",
    "RelationalWarning",
    "SchemaError",
    "Table",
    "TaskSplit",
    "TimeColumnInferredWarning",
    "active",
    "aggregate",
    "count",
    "exists",
    "schedule",
    "window_rows",
]
