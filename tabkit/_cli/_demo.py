# SPDX-License-Identifier: BSD-3-Clause
"""``tabkit demo``: tabkit's models beside LightGBM, on tables and on a database."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    mean_absolute_error,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import tabkit
from tabkit._cli._common import CommandError, HelpFormatter, format_int
from tabkit._cli._fit import LGBM_PATIENCE, lightgbm_eval_args, validation_score
from tabkit.datasets import make_relational
from tabkit.relational import Database, RelationalFeatures

_DEMO_DATA = {
    "breast_cancer": (load_breast_cancer, "binary"),
    "digits": (load_digits, "multiclass"),
    "diabetes": (load_diabetes, "regression"),
}
#: Customers of the demo's synthetic shop (about 40 rows each in all).
DEMO_CUSTOMERS = 5_000
#: Epochs of the demo's relational GNN (early stopping usually ends sooner).
DEMO_EPOCHS = 20
#: File name of the demo's SQLite database in the work directory.
DEMO_DB = "tabkit_demo.db"
#: Default file name of the demo's plot.
DEMO_PLOT = "tabkit_demo.png"
#: Aggregation windows of ``RelationalFeatures`` in the demo (the benchmark's).
DEMO_WINDOWS = ("30D", "365D", None)

DESCRIPTION = """\
Fit tabkit's models beside LightGBM and print their test scores and fit
times, in about a minute on one thread.

Tabular part: the boosted NN and LightGBM on three datasets that ship with
scikit-learn (breast_cancer, digits, diabetes), each split 60 / 20 / 20
with both models early-stopping on the same validation rows.

Relational part: a synthetic shop database (tabkit.datasets.make_relational:
customers, orders, items, products; 5,000 customers, about 210,000 rows by
default) is written to a SQLite file with Database.to_sql and read back with
Database.from_sql; the relational GNN and LightGBM on RelationalFeatures
(temporal aggregates over two hops) then predict churn (no order in the
next 60 days) at past cut-off dates, early-stopping on later cut-offs and
scored on the latest ones. The generator's oracle (the exact churn
probability from its hidden state) shows the best score reachable.

A plot of the scores is written with matplotlib (the tabkit-ml[plot] extra)
when it is installed.
"""

EPILOG = """\
examples:
  tabkit demo
  tabkit demo --skip-tabular --customers 2000 --workdir demo/
  tabkit demo --threads 2 --plot scores.png
