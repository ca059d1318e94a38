# SPDX-License-Identifier: BSD-3-Clause
"""``tabkit fit`` and ``tabkit predict``: a table file in, a model file out."""

from __future__ import annotations

import argparse
import inspect
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

import tabkit
from tabkit._cli._common import (
    CommandError,
    HelpFormatter,
    format_int,
    parse_params,
    read_table,
    table_stem,
)
from tabkit.estimators import FAMILIES
from tabkit.exceptions import ModelFileError

#: ``--task auto`` takes a numeric target of whole numbers with at most this
#: many distinct values for class labels.
AUTO_MAX_CLASSES = 20
#: ``--model`` names besides tabkit's families: baselines that are fitted and
#: scored but cannot be written as tabkit model files.
BASELINES = ("lightgbm",)
#: Boosting rounds and early-stopping patience of the LightGBM baseline (the
#: benchmark harness's settings).
LGBM_ROUNDS = 2000
LGBM_PATIENCE = 50

FIT_DESCRIPTION = """\
Fit a model on a table file and write it to a tabkit model file.

The table is read by its suffix (.csv, .tsv, optionally compressed, or
.parquet / .pq). Rows with a missing target are dropped. A seeded share of
the rows (--val-fraction, stratified by class for classification) is held
out: the model early-stops on it where it can and is scored on it (ROC AUC
for two classes, accuracy for more, RMSE for regression).

The model written is the early-stopped one, fitted on the other rows with
the weights (or boosting steps) of its best validation score; it is not
refitted on all rows. With --val-fraction 0 it trains on every row, without
early stopping and without a score.

--task auto chooses classification when the target is not numeric (text,
category, boolean) or holds at most 20 distinct whole numbers, and
regression otherwise.
"""

FIT_EPILOG = """\
examples:
  tabkit fit train.csv --target churned
  tabkit fit houses.parquet --target price --model excelformer \\
      --param max_epochs=50 --param batch_size=128 --out houses.tabkit
  tabkit fit train.csv --target churned --model lightgbm   # a baseline score
  tabkit predict train.tabkit new.csv --proba --out predictions.csv

--param key=value sets a parameter of the estimator (values are read as
JSON when they parse: 2, 0.5, true, null, [16, 8]; as text otherwise). The
parameters are those of the estimator's class, for example
tabkit.BoostedNNClassifier: see its documentation. --seed sets
random_state and --threads n_threads (n_jobs for LightGBM) unless --param
sets them.

--model lightgbm fits LightGBM with early stopping (up to 2,000 rounds) as a
baseline to compare with: it prints the validation score but writes no
model file, since tabkit model files hold tabkit estimators only (they are
loaded without running code, unlike pickles). Keep such a model with
LightGBM's own Booster.save_model from Python.
"""

PREDICT_DESCRIPTION = """\
Predict with a model file written by `tabkit fit` (or tabkit.save).

The table is read as by `tabkit fit`. Its columns are matched to the
model's by name (extra columns, the target for instance, are left out; a
missing one is an error). The output is a CSV with a `prediction` column
and, with --proba, one `proba_<class>` column per class, one row per input
row in the same order.
"""

PREDICT_EPILOG = """\
examples:
  tabkit predict train.tabkit new.csv                 # CSV on standard output
  tabkit predict train.tabkit new.parquet --proba --out predictions.csv

Only load model files from sources you trust: loading runs no code from
the file, but anyone can write a valid model file.
"""


