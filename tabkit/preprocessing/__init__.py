# SPDX-License-Identifier: BSD-3-Clause
"""Table preprocessing shared by every tabkit estimator.

:class:`TabularEncoder` is the only code in tabkit that learns scaling, category
vocabularies and missing-value handling. It turns a DataFrame or an array into a
float block ``x_num`` and an integer block ``x_cat`` (an :class:`EncodedTable`), with
strategies chosen by each model. :func:`check_table` is the one input-validation
path of every estimator.
"""

from __future__ import annotations

from tabkit.preprocessing._encoder import EncodedTable, TabularEncoder
from tabkit.preprocessing._validation import check_table

__all__ = ["EncodedTable", "TabularEncoder", "check_table"]