"""


def add_parser(sub: Any) -> None:
    """Register ``demo`` on the ``tabkit`` subparsers.

    Parameters
    ----------
    sub : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.

    Examples
    --------
    >>> import argparse
    >>> from tabkit._cli._demo import add_parser
    >>> parser = argparse.ArgumentParser(prog="tabkit")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["demo", "--skip-tabular"]).customers
    5000
    """
    demo = sub.add_parser(
        "demo",
        help="tabkit's models vs LightGBM on bundled data and a synthetic database",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    demo.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of data and models"
    )
    demo.add_argument(
        "--threads",
        type=_at_least(1),
        default=1,
        metavar="N",
        help="threads given to every model",
    )
    demo.add_argument(
        "--skip-tabular", action="store_true", help="skip the tabular part"
    )
    demo.add_argument(
        "--skip-relational", action="store_true", help="skip the relational part"
    )
    demo.add_argument(
        "--customers",
        type=_at_least(20),
        default=DEMO_CUSTOMERS,
        metavar="N",
        help="customers of the synthetic shop, at least 20",
    )
    demo.add_argument(
        "--epochs",
        type=_at_least(1),
        default=DEMO_EPOCHS,
        metavar="N",
        help="most epochs of the relational GNN",
    )
    demo.add_argument(
        "--workdir",
        metavar="DIR",
        help=f"keep the SQLite file ({DEMO_DB}) and the plot here "
        "(default: a temporary directory for the database, removed at the end)",
    )
    demo.add_argument(
        "--plot",
        metavar="PATH",
        help=f"PNG to write (default: {DEMO_PLOT} in --workdir, else in the "
        "current directory)",
    )
    demo.add_argument("--no-plot", action="store_true", help="write no plot")
    demo.add_argument(
        "--no-progress", action="store_true", help="no progress bars on stderr"
    )
    demo.set_defaults(handler=run)


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {text}")
        return value

    return parse


# ============================================================ tabular part
def _lightgbm(task: str, seed: int, threads: int, **params: Any) -> Any:
    import lightgbm  # noqa: PLC0415 - imported when the demo runs

    cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    return cls(
        **{
            "n_estimators": 2000,
            "random_state": seed,
            "n_jobs": threads,
            "verbose": -1,
            **params,
        }
    )


def _models(task: str, seed: int, threads: int) -> dict[str, Any]:
    boosted = (
        tabkit.BoostedNNRegressor
        if task == "regression"
        else tabkit.BoostedNNClassifier
    )
    lgbm = _lightgbm(task, seed, threads)
    return {
        boosted.__name__: boosted(random_state=seed, n_threads=threads),
        type(lgbm).__name__: lgbm,
    }


def _fit_lightgbm(model: Any, X: Any, y: Any, X_val: Any, y_val: Any) -> None:
    import lightgbm  # noqa: PLC0415

    stop = [lightgbm.early_stopping(LGBM_PATIENCE, verbose=False)]
    model.fit(X, y, callbacks=stop, **lightgbm_eval_args(model, X_val, y_val))


def _fit(model: Any, X: pd.DataFrame, y: Any, X_val: pd.DataFrame, y_val: Any) -> None:
    if isinstance(model, tabkit.BoostedNNClassifier | tabkit.BoostedNNRegressor):
        model.fit(X, y, X_val=X_val, y_val=y_val)
        return
    _fit_lightgbm(model, X, y, X_val, y_val)


def run_demo(seed: int = 0, threads: int = 1) -> pd.DataFrame:
    """Fit the boosted NN and LightGBM on three scikit-learn datasets.

    The tabular part of ``tabkit demo``. Each dataset is split 60 / 20 / 20
    (stratified for classification) into train, validation and test rows;
    both models early-stop on the validation rows and are scored on the test
    rows.

    Parameters
    ----------
    seed : int, default=0
        Split and model seed.
    threads : int, default=1
        Threads given to both models.

    Returns
    -------
    results : DataFrame
        One row per dataset and model: metric, test score, fit seconds.

    See Also
    --------
    run_relational_demo : The relational part.

    Examples
    --------
    >>> from tabkit.cli import run_demo
    >>> table = run_demo()
    >>> sorted(table["dataset"].unique())
    ['breast_cancer', 'diabetes', 'digits']
    """
    rows = []
    for name, (loader, task) in _DEMO_DATA.items():
        X, y = loader(return_X_y=True, as_frame=True)
        y = np.asarray(y)
        stratify = None if task == "regression" else y
        X_rest, X_test, y_rest, y_test = train_test_split(
            X, y, test_size=0.2, random_state=seed, stratify=stratify
        )
        X_train, X_val, y_train, y_val = train_test_split(
            X_rest,
            y_rest,
            test_size=0.25,
            random_state=seed,
            stratify=None if task == "regression" else y_rest,
        )
        for model_name, model in _models(task, seed, threads).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                # the defaults' step cap may stop the boosted NN while it still
                # improves; the demo shows the defaults as they are
                warnings.simplefilter("ignore", ConvergenceWarning)
                _fit(model, X_train, y_train, X_val, y_val)
            seconds = time.perf_counter() - start
            metric, value = validation_score(model, X_test, y_test)
            rows.append(
                {
                    "dataset": name,
                    "model": model_name,
                    "metric": metric,
                    "test score": round(value, 4),
                    "fit seconds": round(seconds, 3),
                }
            )
    return pd.DataFrame(rows)


# ============================================================ relational part
def _relational_score(metric: str, y: np.ndarray, predict: Callable) -> float:
    if metric == "roc_auc":
        if len(np.unique(y)) < 2:
            return float("nan")
        return float(roc_auc_score(y, predict("proba")))
    return float(mean_absolute_error(y, predict("value")))


def _predictor(model: Any, X: pd.DataFrame) -> Callable[[str], np.ndarray]:
    def predict(kind: str) -> np.ndarray:
        if kind == "proba":
            return np.asarray(model.predict_proba(X))[:, 1]
        return np.asarray(model.predict(X))

    return predict


def run_relational_demo(
    *,
    customers: int = DEMO_CUSTOMERS,
    max_epochs: int = DEMO_EPOCHS,
    seed: int = 0,
    threads: int = 1,
    workdir: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Fit the relational GNN and LightGBM on a synthetic shop database in SQLite.

    The relational part of ``tabkit demo``:
    :func:`~tabkit.datasets.make_relational` generates the shop (``"chain"``
    template: customers, orders, items, products) and its churn task; the
    database is written to ``tabkit_demo.db`` with :meth:`Database.to_sql` and
    read back with :meth:`Database.from_sql`; then, on the database read
    back, :class:`~tabkit.RelationalGNNClassifier` (three layers: the
    generator's signals reach three hops) and a pipeline of
    :class:`~tabkit.relational.RelationalFeatures` (two hops) and LightGBM
    are fitted on the training seeds, early-stop on the validation seeds and
    are scored on the test seeds (each a customer at a cut-off date).

    Parameters
    ----------
    customers : int, default=5000
        Customers of the shop (at least 20; about 40 rows each in all).
    max_epochs : int, default=20
        Most epochs of the GNN.
    seed : int, default=0
        Seed of the data and the models.
    threads : int, default=1
        Threads given to both models.
    workdir : str or Path, optional
        Directory of the SQLite file, kept there; by default a temporary
        directory, removed at the end.
    progress : bool, default=False
        Show the GNN's progress bar.

    Returns
    -------
    results : DataFrame
        One row per model (and one for the oracle, the generator's exact
        churn probability, without a fit time), with the columns of
        :func:`run_demo`. ``results.attrs`` holds ``"tables"`` (rows per
        table), ``"seeds"`` (training, validation and test seeds),
        ``"database"`` (the SQLite file, or None when it was temporary),
        ``"horizon"`` and ``"gnn_epochs"`` (epochs run, best epoch).

    See Also
    --------
    run_demo : The tabular part.

    Examples
    --------
    >>> from tabkit.cli import run_relational_demo
    >>> table = run_relational_demo(customers=60, max_epochs=1)
    >>> table["model"].tolist()
    ['RelationalGNNClassifier', 'RelationalFeatures + LGBMClassifier', 'oracle']
    >>> table.attrs["tables"]["customers"]
    60
    """
    shop = make_relational("chain", size=customers, seed=seed)
    entity = shop.task.entity_table
    with tempfile.TemporaryDirectory(prefix="tabkit_demo_") as temporary:
        folder = Path(workdir) if workdir is not None else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / DEMO_DB
        shop.database.to_sql(path, if_exists="replace")
        db = Database.from_sql(path)
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = (
        shop.train,
        shop.val,
        shop.test,
    )
    y_train, y_val, y_test = map(np.asarray, (y_train, y_val, y_test))
    binary = shop.task_type == "binary"
    metric_name = "ROC AUC" if shop.metric == "roc_auc" else shop.metric.upper()
    gnn_cls = (
        tabkit.RelationalGNNClassifier if binary else tabkit.RelationalGNNRegressor
    )
    gnn = gnn_cls(
        database=db,
        entity_table=entity,
        n_layers=3,
        max_epochs=max_epochs,
        random_state=seed,
        n_threads=threads,
        verbose=int(progress),
    )
    rows = []
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short demo training
        gnn.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    rows.append((gnn_cls.__name__, gnn, X_test, time.perf_counter() - start))

    start = time.perf_counter()
    features = RelationalFeatures(
        database=db, entity_table=entity, hops=2, windows=DEMO_WINDOWS
    )
    F_train = features.fit_transform(X_train)
    booster = _lightgbm(
        "binary" if binary else "regression",
        seed,
        threads,
        learning_rate=0.05,
        **({} if binary else {"objective": "l1"}),
    )
    _fit_lightgbm(booster, F_train, y_train, features.transform(X_val), y_val)
    pipeline = make_pipeline(features, booster)  # both fitted: predicts on seeds
    name = f"RelationalFeatures + {type(booster).__name__}"
    rows.append((name, pipeline, X_test, time.perf_counter() - start))

    dataset = f"shop ({format_int(customers)} customers)"
    table = pd.DataFrame(
        [
            {
                "dataset": dataset,
                "model": model_name,
                "metric": metric_name,
                "test score": round(
                    _relational_score(shop.metric, y_test, _predictor(model, X)), 4
                ),
                "fit seconds": round(seconds, 3),
            }
            for model_name, model, X, seconds in rows
        ]
    )
    oracle = {
        "dataset": dataset,
        "model": "oracle",
        "metric": metric_name,
        "test score": round(float(shop.info["oracle_score"]), 4),
        "fit seconds": float("nan"),
    }
    table = pd.concat([table, pd.DataFrame([oracle])], ignore_index=True)
    table.attrs = {
        "tables": {t: len(db[t]) for t in db},
        "seeds": (len(X_train), len(X_val), len(X_test)),
        "database": None if workdir is None else str(path),
        "horizon": _days(shop.task.window),
        "gnn_epochs": (int(gnn.n_iter_), gnn.best_epoch_),
    }
    return table