# ============================================================ parsers
def add_parsers(sub: Any) -> None:
    """Register ``fit`` and ``predict`` on the ``tabkit`` subparsers.

    Parameters
    ----------
    sub : argparse subparsers action
        What ``ArgumentParser.add_subparsers`` returned.

    Examples
    --------
    >>> import argparse
    >>> from tabkit._cli._fit import add_parsers
    >>> parser = argparse.ArgumentParser(prog="tabkit")
    >>> add_parsers(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["fit", "t.csv", "--target", "y"]).model
    'boosted_nn'
    """
    fit = sub.add_parser(
        "fit",
        help="fit a model on a table file and write a model file",
        description=FIT_DESCRIPTION,
        epilog=FIT_EPILOG,
        formatter_class=HelpFormatter,
    )
    fit.add_argument("data", metavar="DATA", help="training table (.csv, .parquet...)")
    fit.add_argument(
        "--target", required=True, metavar="COL", help="the column to predict"
    )
    fit.add_argument(
        "--model",
        choices=[*FAMILIES, *BASELINES],
        default="boosted_nn",
        help="model family",
    )
    fit.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help="kind of target; auto: see above",
    )
    fit.add_argument(
        "--out",
        metavar="MODEL_FILE",
        help="model file to write (default: DATA's name with the suffix .tabkit, "
        "in the current directory)",
    )
    fit.add_argument(
        "--param",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="estimator parameter (repeatable)",
    )
    fit.add_argument(
        "--val-fraction",
        type=_fraction,
        default=0.2,
        metavar="F",
        help="share of the rows held out for early stopping and the score, "
        "in [0, 1) (default: 0.2)",
    )
    fit.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the split and model"
    )
    fit.add_argument(
        "--threads", type=_positive, default=1, metavar="N", help="threads to use"
    )
    fit.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr"
    )
    fit.set_defaults(handler=run_fit)

    predict = sub.add_parser(
        "predict",
        help="predict with a model file",
        description=PREDICT_DESCRIPTION,
        epilog=PREDICT_EPILOG,
        formatter_class=HelpFormatter,
    )
    predict.add_argument("model", metavar="MODEL", help="model file (.tabkit)")
    predict.add_argument("data", metavar="DATA", help="table to predict")
    predict.add_argument(
        "--out",
        metavar="PRED.csv",
        help="CSV file to write (default: standard output)",
    )
    predict.add_argument(
        "--proba",
        action="store_true",
        help="add one proba_<class> column per class (classifiers)",
    )
    predict.set_defaults(handler=run_predict)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _key_value(text: str) -> str:
    key, sep, _ = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


# ============================================================ target
def infer_task(y: pd.Series) -> tuple[str, str]:
    """Choose classification or regression for a target column (``--task auto``).

    Classification when the target is not numeric (text, category, boolean)
    or holds at most ``AUTO_MAX_CLASSES`` (20) distinct whole numbers;
    regression otherwise.

    Parameters
    ----------
    y : Series
        The target, without missing values.

    Returns
    -------
    task : {"classification", "regression"}
    reason : str
        Why, for the summary the command prints.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabkit._cli._fit import infer_task
    >>> infer_task(pd.Series(["yes", "no", "yes"], name="churned"))[0]
    'classification'
    >>> infer_task(pd.Series([0.0, 1.0, 1.0], name="label"))
    ('classification', "target 'label' holds 2 distinct whole numbers (at most 20)")
    >>> infer_task(pd.Series([1.5, 2.25, 3.0], name="price"))[0]
    'regression'
    """
    name = y.name
    if pd.api.types.is_bool_dtype(y.dtype):
        return "classification", f"target {name!r} is boolean"
    if not pd.api.types.is_numeric_dtype(y.dtype):
        return "classification", f"target {name!r} is not numeric ({y.dtype})"
    values = y.to_numpy(dtype=np.float64)
    n_distinct = len(np.unique(values))
    if np.all(np.mod(values, 1.0) == 0.0) and n_distinct <= AUTO_MAX_CLASSES:
        return "classification", (
            f"target {name!r} holds {n_distinct} distinct whole numbers "
            f"(at most {AUTO_MAX_CLASSES})"
        )
    return "regression", f"target {name!r} is numeric with {n_distinct} values"


