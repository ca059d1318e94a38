# SPDX-License-Identifier: BSD-3-Clause
"""Pure torch modules: no scikit-learn, no pandas, no training code."""

from __future__ import annotations

from tabkit.nn.boosted import BoostedNetwork

__all__ = ["BoostedNetwork"]
