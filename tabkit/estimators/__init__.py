# SPDX-License-Identifier: BSD-3-Clause
"""scikit-learn estimators, one private module per model family.

``FAMILIES`` maps each table model family's name to its (classifier,
regressor) pair; the benchmarks (and later the command line and tuning) read
it, so adding a family is one line here. The relational GNN takes seed tables
and a database, not tables, and is not in it.

Examples
--------
>>> from tabkit.estimators import FAMILIES
>>> FAMILIES["boosted_nn"][0].__name__
'BoostedNNClassifier'
"""

from __future__ import annotations

from tabkit.estimators._boosted import BoostedNNClassifier, BoostedNNRegressor
from tabkit.estimators._excelformer import ExcelFormerClassifier, ExcelFormerRegressor
from tabkit.estimators._hopular import HopularClassifier, HopularRegressor
from tabkit.estimators._relational import (
    RelationalGNNClassifier,
    RelationalGNNRegressor,
)

#: Model family name -> (classifier class, regressor class).
FAMILIES: dict[str, tuple[type, type]] = {
    "boosted_nn": (BoostedNNClassifier, BoostedNNRegressor),
    "excelformer": (ExcelFormerClassifier, ExcelFormerRegressor),
    "hopular": (HopularClassifier, HopularRegressor),
}

__all__ = [
    "FAMILIES",
    "BoostedNNClassifier",
    "BoostedNNRegressor",
    "ExcelFormerClassifier",
    "ExcelFormerRegressor",
    "HopularClassifier",
    "HopularRegressor",
    "RelationalGNNClassifier",
    "RelationalGNNRegressor",
]
