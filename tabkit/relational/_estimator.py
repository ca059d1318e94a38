# SPDX-License-Identifier: BSD-3-Clause
"""What every relational estimator shares: the ``database=`` parameter and its checks.

:class:`RelationalFeatures` and the relational GNN estimators take a
:class:`~tabkit.relational.Database` as the constructor parameter
``database=`` and a seed table ``X`` (entity key, ``"cutoff"``). This module
holds the one implementation of what that implies: resolving the parameter
(after unpickling too), checking the entity table, the seed table and the
schema against the fit's, and pickling / copying without the tables
(:class:`DatabaseParamMixin`).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import pandas as pd

from tabkit.relational._database import Database
from tabkit.relational._errors import SchemaError
from tabkit.relational._features_compute import NEVER, to_ns
from tabkit.relational._features_plan import describe, fingerprint
from tabkit.relational._shared import pickle_database, unpickle_database
from tabkit.relational._table import Table, key_kind
from tabkit.relational._time import normalize_time

logger = logging.getLogger("tabkit.relational")


def check_seeds(
    X: Any, db: Database, name: str, entity: Table
) -> tuple[pd.Series, np.ndarray]:
    """Check a seed table; return its keys and its cut-offs in nanoseconds.

    The seed table has exactly the entity's primary-key column and
    ``"cutoff"``; the cut-offs have no missing value and the database's time
    zone awareness; the keys have no missing value and the kind of the primary
    key (integer, string...: see :func:`tabkit.relational._table.key_kind`).

    Parameters
    ----------
    X : DataFrame
    db : Database
    name : str
        The entity table's name.
    entity : Table
        The entity table (with a primary key).

    Returns
    -------
    keys : Series
        With a positional index.
    cutoff : ndarray of int64

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit.relational import Database, Table
    >>> from tabkit.relational._estimator import check_seeds
    >>> db = Database({"t": Table(pd.DataFrame({"id": [1, 2]}), primary_key="id")})
    >>> seeds = pd.DataFrame({"id": ["1"], "cutoff": [pd.Timestamp("2026-01-01")]})
    >>> check_seeds(seeds, db, "t", db["t"])
    Traceback (most recent call last):
    ...
    ValueError: the seed table's key column 'id' holds string values ... but the
    primary key 'id' of table 't' holds integer values (dtype int64): ...
    """
    key = entity.primary_key
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"X must be a seed table: a pandas DataFrame with columns [{key!r}, "
            f"'cutoff'], got {type(X).__name__}"
        )
    columns = [str(c) for c in X.columns]
    missing = [c for c in (key, "cutoff") if c not in columns]
    extra = [c for c in columns if c not in (key, "cutoff")]
    if missing or extra or len(columns) != 2:
        raise ValueError(
            f"the seed table X must have exactly the columns [{key!r}, 'cutoff'] "
            f"(the primary key of {name!r} and the cut-off); "
            f"missing {missing}, unexpected {extra}"
        )
    cut = X["cutoff"]
    if not pd.api.types.is_datetime64_any_dtype(cut.dtype):
        cut = normalize_time(cut, "seed table", "cutoff")
    cutoff = to_ns(cut)
    if (cutoff == NEVER).any():
        raise ValueError(
            f"the seed table's 'cutoff' column has {(cutoff == NEVER).sum()} "
            "missing values"
        )
    aware, db_aware = isinstance(cut.dtype, pd.DatetimeTZDtype), db.time_aware
    if db_aware is not None and aware != db_aware:
        raise ValueError(
            "the seed table's 'cutoff' is "
            f"{'time-zone-aware' if aware else 'naive'} but the database's time "
            f"columns are {'time-zone-aware (UTC)' if db_aware else 'naive'}"
        )
    keys = X[key].reset_index(drop=True)
    if keys.isna().any():
        raise ValueError(f"the seed table's key column {key!r} has missing values")
    primary = entity.df[key]
    kind, expected = key_kind(keys), key_kind(primary)
    if "empty" not in (kind, expected) and kind != expected:
        raise ValueError(
            f"the seed table's key column {key!r} holds {kind} values (dtype "
            f"{keys.dtype}) but the primary key {key!r} of table "
            f"{name!r} holds {expected} values (dtype "
            f"{primary.dtype}): convert the seed keys (as they are, they match "
            "no entity)"
        )
    return keys, cutoff


def check_schema(db: Database, schema: dict[str, Any], fitted_fingerprint: str) -> None:
    """Check the database against the fit's schema fingerprint.

    Equal fingerprints pass at once. Otherwise every table, key and column
    the features use must be there with the same kind (a datetime unit or
    int -> float change keeps the kind); unused tables and columns may
    differ.
    """
    current = fingerprint(db)
    if current == fitted_fingerprint:
        return
    for name, fitted in schema.items():
        if name not in db:
            raise SchemaError(
                f"table {name!r}, used at fit, is not in the database "
                f"(tables: {sorted(db)})"
            )
        now = describe(db[name], db[name].df)
        for field in ("primary_key", "time_column", "foreign_keys"):
            if now[field] != fitted[field]:
                raise SchemaError(
                    f"table {name!r}: {field} is {now[field]!r}, but was "
                    f"{fitted[field]!r} at fit"
                )
        for column, kind in fitted["columns"].items():
            if now["columns"].get(column) != kind:
                got = now["columns"].get(column, "missing")
                raise SchemaError(
                    f"table {name!r}: column {column!r} is {got}, but was {kind} at fit"
                )
    logger.info(
        "schema fingerprint %s... differs from the fit's "
        "(%s...) only in dtypes or parts the features do not use",
        current[:12],
        fitted_fingerprint[:12],
    )


class DatabaseParamMixin:
    """The ``database=`` parameter of a relational estimator.

    The class using it has the parameters ``database`` and ``entity_table``,
    and after fit the attributes ``schema_`` and ``schema_fingerprint_``
    (see :func:`check_schema`). Pickles and copies never copy the tables: a
    pickle keeps a reference to the database's shared copy and the schema
    fingerprint; ``copy`` and ``deepcopy`` share the database.
    """

    database: Database | None
    entity_table: str | None
    schema_: dict[str, Any]
    schema_fingerprint_: str

    def _database(self, *, fitted: bool) -> Database:
        """Return the database; with ``fitted``, check it against the fit's schema."""
        name = type(self).__name__
        db = self.database
        if db is None:
            ref = getattr(self, "_database_ref", None)
            if ref is None and not fitted:
                raise ValueError(
                    f"{name} needs database=, a tabkit.relational.Database"
                )
            fp = str(
                getattr(self, "schema_fingerprint_", None)
                or getattr(ref, "fingerprint", "")
            )
            gone = "" if ref is None else f"; the shared copy {ref.path} is gone"
            raise ValueError(
                f"{name} has no database (pickles and model files keep "
                f"only its schema fingerprint {fp[:12]}...{gone}): call "
                "set_params(database=db) first"
            )
        if fitted:
            check_schema(db, self.schema_, self.schema_fingerprint_)
        return db

    def _entity(self, db: Database) -> Table:
        """Return the entity table, which must exist and have a primary key."""
        name = type(self).__name__
        if self.entity_table is None:
            raise ValueError(f"{name} needs entity_table=, a table name")
        if self.entity_table not in db:
            raise SchemaError(
                f"entity_table {self.entity_table!r} is not a table of the database "
                f"(tables: {sorted(db)})"
            )
        entity = db[self.entity_table]
        if entity.primary_key is None:
            raise SchemaError(
                f"entity table {self.entity_table!r} has no primary key: seeds "
                "name their entity by it"
            )
        return entity

    def _check_seeds(
        self, X: Any, db: Database, *, reset: bool
    ) -> tuple[pd.Series, np.ndarray]:
        """Check a seed table (:func:`check_seeds`); ``reset`` records its columns."""
        keys, cutoff = check_seeds(X, db, str(self.entity_table), self._entity(db))
        if reset:
            self.n_features_in_ = 2
            self.feature_names_in_ = np.asarray(
                [str(c) for c in X.columns], dtype=object
            )
        return keys, cutoff

    def _twin_without_tables(self) -> Any:
        """Return a shallow twin to write to a model file: no tables, no caches."""
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.database = None  # model files never hold the tables
        twin.__dict__.pop("_database_ref", None)
        twin.__dict__.pop("_cache", None)
        return twin

    def __getstate__(self) -> dict[str, Any]:
        # the tables stay out: a reference to the database's shared copy, and
        # schema_fingerprint_, go in its place
        state: dict[str, Any] = super().__getstate__()  # type: ignore[assignment]
        return pickle_database(state)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(unpickle_database(state))  # type: ignore[misc]

    def __copy__(self) -> Any:
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)  # not through __getstate__: no copy
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(copy.deepcopy(dict(self.__dict__), memo))  # db: shared
        return new
