# SPDX-License-Identifier: BSD-3-Clause
"""Fit time and peak memory against training rows (profile ``scaling``).

.. code-block:: bash

    python -m benchmarks.scaling --models boosted_nn,lightgbm \
        --rows 1000,10000,50000,300000 --out benchmarks/results/scaling.csv

For every data source, row count and model, one fit in its own worker
process (``benchmarks.run.run_isolated``), measured by
``benchmarks.measure.measure_fit`` on a subset built in the worker
(``scaling_data``):

* ``synthetic``: ``make_classification(n_samples=rows + 2 * holdout,
  n_features=20, n_informative=10, random_state=0)``;
* ``nyc_flight_disruption`` (336,776 rows): a seeded, stratified subsample
  of ``rows + 2 * holdout`` rows.

``rows`` are the training rows; validation and test take ``holdout =
min(max(ceil(rows / 4), 50), 10,000)`` rows each (so the 300,000-row point
of the flights uses 320,000 of its rows). The peak-memory mark is reset
after the subset is built, so ``peak_rss_mb`` is the fit's (and
prediction's) peak over the memory already in use, not the cost of loading
the full dataset. Budgets follow the profile rule
(``profiles.fit_limits``): 10 minutes per fit for the neural models, killed
after 960 s. The CSV has the harness's columns (``store.COLUMNS``); resume
keys are (dataset, model, config, seed, n_train). A markdown table and a
log-log figure are written next to the CSV unless ``--no-report``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import shlex
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from benchmarks import plots
from benchmarks._env import REPO_ROOT, collect_environment, csv_list
from benchmarks.datasets import load_dataset
from benchmarks.models import make_model
from benchmarks.profiles import (
    TIMEOUT_GRACE_S,
    fit_limits,
    get_profile,
    resolve_models,
    tabkit_models,
)
from benchmarks.protocol import Split, is_classification
from benchmarks.report import fmt, md_table
from benchmarks.run import run_isolated, summary, worker_imports
from benchmarks.store import append_row, read_frame, read_records, repair_csv

logger = logging.getLogger("benchmarks.scaling")

PROFILE = get_profile("scaling")
#: Data sources: the synthetic problem and the registered datasets it names.
SOURCES = PROFILE.datasets
SYNTHETIC = "synthetic"
#: Validation and test rows each: ``ceil(rows * HOLDOUT_FRACTION)`` within bounds.
HOLDOUT_FRACTION = 0.25
MIN_HOLDOUT, MAX_HOLDOUT = 50, 10_000
#: Columns that identify one scaling fit (resume).
SCALING_KEY = ("dataset", "model", "config", "seed", "n_train")
#: The worker-side builder of a fit's data (``_worker.build_data``).
DATA_FACTORY = "benchmarks.scaling:scaling_data"
DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "scaling.csv"


def holdout_rows(rows: int) -> int:
    """Count the validation rows (and test rows) for ``rows`` training rows.

    Parameters
    ----------
    rows : int
        Training rows.

    Returns
    -------
    int
        ``min(max(ceil(rows * HOLDOUT_FRACTION), MIN_HOLDOUT), MAX_HOLDOUT)``.
    """
    return min(max(math.ceil(rows * HOLDOUT_FRACTION), MIN_HOLDOUT), MAX_HOLDOUT)


def synthetic(n_samples: int) -> tuple[pd.DataFrame, np.ndarray, str]:
    """``make_classification(n_samples, 20 features, 10 informative, seed 0)``.

    Parameters
    ----------
    n_samples : int
        Rows.

    Returns
    -------
    X : DataFrame
        Features ``x0 .. x19``.
    y : ndarray
        Binary labels.
    task : str
        "binary".
    """
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_samples, n_features=20, n_informative=10, random_state=0
    )
    columns = [f"x{j}" for j in range(X.shape[1])]
    return pd.DataFrame(X, columns=columns), y, "binary"


def _take(
    idx: np.ndarray, y: np.ndarray, size: int, task: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, ``size`` rows), stratified for classification."""
    strata = y[idx] if is_classification(task) else None
    rest, held = train_test_split(
        idx, test_size=size, stratify=strata, random_state=seed
    )
    return np.sort(rest), np.sort(held)


