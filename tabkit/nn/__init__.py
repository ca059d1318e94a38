# SPDX-License-Identifier: BSD-3-Clause
"""Pure torch modules: no scikit-learn, no pandas, no training code."""

from __future__ import annotations

from tabkit.nn._mixing import (
    feat_mix,
    hidden_mix,
    mixed_loss,
    mixed_targets,
    normalize_feature_weights,
    sample_beta,
)
from tabkit.nn.boosted import BoostedNetwork
from tabkit.nn.excelformer import ExcelFormer, excelformer_flops
from tabkit.nn.hopular import Hopular
from tabkit.nn.relational import RelationalGNN

__all__ = [
    "BoostedNetwork",
    "ExcelFormer",
    "Hopular",
    "RelationalGNN",
    "excelformer_flops",
    "feat_mix",
    "hidden_mix",
    "mixed_loss",
    "mixed_targets",
    "normalize_feature_weights",
    "sample_beta",
]
