# SPDX-License-Identifier: BSD-3-Clause
"""Benchmark profiles: datasets, seeds, training caps and per-fit budgets.

The profile table of ``benchmarks/README.md`` as data (budgets are part of
the protocol), plus the budget rule every runner applies:

* a profile's ``budget_s`` is the per-fit time budget of the neural models
  (adapter families in ``BUDGETED_FAMILIES``). The runner sets
  ``adapter.budget_s`` before ``fit`` (an adapter that declares a ``budget_s``
  attribute stops training in time; tabkit's ``boosted_nn`` passes it to the
  estimator as ``time_budget``), and kills the fit's worker process after
  ``hard_timeout(budget_s)`` = ``budget_s * 1.5 + 60`` seconds, recording the
  fit with status "timeout";
* GBDTs get neither: they early-stop on the validation rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmarks.datasets import PUBLIC_SIZES, SUITES, dataset_size
from benchmarks.models import MODELS, make_model

logger = logging.getLogger(__name__)

#: Adapter families whose fits get the profile's budget and the hard timeout.
#: "baseline" is scikit-learn's MLP: a neural model too.
BUDGETED_FAMILIES = ("tabkit", "reference", "baseline")
#: Hard timeout = ``TIMEOUT_FACTOR * budget + TIMEOUT_GRACE_S`` seconds.
TIMEOUT_FACTOR = 1.5
TIMEOUT_GRACE_S = 60.0

GBDTS = ("lightgbm", "xgboost", "catboost", "hist_gbdt")


def _registered(family: str) -> tuple[str, ...]:
    """List the registered models of one adapter family, in registration order."""
    return tuple(m for m in MODELS if make_model(m).family == family)


#: tabkit's model families (one adapter per ``tabkit.estimators.FAMILIES`` entry).
TABKIT_MODELS = _registered("tabkit")
#: Reference implementations run beside tabkit's models (anchors).
ANCHORS = _registered("reference")
#: Default models of the tabular profiles.
TABULAR_MODELS = (*GBDTS, "mlp", "linear", *TABKIT_MODELS, *ANCHORS)
#: The tuned profile's datasets: 2 per task, each under 10,000 training rows.
TUNED_DATASETS = (
    "german_credit",
    "telco_churn",
    "hawks",
    "hpc_jobs",
    "ames_housing",
    "bikeshare",
)


@dataclass(frozen=True)
class Profile:
    """One benchmark profile (a row of the table in ``benchmarks/README.md``).

    Attributes
    ----------
    name : str
        Profile name (``--profile``; recorded in the CSV ``profile`` column).
    datasets : tuple of str
        Registered dataset names (for ``scaling``: its data sources).
    seeds : int
        Seeds per dataset (seeds ``0 .. seeds - 1``), unless ``seeds_by_size``
        says otherwise for the dataset's size class.
    train_cap : int or None
        Cap on the training rows (``protocol.make_split``); None for none.
    budget_s : float or None
        Per-fit time budget of the neural models, in seconds (for ``tuned``:
        per trial).
    models : tuple of str
        Default model list (registered names; anchors not registered here
        are skipped, see ``resolve_models``).
    purpose : str
        What the profile is for.
    seeds_by_size : tuple of (str, int)
        Seed counts overriding ``seeds`` per size class ("small", ...).
    runner : str
        Which command runs it: "tabular" (``python -m benchmarks.tabular``),
        "tuned" (``python -m benchmarks.tuned``) or "scaling"
        (``python -m benchmarks.scaling``).
    n_trials : int or None
        Tuning trials per model family (``tuned``).
    rows : tuple of int
        Training-row counts (``scaling``).
    """

    name: str
    datasets: tuple[str, ...]
    seeds: int
    train_cap: int | None
    budget_s: float | None
    models: tuple[str, ...]
    purpose: str
    seeds_by_size: tuple[tuple[str, int], ...] = ()
    runner: str = "tabular"
    n_trials: int | None = None
    rows: tuple[int, ...] = ()

    def describe(self) -> str:
        """Return a one-line summary: name, purpose, cap and budget.

        Returns
        -------
        str
            For example "`quick` (smoke test run by the test suite; train cap
            2,000; per-fit budget of the neural models 30 s)".
        """
        cap = f"{self.train_cap:,}" if self.train_cap else "none"
        budget = f"{self.budget_s:g} s" if self.budget_s else "none"
        return (
            f"`{self.name}` ({self.purpose}; train cap {cap}; per-fit budget of "
            f"the neural models {budget})"
        )

    def n_seeds(self, size: str) -> int:
        """Seed count for a dataset of size class ``size``."""
        return dict(self.seeds_by_size).get(size, self.seeds)

    def seeds_for(self, dataset: str) -> list[int]:
        """Seeds of ``dataset``: ``0 .. n_seeds(size) - 1``.

        Parameters
        ----------
        dataset : str
            Registered dataset name.

        Returns
        -------
        list of int
            The seeds.
        """
        return list(range(self.n_seeds(dataset_size(dataset))))


_PUBLIC = tuple(PUBLIC_SIZES)
_SMALL_PUBLIC = tuple(SUITES["small_public"])

#: The benchmark profiles, by name.
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="quick",
            datasets=("breast_cancer", "hawks", "digits", "diabetes"),
            seeds=1,
            train_cap=2_000,
            budget_s=30.0,
            models=("lightgbm", "hist_gbdt", "boosted_nn", "mlp"),
            purpose="smoke test run by the test suite",
        ),
        Profile(
            name="small",
            datasets=_SMALL_PUBLIC,
            seeds=5,
            train_cap=None,
            budget_s=300.0,
            models=TABULAR_MODELS,
            purpose="Hopular's home ground; small-data claims",
        ),
        Profile(
            name="standard",
            datasets=_PUBLIC,
            seeds=1,
            seeds_by_size=(("small", 3),),
            train_cap=20_000,
            budget_s=600.0,
            models=TABULAR_MODELS,
            purpose="the default report",
        ),
        Profile(
            name="full",
            datasets=_PUBLIC,
            seeds=3,
            train_cap=None,
            budget_s=3_600.0,
            models=TABULAR_MODELS,
            purpose="long runs, resumable; a GPU when lent",
        ),
        Profile(
            name="tuned",
            datasets=TUNED_DATASETS,
            seeds=3,
            train_cap=10_000,
            budget_s=120.0,
            models=("lightgbm", "xgboost", "catboost", *TABKIT_MODELS),
            purpose="tuning and ensembles",
            runner="tuned",
            n_trials=20,
        ),
        Profile(
            name="scaling",
            datasets=("synthetic", "nyc_flight_disruption"),
            seeds=1,
            train_cap=None,
            budget_s=600.0,
            models=("boosted_nn", "lightgbm"),
            purpose="fit time and peak memory against rows",
            runner="scaling",
            rows=(1_000, 10_000, 50_000, 300_000),
        ),
    )
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``.

    Parameters
    ----------
    name : str
        A key of ``PROFILES``.

    Returns
    -------
    Profile
        The profile.
    """
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; known: {sorted(PROFILES)}")
    return PROFILES[name]