def scaling_data(
    source: str, rows: int, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, str, Split]:
    """Build the data of one scaling fit (called in the worker).

    Parameters
    ----------
    source : str
        ``"synthetic"`` or a registered dataset name.
    rows : int
        Training rows.
    seed : int, default=0
        Seed of the subsample and of the split.

    Returns
    -------
    X : DataFrame
        ``rows + 2 * holdout_rows(rows)`` rows.
    y : ndarray
        Their targets.
    task : str
        The task.
    split : Split
        ``rows`` training rows, ``holdout_rows(rows)`` validation and test
        rows (positions into ``X``; stratified for classification).
    """
    holdout = holdout_rows(rows)
    n_total = rows + 2 * holdout
    if source == SYNTHETIC:
        X, y, task = synthetic(n_total)
    else:
        X, y, task = load_dataset(source)
        if n_total > len(X):
            raise ValueError(
                f"{source} has {len(X)} rows; {rows} training rows need {n_total}"
            )
        if n_total < len(X):
            _, keep = _take(np.arange(len(X)), y, n_total, task, seed)
            X, y = X.iloc[keep].reset_index(drop=True), y[keep]
            gc.collect()  # the full frame is garbage now
    rest, test = _take(np.arange(n_total), y, holdout, task, seed)
    train, val = _take(rest, y, holdout, task, seed)
    return X, y, task, Split(train=train, val=val, test=test)


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(c, "")) for c in SCALING_KEY)


def _done(out: Path, retry_errors: bool) -> set[tuple[str, ...]]:
    skip = {"ok"} if retry_errors else {"ok", "error", "timeout"}
    return {_key(r) for r in read_records(out) if r["status"] in skip}


def _plan(
    models: Sequence[str], rows: Sequence[int], sources: Sequence[str], seed: int
) -> list[dict[str, Any]]:
    """Fits in order: source, then rows ascending, then model."""
    adapters = {m: make_model(m) for m in models}
    return [
        {
            "dataset": source,
            "model": name,
            "config": adapter.config,
            "family": adapter.family,
            "seed": int(seed),
            "n_train": int(n),
        }
        for source in sources
        for n in sorted(rows)
        for name, adapter in adapters.items()
    ]


def default_models() -> list[str]:
    """LightGBM and every registered model of family "tabkit"."""
    return ["lightgbm", *tabkit_models()]


