# SPDX-License-Identifier: BSD-3-Clause
"""Pure torch modules: no scikit-learn, no pandas, no training code.

``RelationalGNN`` is imported on first use: it needs torch_geometric, which
``import tabkit`` does not load.
"""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    if name == "RelationalGNN":
        from tabkit.nn.relational import RelationalGNN  # noqa: PLC0415 - lazy

        return RelationalGNN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
