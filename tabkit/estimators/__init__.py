# SPDX-License-Identifier: BSD-3-Clause
"""scikit-learn estimators, one private module per model family."""

from __future__ import annotations

from tabkit.estimators._boosted import BoostedNNClassifier, BoostedNNRegressor

__all__ = ["BoostedNNClassifier", "BoostedNNRegressor"]
