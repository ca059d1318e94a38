# SPDX-License-Identifier: BSD-3-Clause
"""Errors of relational data."""

from __future__ import annotations


class SchemaError(ValueError):
    """A database's keys, references or time columns are inconsistent.

    The message names the table and column at fault.

    Examples
    --------
    >>> from tabkit.relational import SchemaError
    >>> issubclass(SchemaError, ValueError)
    True
    """
