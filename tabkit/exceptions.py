# SPDX-License-Identifier: BSD-3-Clause
"""Exceptions and warnings raised by tabkit."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = ["IncompatibleModelFileError", "ModelFileError", "NotFittedError"]


class ModelFileError(ValueError):
    """A model file is not a tabkit model file, or is truncated or corrupted.

    Examples
    --------
    >>> from tabkit.exceptions import ModelFileError
    >>> issubclass(ModelFileError, ValueError)
    True
    """


class IncompatibleModelFileError(ModelFileError):
    """A model file was written in a format this tabkit version cannot read.

    Examples
    --------
    >>> from tabkit.exceptions import IncompatibleModelFileError, ModelFileError
    >>> issubclass(IncompatibleModelFileError, ModelFileError)
    True
    """