def _target(frame: pd.DataFrame, column: str, task: str, source: Path) -> tuple:
    """Split ``frame`` into features and target; choose the task."""
    if column not in frame.columns:
        raise CommandError(
            f"target column {column!r} is not in {source}; its columns: "
            + ", ".join(map(str, frame.columns))
        )
    y = frame[column]
    missing = y.isna().to_numpy()
    if missing.all():
        raise CommandError(f"target column {column!r} of {source} has no values")
    if missing.any():
        n = int(missing.sum())
        warnings.warn(
            f"dropped {format_int(n)} row{'s' if n > 1 else ''} of {source} whose "
            f"target {column!r} is missing",
            UserWarning,
            stacklevel=2,
        )
        frame = frame.loc[~missing]
        y = y.loc[~missing]
    X = frame.drop(columns=[column])
    if X.shape[1] == 0:
        raise CommandError(f"{source} has no column besides the target {column!r}")
    if task == "auto":
        task, reason = infer_task(y)
    else:
        reason = "set by --task"
    if task == "regression":
        if pd.api.types.is_bool_dtype(y.dtype) or not pd.api.types.is_numeric_dtype(
            y.dtype
        ):
            raise CommandError(
                f"target {column!r} is not numeric ({y.dtype}): regression needs "
                "numbers; use --task classification"
            )
        return X, y.to_numpy(dtype=np.float64), task, reason
    labels = y.to_numpy()
    if pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(
        y.dtype
    ):
        labels = y.to_numpy(dtype=np.float64)
        if np.all(np.mod(labels, 1.0) == 0.0):  # whole numbers read as floats
            labels = labels.astype(np.int64)
    if len(np.unique(labels.astype(str))) < 2:
        raise CommandError(
            f"target {column!r} holds one class ({labels[0]!r}): nothing to learn"
        )
    return X, labels, task, reason


def _split(
    X: pd.DataFrame, y: np.ndarray, fraction: float, seed: int, classify: bool
) -> tuple:
    """Training and validation rows (stratified for classification)."""
    if fraction == 0.0:
        return X, y, None, None, "no validation rows (--val-fraction 0)"
    try:
        parts = train_test_split(
            X,
            y,
            test_size=fraction,
            random_state=seed,
            stratify=y if classify else None,
        )
        how = "stratified" if classify else "random"
    except ValueError as exc:
        if not classify:
            raise CommandError(
                f"--val-fraction {fraction} cannot split {len(y)} rows: {exc}"
            ) from None
        try:
            parts = train_test_split(X, y, test_size=fraction, random_state=seed)
        except ValueError as exc2:
            raise CommandError(
                f"--val-fraction {fraction} cannot split {len(y)} rows: {exc2}"
            ) from None
        warnings.warn(
            f"cannot stratify the validation split ({exc}); split at random",
            UserWarning,
            stacklevel=2,
        )
        how = "random, not stratified"
    X_train, X_val, y_train, y_val = parts
    described = (
        f"{format_int(len(y_train))} training, {format_int(len(y_val))} validation "
        f"rows ({how}, seed {seed})"
    )
    return X_train, y_train, X_val, y_val, described


# ============================================================ models
def _estimator_class(model: str, classify: bool) -> type:
    if model == "lightgbm":
        import lightgbm  # noqa: PLC0415 - imported when asked for

        return lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
    return FAMILIES[model][0 if classify else 1]


def _make_estimator(cls: type, args: argparse.Namespace, params: dict) -> Any:
    if args.model == "lightgbm":
        defaults = {
            "n_estimators": LGBM_ROUNDS,
            "random_state": args.seed,
            "n_jobs": args.threads,
            "verbose": -1,
        }
    else:
        defaults = {
            "random_state": args.seed,
            "n_threads": args.threads,
            "verbose": 0 if args.no_progress else 1,
        }
        if args.val_fraction == 0.0:  # every row trains: no internal split either
            defaults["early_stopping"] = False
    return cls(**{**defaults, **params})


class _LightGBMInput:
    """LightGBM's input: text columns as categories of the training rows."""

    def __init__(self, X: pd.DataFrame) -> None:
        self.categories: dict[str, pd.Index] = {}
        for name in X.columns:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                self.categories[name] = col.dtype.categories
            elif not (
                pd.api.types.is_numeric_dtype(col.dtype)
                or pd.api.types.is_bool_dtype(col.dtype)
            ):
                self.categories[name] = pd.Index(sorted(set(col.dropna().astype(str))))

    def __call__(self, X: pd.DataFrame) -> pd.DataFrame:
        out: dict[str, Any] = {}
        for name in X.columns:
            col = X[name]
            if name in self.categories:
                text = col.astype(object).where(col.isna(), col.astype(str))
                out[name] = pd.Categorical(text, categories=self.categories[name])
            else:
                out[name] = col.astype("float64")
        return pd.DataFrame(out, index=X.index)