def hard_timeout(budget_s: float, *, grace_s: float = TIMEOUT_GRACE_S) -> float:
    """Seconds after which a budgeted fit's worker is killed.

    Parameters
    ----------
    budget_s : float
        The model's time budget.
    grace_s : float, default=TIMEOUT_GRACE_S
        Seconds added for loading, encoding and prediction.

    Returns
    -------
    float
        ``TIMEOUT_FACTOR * budget_s + grace_s``.
    """
    return TIMEOUT_FACTOR * float(budget_s) + float(grace_s)


def fit_limits(
    family: str,
    budget_s: float | None,
    *,
    grace_s: float = TIMEOUT_GRACE_S,
    timeout_s: float | None = None,
) -> tuple[float | None, float | None]:
    """Budget and hard timeout of one fit.

    Parameters
    ----------
    family : str
        The adapter's family.
    budget_s : float or None
        The run's per-fit budget for neural models (``Profile.budget_s``).
    grace_s : float, default=TIMEOUT_GRACE_S
        See ``hard_timeout``.
    timeout_s : float or None, default=None
        A wall-clock limit for every fit, whatever its family
        (``benchmarks.run --budget``); the smaller limit applies.

    Returns
    -------
    budget : float or None
        What the adapter gets as ``budget_s`` (None outside
        ``BUDGETED_FAMILIES``).
    timeout : float or None
        When the worker is killed (None for no limit).
    """
    budget = float(budget_s) if budget_s is not None else None
    if family not in BUDGETED_FAMILIES:
        budget = None
    limits = [t for t in (timeout_s,) if t is not None]
    if budget is not None:
        limits.append(hard_timeout(budget, grace_s=grace_s))
    return budget, (min(limits) if limits else None)


def require_data() -> bool:
    """Whether missing data or anchors are errors (``TABKIT_REQUIRE_DATA=1``)."""
    return os.environ.get("TABKIT_REQUIRE_DATA", "") == "1"


def resolve_models(names: Iterable[str], *, explicit: bool) -> list[str]:
    """Keep the registered models among ``names``.

    Parameters
    ----------
    names : iterable of str
        Model names.
    explicit : bool
        Whether the user named them: an unknown name is then an error. For a
        profile's default list, models not registered here (an anchor whose
        package is missing) are skipped with a warning, or are an error when
        ``TABKIT_REQUIRE_DATA=1``.

    Returns
    -------
    list of str
        The names to run, in order, without duplicates.
    """
    names = list(dict.fromkeys(names))
    missing = [m for m in names if m not in MODELS]
    if missing and (explicit or require_data()):
        raise KeyError(f"unknown models {missing}; registered: {sorted(MODELS)}")
    if missing:
        logger.warning("skipping models that are not registered: %s", missing)
    return [m for m in names if m in MODELS]


def tabkit_models() -> list[str]:
    """List the registered models of family "tabkit"."""
    return list(_registered("tabkit"))


def dataset_seeds(
    profile: Profile, datasets: Sequence[str], seeds: Sequence[int] | None = None
) -> dict[str, list[int]]:
    """Seeds per dataset: ``seeds`` for all, or the profile's per size class.

    Parameters
    ----------
    profile : Profile
        The profile.
    datasets : sequence of str
        Registered dataset names.
    seeds : sequence of int or None, default=None
        Seeds overriding the profile's for every dataset.

    Returns
    -------
    dict of str to list of int
        Dataset -> seeds.
    """
    if seeds is not None:
        return {d: [int(s) for s in seeds] for d in datasets}
    return {d: profile.seeds_for(d) for d in datasets}


__all__ = [
    "BUDGETED_FAMILIES",
    "PROFILES",
    "TIMEOUT_FACTOR",
    "TIMEOUT_GRACE_S",
    "Profile",
    "dataset_seeds",
    "fit_limits",
    "get_profile",
    "hard_timeout",
    "require_data",
    "resolve_models",
    "tabkit_models",
]
