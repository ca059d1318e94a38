# SPDX-License-Identifier: BSD-3-Clause
"""Errors and warnings of relational data."""

from __future__ import annotations

import warnings

from tabkit._warnings import user_stacklevel


class SchemaError(ValueError):
    """A database's keys, references or time columns are inconsistent.

    The message names the table and column at fault.

    Examples
    --------
    >>> from tabkit.relational import SchemaError
    >>> issubclass(SchemaError, ValueError)
    True
    """


class RelationalWarning(UserWarning):
    """Something about a relational database that a user should check.

    The base class of tabkit's relational warnings: a foreign key dropped
    while reading SQL, a read-only mode a backend cannot enforce, an entry of
    ``tabkit_schema`` that cannot be read, a population key that is not a key
    of the entity table. Filter it with :mod:`warnings` as any warning.

    Examples
    --------
    >>> from tabkit.relational import RelationalWarning
    >>> issubclass(RelationalWarning, UserWarning)
    True
    """


class TimeColumnInferredWarning(RelationalWarning):
    """``Database.from_sql`` chose time columns that nobody declared.

    Emitted once per read, listing every table whose time column was inferred
    from its only date/time column, and every table left without one because
    it has several (such a table is refused by features and tasks until its
    time column or ``static`` is declared). Declaring them
    (``time_columns=``, ``static=`` or ``tabkit_schema``) silences it.

    Examples
    --------
    >>> import warnings
    >>> from tabkit.relational import TimeColumnInferredWarning
    >>> with warnings.catch_warnings():  # opt out, here for one block
    ...     warnings.simplefilter("ignore", TimeColumnInferredWarning)
    >>> issubclass(TimeColumnInferredWarning, UserWarning)
    True
    """


class OrphanKeysWarning(RelationalWarning):
    """Foreign-key values that no row of the referenced table holds.

    Orphans are kept (they reach no parent row); :attr:`Database.orphans`
    reports them, one row per foreign key.

    Examples
    --------
    >>> from tabkit.relational import OrphanKeysWarning, RelationalWarning
    >>> issubclass(OrphanKeysWarning, RelationalWarning)
    True
    """


def warn(message: str, category: type[Warning] = RelationalWarning) -> None:
    """Issue ``message`` as a warning that points at the user's code."""
    warnings.warn(message, category, stacklevel=user_stacklevel())