class _LightGBMBar:
    """A tqdm bar over LightGBM's boosting rounds (a LightGBM callback)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc="LightGBM", unit="round", disable=not enabled)

    def __call__(self, env: Any) -> None:  # noqa: ARG002 - LightGBM's signature
        self.bar.update(1)


def lightgbm_eval_args(estimator: Any, X_val: Any, y_val: Any) -> dict[str, Any]:
    """Build the keyword arguments that give a LightGBM ``fit`` its validation rows.

    LightGBM 4.6 added ``eval_X`` / ``eval_y`` and deprecated ``eval_set``;
    older releases know ``eval_set`` only.

    Parameters
    ----------
    estimator : LGBMModel
        The LightGBM estimator about to be fitted.
    X_val, y_val : array-like
        Validation features and targets, prepared as for ``fit``.

    Returns
    -------
    dict
        Keyword arguments for ``estimator.fit``.

    Examples
    --------
    >>> from lightgbm import LGBMRegressor
    >>> from tabkit._cli._fit import lightgbm_eval_args
    >>> args = lightgbm_eval_args(LGBMRegressor(), [[0.0]], [1.0])
    >>> sorted(args) in (["eval_X", "eval_y"], ["eval_set"])
    True
    """
    if "eval_X" in inspect.signature(estimator.fit).parameters:
        return {"eval_X": (X_val,), "eval_y": (y_val,)}
    return {"eval_set": [(X_val, y_val)]}  # LightGBM < 4.6


def _fit_lightgbm(  # noqa: PLR0917
    estimator: Any,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_val: Any,
    y_val: Any,
    progress: bool,
) -> tuple[Any, str]:
    import lightgbm  # noqa: PLC0415

    prepare = _LightGBMInput(X_train)
    classes = None
    if hasattr(estimator, "predict_proba"):  # LightGBM 4.7 does not encode eval_y
        classes, y_train = np.unique(y_train, return_inverse=True)
        y_val = None if y_val is None else np.searchsorted(classes, y_val)
    bar = _LightGBMBar(estimator.n_estimators, enabled=progress)
    callbacks: list[Any] = [bar]
    fit_args: dict[str, Any] = {}
    if X_val is not None:
        callbacks.append(lightgbm.early_stopping(LGBM_PATIENCE, verbose=False))
        fit_args = lightgbm_eval_args(estimator, prepare(X_val), y_val)
    try:
        estimator.fit(prepare(X_train), y_train, callbacks=callbacks, **fit_args)
    finally:
        bar.bar.close()
    best = estimator.best_iteration_
    trees = best or estimator.n_estimators
    model = _Decoded(estimator, prepare, classes)
    return model, f"{format_int(trees)} boosting rounds kept"


class _Decoded:
    """A fitted LightGBM model with the command's input preparation and labels."""

    def __init__(self, estimator: Any, prepare: _LightGBMInput, classes: Any) -> None:
        self.estimator, self.prepare = estimator, prepare
        if classes is not None:
            self.classes_ = classes

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        pred = np.asarray(self.estimator.predict(self.prepare(X)))
        if hasattr(self, "classes_"):
            return self.classes_[pred.astype(np.int64)]
        return pred

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self.prepare(X)))


def _training_summary(estimator: Any) -> str:
    """How training went: iterations run, why it stopped, what was kept."""
    history = getattr(estimator, "history_", None)
    n_iter = getattr(estimator, "n_iter_", None)
    if history is None or n_iter is None:
        return ""
    unit = "step" if hasattr(estimator, "n_steps_") else "epoch"
    reason = str(getattr(history, "stop_reason", "") or "").replace("_", " ")
    text = f"{n_iter} {unit}s run"
    if reason:
        text += f" (stopped by {'the limit' if reason == 'max iter' else reason})"
    if hasattr(estimator, "n_steps_"):
        text += f"; kept {estimator.n_steps_} steps"
    elif getattr(history, "best_iteration", None) is not None:
        text += f"; kept the weights of epoch {history.best_iteration}"
    return text