def run_scaling(
    models: Sequence[str],
    rows: Sequence[int],
    out: str | os.PathLike = DEFAULT_OUT,
    *,
    sources: Sequence[str] = SOURCES,
    seed: int = 0,
    threads: int = 2,
    budget_s: float | None = PROFILE.budget_s,
    timeout_grace_s: float = TIMEOUT_GRACE_S,
    progress: bool = True,
    retry_errors: bool = False,
    command: str | None = None,
) -> pd.DataFrame:
    """Run every (source, rows, model) fit not yet in ``out``.

    Parameters
    ----------
    models : sequence of str
        Registered model names.
    rows : sequence of int
        Training-row counts.
    out : path-like, default=benchmarks/results/scaling.csv
        Results CSV (created, or repaired and resumed).
    sources : sequence of str, default=("synthetic", "nyc_flight_disruption")
        Data sources (see ``scaling_data``).
    seed : int, default=0
        Seed of the subsample, the split and the models.
    threads : int, default=2
        Threads per fit.
    budget_s : float or None, default=600
        Per-fit budget of the neural models (``profiles.fit_limits``).
    timeout_grace_s : float, default=profiles.TIMEOUT_GRACE_S
        Seconds the hard timeout adds to ``1.5 * budget_s``.
    progress : bool, default=True
        Show a progress bar.
    retry_errors : bool, default=False
        Rerun fits recorded as "error" or "timeout".
    command : str or None, default=None
        Command line to record.

    Returns
    -------
    DataFrame
        Every record of ``out``.
    """
    out = Path(out)
    repair_csv(out)
    done = _done(out, retry_errors)
    todo = [f for f in _plan(models, rows, sources, seed) if _key(f) not in done]
    logger.info("%d scaling fits to run, results in %s", len(todo), out)
    base = {
        **collect_environment(),
        "threads": threads,
        "isolated": True,
        "profile": PROFILE.name,
        "command": command or f"benchmarks.scaling.run_scaling({models!r}, {rows!r})",
    }
    with logging_redirect_tqdm(), tqdm(todo, disable=not progress, unit="fit") as bar:
        for fit in bar:
            what = f"{fit['dataset']} {fit['model']} rows={fit['n_train']}"
            bar.set_postfix_str(what)
            budget, timeout = fit_limits(
                fit["family"], budget_s, grace_s=timeout_grace_s
            )
            factory = {"source": fit["dataset"], "rows": fit["n_train"], "seed": seed}
            spec = {
                **fit,
                "threads": threads,
                "train_cap": None,
                "budget_s": budget,
                "imports": worker_imports(fit["model"]),
                "reset_peak": True,
                "data_factory": {
                    "function": DATA_FACTORY,
                    "kwargs": factory,
                },
            }
            result = run_isolated(spec, timeout)
            if result.get("status") != "ok":
                logger.warning("%s: %s: %s", what, result["status"], result["error"])
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            limits = {"budget_s": budget, "timeout_s": timeout, "timestamp": stamp}
            append_row(out, {**base, **result, **fit, **limits})
    return read_frame(out)


# ============================================================ report


def _stop_reason(fit_info: object) -> str:
    try:
        info = json.loads(str(fit_info))
    except ValueError:
        return ""
    return str(info.get("stop_reason", "")) if isinstance(info, dict) else ""


def _table(records: pd.DataFrame) -> str:
    last = records.drop_duplicates(list(SCALING_KEY), keep="last")
    rows = []
    for r in last.sort_values(["dataset", "model", "n_train"]).itertuples():
        ok = r.status == "ok"
        rows.append(
            [
                r.dataset,
                r.model,
                f"{int(r.n_train):,}",
                fmt(r.fit_s, 3) if ok else "-",
                f"{r.peak_rss_mb:.0f}" if ok else "-",
                fmt(r.test_primary) if ok else "-",
                _stop_reason(r.fit_info) if ok else str(r.error)[:100],
                r.status,
            ]
        )
    header = ["dataset", "model", "training rows", "fit s", "peak MiB", "test score"]
    return md_table([*header, "stop reason / error", "status"], rows)


def _finding(ok: pd.DataFrame) -> str:
    """Fit seconds and MiB of every model at each dataset's largest row count."""
    parts = []
    for dataset, sub in ok.groupby("dataset", sort=False):
        largest = sub["n_train"].max()
        at = sub[sub["n_train"] == largest].groupby("model")[["fit_s", "peak_rss_mb"]]
        text = ", ".join(
            f"{m} {v.fit_s:.3g} s / {v.peak_rss_mb:.0f} MiB"
            for m, v in at.mean().iterrows()
        )
        parts.append(f"{dataset} at {int(largest):,} rows: {text}")
    return "; ".join(parts) + "." if parts else ""


def _failures(records: pd.DataFrame) -> str:
    """Name the points that are missing from the figure because their fit failed."""
    last = records.drop_duplicates(list(SCALING_KEY), keep="last")
    failed = last[last["status"] != "ok"].sort_values(["dataset", "model", "n_train"])
    if failed.empty:
        return ""
    text = "; ".join(
        f"{r.model} on {r.dataset} at {int(r.n_train):,} rows ({r.status})"
        for r in failed.itertuples()
    )
    return f" Not plotted, the fit failed: {text}."