def _days(window: Any) -> str:
    if isinstance(window, pd.Timedelta) and window == pd.Timedelta(days=window.days):
        return f"{window.days} days"
    return str(window)


# ============================================================ plot
def plot_demo(tables: list[pd.DataFrame], path: str | Path) -> Path | None:
    """Draw the demo's test scores, one panel per dataset, to a PNG file.

    Parameters
    ----------
    tables : list of DataFrame
        Results of :func:`run_demo` and :func:`run_relational_demo`.
    path : str or Path
        The PNG file.

    Returns
    -------
    path : Path or None
        The file written; None when matplotlib is not installed (a warning
        says how to install it).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> from tabkit._cli._demo import plot_demo
    >>> table = pd.DataFrame({"dataset": ["d", "d"], "model": ["a", "b"],
    ...                       "metric": ["RMSE"] * 2, "test score": [1.0, 2.0],
    ...                       "fit seconds": [0.1, 0.2]})
    >>> path = plot_demo([table], pathlib.Path(tempfile.mkdtemp()) / "p.png")
    >>> path is None or path.stat().st_size > 0
    True
    """
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 - optional extra
    except ImportError:
        warnings.warn(
            "matplotlib is not installed, so the demo writes no plot: "
            "pip install 'tabkit-ml[plot]' to get it",
            UserWarning,
            stacklevel=2,
        )
        return None
    results = pd.concat(tables, ignore_index=True)
    datasets = list(dict.fromkeys(results["dataset"]))
    figure = Figure(figsize=(3.4 * len(datasets), 3.0), layout="constrained")
    axes = figure.subplots(1, len(datasets), squeeze=False)[0]
    for ax, dataset in zip(axes, datasets, strict=True):
        part = results[results["dataset"] == dataset]
        fitted = part[part["fit seconds"].notna()]
        labels = [
            f"{m.replace(' + ', chr(10) + '+ ')}\n{s:.2g} s"
            for m, s in zip(fitted["model"], fitted["fit seconds"], strict=True)
        ]
        scores = fitted["test score"].to_numpy(dtype=float)
        colours = [f"C{i}" for i in range(len(fitted))]
        ax.barh(labels, scores, color=colours)
        for y, value in enumerate(scores):
            ax.annotate(
                f"{value:.3f}",
                (value, y),
                xytext=(-3, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                color="white",
            )
        metric = str(part["metric"].iloc[0])
        better = "lower" if metric in {"RMSE", "MAE"} else "higher"
        title = f"{dataset}\n{metric} ({better} is better)"
        oracle = part[part["fit seconds"].isna()]
        top = float(np.nanmax(scores)) if len(scores) else 1.0
        if len(oracle):
            value = float(oracle["test score"].iloc[0])
            ax.axvline(value, color="k", linestyle="--", linewidth=1)
            title += f"\ndashed: oracle {value:.3f}"
            top = max(top, value)
        left = 0.5 if metric == "ROC AUC" else 0.0
        ax.set_xlim(left, top * 1.05 if metric != "ROC AUC" else min(1.0, top + 0.03))
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
    path = Path(path)
    figure.savefig(path, dpi=120)
    return path


# ============================================================ command
def run(args: argparse.Namespace) -> int:
    """Run ``tabkit demo`` (see ``tabkit demo --help``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    status : int
        0 (errors raise :class:`CommandError`).

    Examples
    --------
    >>> from tabkit.cli import main
    >>> main(["demo", "--skip-tabular", "--skip-relational"])
    nothing to run: --skip-tabular and --skip-relational together skip both parts
    0
    """
    write = sys.stdout.write
    if args.skip_tabular and args.skip_relational:
        write(
            "nothing to run: --skip-tabular and --skip-relational together skip "
            "both parts\n"
        )
        return 0
    workdir = Path(args.workdir) if args.workdir is not None else None
    if workdir is not None and workdir.exists() and not workdir.is_dir():
        raise CommandError(f"--workdir {workdir} exists and is not a directory")
    tables = []
    if not args.skip_tabular:
        write(
            "tabular: boosted NN vs LightGBM on three scikit-learn datasets "
            f"(60/20/20 split, early stopping on the validation rows, "
            f"{args.threads} thread{'s' if args.threads > 1 else ''})\n"
        )
        sys.stdout.flush()
        table = run_demo(seed=args.seed, threads=args.threads)
        write(table.to_string(index=False) + "\n")
        tables.append(table)
    if not args.skip_relational:
        if tables:
            write("\n")
        write(
            f"relational: a synthetic shop of {format_int(args.customers)} "
            "customers (make_relational), written to SQLite and read back; "
            "the relational GNN vs LightGBM on RelationalFeatures\n"
        )
        sys.stdout.flush()
        table = run_relational_demo(
            customers=args.customers,
            max_epochs=args.epochs,
            seed=args.seed,
            threads=args.threads,
            workdir=workdir,
            progress=not args.no_progress,
        )
        info = table.attrs
        sizes = ", ".join(f"{t} {format_int(n)}" for t, n in info["tables"].items())
        total = format_int(sum(info["tables"].values()))
        n_train, n_val, n_test = (format_int(n) for n in info["seeds"])
        where = info["database"] or "a temporary file, removed"
        ran, best = info["gnn_epochs"]
        write(
            f"database: {sizes} rows ({total} in all), in {where}\n"
            f"task: churn (no order in the next {info['horizon']}); seeds "
            f"(customer, cut-off): {n_train} training, {n_val} validation, "
            f"{n_test} test\n"
            f"GNN: {ran} epochs run, weights of epoch {best} kept\n"
        )
        write(table.to_string(index=False, na_rep="-") + "\n")
        write(
            "oracle: the generator's exact churn probability given its hidden "
            "state, the best any model can score\n"
        )
        tables.append(table)
    if not args.no_plot:
        if args.plot is not None:
            plot = Path(args.plot)
        else:
            plot = (workdir if workdir is not None else Path.cwd()) / DEMO_PLOT
        try:
            written = plot_demo(tables, plot)
        except OSError as exc:
            raise CommandError(f"cannot write the plot {plot}: {exc}") from None
        if written is not None:
            write(f"\nplot: {written}\n")
    return 0