def validation_score(model: Any, X: pd.DataFrame, y: np.ndarray) -> tuple[str, float]:
    """Score a fitted model on validation rows: the metric ``tabkit fit`` prints.

    ROC AUC for two classes (the second class of ``classes_`` is positive),
    accuracy for more, RMSE for regression. ROC AUC is NaN when the rows hold
    one class only.

    Parameters
    ----------
    model : fitted estimator
        A classifier (with ``classes_``) or a regressor.
    X : DataFrame
        Validation features.
    y : ndarray
        Their targets.

    Returns
    -------
    metric : str
    value : float

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> from tabkit._cli._fit import validation_score
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    >>> reg = LinearRegression().fit(X, [0.0, 1.0, 2.0])
    >>> metric, value = validation_score(reg, X, np.array([0.0, 1.0, 2.0]))
    >>> metric, round(value, 6)
    ('RMSE', 0.0)
    """
    classes = getattr(model, "classes_", None)
    if classes is None:
        return "RMSE", float(root_mean_squared_error(y, model.predict(X)))
    if len(classes) == 2:
        positive = np.asarray(y) == classes[1]
        if positive.all() or not positive.any():
            return "ROC AUC", float("nan")
        return "ROC AUC", float(roc_auc_score(positive, model.predict_proba(X)[:, 1]))
    return "accuracy", float(accuracy_score(y, model.predict(X)))


# ============================================================ fit
def _out_path(args: argparse.Namespace) -> Path | None:
    if args.model in BASELINES:
        if args.out is not None:
            raise CommandError(
                f"--out is not available for --model {args.model}: tabkit model "
                "files hold tabkit estimators only (they load without running "
                "code); fit it without --out to get its validation score, or keep "
                "a LightGBM model with Booster.save_model from Python",
                status=2,
            )
        return None
    out = Path(args.out if args.out is not None else table_stem(args.data) + ".tabkit")
    if not out.parent.is_dir():  # before a fit that could not be saved
        raise CommandError(f"cannot write {out}: no directory {out.parent}")
    if out.is_dir():
        raise CommandError(f"cannot write {out}: it is a directory")
    return out


def run_fit(args: argparse.Namespace) -> int:
    """Run ``tabkit fit`` (see ``tabkit fit --help``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    status : int
        0 on success (errors raise :class:`CommandError`).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np, pandas as pd
    >>> from tabkit.cli import main
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200)
    >>> pd.DataFrame({"x": x, "y": x + rng.normal(size=200) > 0}).to_csv(
    ...     folder / "train.csv", index=False)
    >>> main(["fit", str(folder / "train.csv"), "--target", "y", "--no-progress",
    ...       "--param", "n_estimators=5", "--out", str(folder / "m.tabkit")])
    data: ...train.csv, 200 rows, 1 feature column, target 'y'
    task: classification (target 'y' is boolean), 2 classes
    ...
    validation ROC AUC: 0...
    wrote ...m.tabkit
    0
    """
    out = _out_path(args)
    source = Path(args.data)
    frame = read_table(source)
    if len(frame) == 0:
        raise CommandError(f"{source} has no rows")
    X, y, task, reason = _target(frame, args.target, args.task, source)
    classify = task == "classification"
    write = sys.stdout.write
    features = "column" if X.shape[1] == 1 else "columns"
    write(
        f"data: {source}, {format_int(len(y))} rows, {X.shape[1]} feature "
        f"{features}, target {args.target!r}\n"
    )
    n_classes = f", {len(np.unique(y.astype(str)))} classes" if classify else ""
    write(f"task: {task} ({reason}){n_classes}\n")
    cls = _estimator_class(args.model, classify)
    valid = sorted(cls().get_params())
    params = parse_params(args.param, valid, cls.__name__)
    estimator = _make_estimator(cls, args, params)
    X_train, y_train, X_val, y_val, described = _split(
        X, y, args.val_fraction, args.seed, classify
    )
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    threads = f"{args.threads} thread{'s' if args.threads > 1 else ''}"
    write(f"model: {cls.__name__}({shown}), seed {args.seed}, {threads}\n")
    write(f"rows: {described}\n")
    sys.stdout.flush()
    start = time.perf_counter()
    try:
        if args.model in BASELINES:
            model, summary = _fit_lightgbm(
                estimator, X_train, y_train, X_val, y_val, not args.no_progress
            )
        else:
            stops_early = (
                X_val is not None and params.get("early_stopping") is not False
            )
            extra = {"X_val": X_val, "y_val": y_val} if stops_early else {}
            model = estimator.fit(X_train, y_train, **extra)
            summary = _training_summary(model)
    except ValueError as exc:  # bad parameter values, unusable columns
        raise CommandError(f"cannot fit {cls.__name__}: {exc}") from None
    seconds = time.perf_counter() - start
    write(f"fit: {seconds:.2f} s" + (f", {summary}" if summary else "") + "\n")
    if X_val is not None:
        metric, value = validation_score(model, X_val, y_val)
        write(f"validation {metric}: {value:.4f}\n")
    if out is None:
        write(
            f"no model file written: {cls.__name__} is a baseline "
            "(tabkit model files hold tabkit estimators only)\n"
        )
        return 0
    if "verbose" not in params:
        model.set_params(verbose=0)  # the file's model predicts quietly
    try:
        tabkit.save(model, out)
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(f"cannot write {out}: {exc}") from None
    write(f"wrote {out}\n")
    return 0