def write_scaling_report(
    csv: str | os.PathLike, out: str | os.PathLike, *, command: str = ""
) -> Path:
    """Write the scaling report (table and figure) of a scaling CSV.

    Parameters
    ----------
    csv : path-like
        Results of ``run_scaling``.
    out : path-like
        Markdown file; the figure is ``<out stem>_fit_memory.png`` beside it.
    command : str, default=""
        Command shown under the CSV's commands.

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    records = read_frame(csv)
    ok = records[records["status"] == "ok"]
    ok = ok.drop_duplicates(list(SCALING_KEY), keep="last")
    commands = [*dict.fromkeys(records["command"].dropna().astype(str)), command]
    threads = ", ".join(records["threads"].dropna().astype(str).unique()) or "-"
    cpu = ", ".join(records["cpu_model"].dropna().astype(str).unique()) or "-"
    parts = [
        "# Scaling: fit time and peak memory against training rows\n\n",
        "Produced by (results, then this report):\n\n",
        "```bash\n" + "\n".join(c for c in commands if c) + "\n```\n\n",
        f"One fit per point in its own process; CPU {cpu}; threads per fit: "
        f"{threads}. "
        "Validation and test rows: a quarter of the training rows each "
        f"(at least {MIN_HOLDOUT}, at most {MAX_HOLDOUT:,}). Peak memory is the "
        "fit process's peak resident memory, measured from just before the fit "
        "(data already loaded and subsampled). Neural models get a "
        f"{PROFILE.budget_s:g} s budget per fit.\n\n",
    ]
    if not ok.empty:
        figure = plots.plot_scaling(ok, out.parent / f"{out.stem}_fit_memory.png")
        caption = (
            "Fit seconds (top, log-log) and peak memory in MiB (bottom, linear "
            "from 0) against training rows; one line per model, one column per "
            "dataset "
            "(synthetic: make_classification with 20 features; others: seeded "
            "subsamples). " + _finding(ok) + _failures(records)
        )
        parts.append(plots.figure_markdown(figure, "Scaling", caption) + "\n")
    parts.append(_table(records))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")
    return out


# ============================================================ command line


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser of ``python -m benchmarks.scaling``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--models", type=csv_list, help="models (default: lightgbm + tabkit's)"
    )
    parser.add_argument(
        "--rows",
        type=csv_list,
        default=[str(r) for r in PROFILE.rows],
        help="training-row counts, e.g. 1000,10000",
    )
    parser.add_argument(
        "--datasets",
        type=csv_list,
        default=list(SOURCES),
        help="data sources (default: synthetic,nyc_flight_disruption)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results CSV")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    parser.add_argument("--threads", type=int, default=2, help="threads per fit")
    parser.add_argument(
        "--budget",
        type=float,
        default=PROFILE.budget_s,
        help="per-fit budget of the neural models, in seconds",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the report")
    parser.add_argument(
        "--retry-errors", action="store_true", help="rerun error/timeout fits"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.scaling``.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 when every planned fit has an "ok" record, 1 otherwise.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    try:
        models = resolve_models(args.models or default_models(), explicit=True)
    except KeyError as exc:
        parser.error(str(exc))
    rows = [int(r) for r in args.rows]
    command = shlex.join(["python", "-m", "benchmarks.scaling", *argv])
    results = run_scaling(
        models,
        rows,
        args.out,
        sources=args.datasets,
        seed=args.seed,
        threads=args.threads,
        budget_s=args.budget,
        progress=not args.no_progress,
        retry_errors=args.retry_errors,
        command=command,
    )
    sys.stdout.write(summary(results, command))
    if not args.no_report:
        md = write_scaling_report(args.out, args.out.with_suffix(".md"))
        logger.info("wrote %s", md)
    ok = _done(args.out, retry_errors=True)
    plan = _plan(models, rows, args.datasets, args.seed)
    return 0 if all(_key(f) in ok for f in plan) else 1


if __name__ == "__main__":
    sys.exit(main())
