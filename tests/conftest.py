"""Shared test configuration: one torch thread, fixed seeds, tiny data fixtures."""

from __future__ import annotations

import importlib
import os
import random

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification

# One torch thread: also set for docs and doctests by the single_thread plugin.
torch.set_num_threads(1)


def require_optional() -> bool:
    """Whether a missing optional package or anchor must fail instead of skip."""
    return os.environ.get("TABKIT_REQUIRE_DATA", "") == "1"


@pytest.fixture(scope="session")
def optional_import():
    """Import an optional module: skip if missing, fail if TABKIT_REQUIRE_DATA=1."""

    def _import(module: str):
        if require_optional():
            return importlib.import_module(module)
        return pytest.importorskip(module)

    return _import


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - legacy global state some libraries read
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def binary_data():
    X, y = make_classification(
        n_samples=200, n_features=8, n_informative=5, random_state=0
    )
    return X.astype(np.float64), y


@pytest.fixture(scope="module")
def mixed_frame():
    """A mixed DataFrame: float, int, nullable int, category, string, bool, NaN."""
    rng = np.random.default_rng(0)
    n = 120
    num = rng.normal(size=n)
    num[::11] = np.nan
    cat = pd.Categorical(rng.choice(["a", "b", "c"], size=n))
    city = pd.Series(rng.choice(["x", "y", "z", None], size=n), dtype="string")
    df = pd.DataFrame(
        {
            "num": num,
            "count": rng.integers(0, 10, size=n),
            "nullable": pd.array(
                [None if i % 7 == 0 else int(i % 5) for i in range(n)], dtype="Int64"
            ),
            "cat": cat,
            "city": city,
            "flag": rng.integers(0, 2, size=n).astype(bool),
        }
    )
    logit = np.nan_to_num(num) + (df["cat"] == "a").to_numpy() - 0.5
    y = np.where(logit + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
    return df, y