# ============================================================ predict
def load_model(path: str | Path) -> Any:
    """Load a model file for prediction, with command-line errors.

    Parameters
    ----------
    path : str or Path
        A file written by ``tabkit fit`` or :func:`tabkit.save`.

    Returns
    -------
    estimator : fitted tabkit estimator with ``predict``

    Raises
    ------
    CommandError
        When the file is missing or not a model file, or holds a transformer
        or a relational model (which needs its database).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from tabkit._cli._fit import load_model
    >>> load_model(pathlib.Path(tempfile.mkdtemp()) / "missing.tabkit")
    Traceback (most recent call last):
    ...
    tabkit._cli._common.CommandError: no such file: ...missing.tabkit
    """
    path = Path(path)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    try:
        model = tabkit.load(path)
    except ModelFileError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    name = type(model).__name__
    if not hasattr(model, "predict"):
        raise CommandError(f"{path} holds a {name}, which does not predict")
    if "database" in model.get_params():
        raise CommandError(
            f"{path} holds a {name}, which predicts from a database: load it in "
            "Python, set_params(database=...) and predict on a seed table"
        )
    return model


def _columns_for(model: Any, X: pd.DataFrame, source: Path) -> pd.DataFrame:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return X
    names = [str(n) for n in names]
    missing = [n for n in names if n not in X.columns]
    if missing:
        raise CommandError(
            f"{source} lacks the column(s) {missing} the model was fitted on; "
            "its columns: " + ", ".join(map(str, X.columns))
        )
    return X[names]


def run_predict(args: argparse.Namespace) -> int:
    """Run ``tabkit predict`` (see ``tabkit predict --help``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    status : int
        0 on success (errors raise :class:`CommandError`).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> import tabkit
    >>> from tabkit.cli import main
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0] * 10})
    >>> clf = tabkit.BoostedNNClassifier(n_estimators=3, random_state=0)
    >>> _ = tabkit.save(clf.fit(X, X["x"] > 1.5), folder / "m.tabkit")
    >>> X.head(2).to_csv(folder / "new.csv", index=False)
    >>> main(["predict", str(folder / "m.tabkit"), str(folder / "new.csv")])
    prediction
    False
    False
    0
    """
    model = load_model(args.model)
    source = Path(args.data)
    X = _columns_for(model, read_table(source), source)
    try:
        result = pd.DataFrame({"prediction": model.predict(X)})
        if args.proba:
            if not hasattr(model, "predict_proba"):
                raise CommandError(
                    f"--proba needs a classifier; {args.model} holds a "
                    f"{type(model).__name__}",
                    status=2,
                )
            proba = model.predict_proba(X)
            for j, label in enumerate(model.classes_):
                result[f"proba_{label}"] = proba[:, j]
    except ValueError as exc:
        raise CommandError(f"cannot predict on {source}: {exc}") from None
    if args.out is None:
        result.to_csv(sys.stdout, index=False)
        return 0
    try:
        result.to_csv(args.out, index=False)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc}") from None
    sys.stderr.write(f"wrote {format_int(len(result))} predictions to {args.out}\n")
    return 0
