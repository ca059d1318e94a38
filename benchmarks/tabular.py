# SPDX-License-Identifier: BSD-3-Clause
"""Run a profile of the tabular suite (``benchmarks/README.md``) and report it.

.. code-block:: bash

    python -m benchmarks.tabular --profile standard \
        --models lightgbm,xgboost,catboost,boosted_nn --report

A profile (``benchmarks.profiles``) fixes the datasets, the seeds (per dataset
size class), the training-row cap and the per-fit budget of the neural
models; ``--models``, ``--datasets`` and ``--seeds`` narrow or override it.
Results go to ``benchmarks/results/<profile>.csv`` (``--out``), one row per
fit as it finishes, with the profile name in the ``profile`` column; the
same command resumes an interrupted run. ``--report`` then writes
``<profile>.md`` and its figures next to the CSV (``python -m
benchmarks.report`` does the same from the CSV alone).

The ``tuned`` profile runs with ``python -m benchmarks.tuned`` and
``scaling`` with ``python -m benchmarks.scaling``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from benchmarks._env import REPO_ROOT, csv_list
from benchmarks.profiles import (
    PROFILES,
    TIMEOUT_GRACE_S,
    Profile,
    dataset_seeds,
    get_profile,
    resolve_models,
)
from benchmarks.report import write_report
from benchmarks.run import run_benchmark, summary, unfinished

logger = logging.getLogger("benchmarks.tabular")

#: Where results go by default: ``<RESULTS_DIR>/<profile>.csv``.
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


class ProfileNotRunnable(ValueError):
    """The profile cannot run with this command (``tuned``, ``scaling``)."""


def check_runnable(profile: Profile) -> None:
    """Raise ``ProfileNotRunnable`` unless ``profile`` runs here.

    Parameters
    ----------
    profile : Profile
        The profile.
    """
    if profile.runner == "tuned":
        raise ProfileNotRunnable(
            f"profile {profile.name!r} ({profile.n_trials} trials of at most "
            f"{profile.budget_s:g} s per model family) runs with "
            "`python -m benchmarks.tuned`"
        )
    if profile.runner == "scaling":
        raise ProfileNotRunnable(
            f"profile {profile.name!r} runs with `python -m benchmarks.scaling`"
        )


def default_out(profile: str) -> Path:
    """Return the default results CSV of a profile: ``results/<profile>.csv``."""
    return RESULTS_DIR / f"{profile}.csv"


def run_profile(
    profile: str | Profile,
    *,
    models: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    out: str | os.PathLike | None = None,
    threads: int = 2,
    isolate: bool = True,
    progress: bool = True,
    retry_errors: bool = False,
    report: bool = False,
    command: str | None = None,
    timeout_grace_s: float = TIMEOUT_GRACE_S,
) -> pd.DataFrame:
    """Run every fit of a profile not yet in ``out``; optionally report.

    Parameters
    ----------
    profile : str or Profile
        Profile, or its name in ``PROFILES``.
    models : sequence of str or None, default=None
        Models to run; the profile's default list when None (anchors that
        are not registered are then skipped, see ``profiles.resolve_models``).
    datasets : sequence of str or None, default=None
        Datasets; the profile's when None.
    seeds : sequence of int or None, default=None
        Seeds for every dataset; the profile's per size class when None.
    out : path-like or None, default=None
        Results CSV; ``benchmarks/results/<profile>.csv`` when None.
    threads : int, default=2
        Threads per fit.
    isolate : bool, default=True
        One worker process per fit (budgets enforced, per-fit peak RSS).
    progress : bool, default=True
        Show a progress bar.
    retry_errors : bool, default=False
        Rerun fits recorded as "error" or "timeout".
    report : bool, default=False
        Write ``<out stem>.md`` and its figures next to ``out`` afterwards.
    command : str or None, default=None
        Command line to record; a Python call is recorded when None.
    timeout_grace_s : float, default=profiles.TIMEOUT_GRACE_S
        Seconds the hard timeout adds to ``1.5 * budget`` (tests shorten it).

    Returns
    -------
    DataFrame
        Every record of ``out``.
    """
    profile = get_profile(profile) if isinstance(profile, str) else profile
    check_runnable(profile)
    chosen = resolve_models(
        profile.models if models is None else models, explicit=models is not None
    )
    names = list(profile.datasets if datasets is None else datasets)
    out = Path(out) if out is not None else default_out(profile.name)
    plan = dataset_seeds(profile, names, seeds)
    logger.info(
        "profile %s: %d datasets, %d models, %d fits planned -> %s",
        profile.name,
        len(names),
        len(chosen),
        sum(len(s) for s in plan.values()) * len(chosen),
        out,
    )
    results = run_benchmark(
        chosen,
        names,
        plan,
        out,
        threads=threads,
        isolate=isolate,
        progress=progress,
        train_cap=profile.train_cap,
        retry_errors=retry_errors,
        command=command,
        model_budget=profile.budget_s,
        timeout_grace_s=timeout_grace_s,
        profile=profile.name,
    )
    if report:
        md = write_report(out, out.with_suffix(".md"), models=chosen)
        logger.info("wrote %s", md)
    return results


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser of ``python -m benchmarks.tabular``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tabular", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--profile", required=True, choices=sorted(PROFILES), help="profile to run"
    )
    parser.add_argument(
        "--models", type=csv_list, help="comma-separated models (default: profile)"
    )
    parser.add_argument(
        "--datasets", type=csv_list, help="comma-separated datasets (default: profile)"
    )
    parser.add_argument(
        "--seeds", type=csv_list, help="seeds for every dataset, e.g. 0,1,2"
    )
    parser.add_argument(
        "--out", type=Path, help="results CSV (default: results/<profile>.csv)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per fit")
    parser.add_argument(
        "--report", action="store_true", help="write <out>.md and figures after"
    )
    parser.add_argument(
        "--retry-errors", action="store_true", help="rerun error/timeout fits"
    )
    parser.add_argument("--no-isolate", action="store_true", help="fit in this process")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.tabular``.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 when every planned fit has an "ok" record, 1 otherwise (2 for
        usage errors, through ``argparse``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    profile = get_profile(args.profile)
    try:
        check_runnable(profile)
        models = resolve_models(
            args.models or profile.models, explicit=args.models is not None
        )
    except (ProfileNotRunnable, KeyError) as exc:
        parser.error(str(exc))
    out = args.out or default_out(profile.name)
    seeds = None if args.seeds is None else [int(s) for s in args.seeds]
    command = shlex.join(["python", "-m", "benchmarks.tabular", *argv])
    results = run_profile(
        profile,
        models=models,
        datasets=args.datasets,
        seeds=seeds,
        out=out,
        threads=args.threads,
        isolate=not args.no_isolate,
        progress=not args.no_progress,
        retry_errors=args.retry_errors,
        report=args.report,
        command=command,
    )
    sys.stdout.write(summary(results, command))
    datasets = list(args.datasets or profile.datasets)
    todo = unfinished(models, datasets, dataset_seeds(profile, datasets, seeds), out)
    return 0 if not todo else 1


if __name__ == "__main__":
    sys.exit(main())
