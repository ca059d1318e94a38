# SPDX-License-Identifier: BSD-3-Clause
"""tabkit: neural networks for tables and relational databases.

Every model is a scikit-learn estimator that takes pandas DataFrames with
numeric, categorical, string, datetime and missing values as they are.
"""

from __future__ import annotations

import logging

from tabkit._version import __version__
from tabkit.ensemble import EnsembleClassifier, EnsembleRegressor
from tabkit.estimators import (
    BoostedNNClassifier,
    BoostedNNRegressor,
    ExcelFormerClassifier,
    ExcelFormerRegressor,
    HopularClassifier,
    HopularRegressor,
    RelationalGNNClassifier,
    RelationalGNNRegressor,
)
from tabkit.preprocessing import TabularEncoder
from tabkit.relational import Database, EntityTask, RelationalFeatures, Table
from tabkit.serialization import load, save
from tabkit.tuning import OptunaSearch

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BoostedNNClassifier",
    "BoostedNNRegressor",
    "Database",
    "EnsembleClassifier",
    "EnsembleRegressor",
    "EntityTask",
    "ExcelFormerClassifier",
    "ExcelFormerRegressor",
    "HopularClassifier",
    "HopularRegressor",
    "OptunaSearch",
    "RelationalFeatures",
    "RelationalGNNClassifier",
    "RelationalGNNRegressor",
    "Table",
    "TabularEncoder",
    "__version__",
    "load",
    "save",
]
