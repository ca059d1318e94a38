# SPDX-License-Identifier: BSD-3-Clause
"""Shared scikit-learn plumbing of every tabkit estimator.

:class:`TabularEstimator` owns what all models share: input validation (through
:func:`~tabkit.preprocessing.check_table`), the fitted
:class:`~tabkit.preprocessing.TabularEncoder`, target encoding (``classes_``,
standardised regression targets), sample and class weights, the early-stopping
validation split, seeding without touching global random state, thread and
device handling, batched prediction, pickling with weights on the CPU, and model
files (:meth:`TabularEstimator.save` / :func:`tabkit.load`). A model family only
implements ``_fit_model`` (build and train its module on encoded tensors) and
``_forward`` (raw outputs of one batch).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from tabkit._compat import Interval, RealNotInt, StrOptions, _check_sample_weight
from tabkit.preprocessing import EncodedTable, TabularEncoder, check_table

#: Rows per batch at prediction time (1,024 rows of activations stay in cache).
#: Every batch is padded to exactly this
#: size, so each row goes through matrix products of the same shape whatever
#: the number of rows predicted: float32 predictions then do not depend on the
#: batch composition (scikit-learn's subset and order invariance checks).
PREDICT_BATCH_ROWS = 1024


class Batch(NamedTuple):
    """Encoded tensors of some rows, on the model's device.

    Attributes
    ----------
    x_num : Tensor of shape (n, d_num), float32
    x_cat : Tensor of shape (n, d_cat), int64
    y : Tensor or None
        Encoded targets (class indices or standardised values).
    weight : Tensor of shape (n,) or None
        Sample weights.
    """

    x_num: torch.Tensor
    x_cat: torch.Tensor
    y: torch.Tensor | None = None
    weight: torch.Tensor | None = None


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda"`` into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when available.

    Returns
    -------
    device : torch.device

    Examples
    --------
    >>> from tabkit.base import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but CUDA is not available")
    return torch.device(device)


def derive_seed(random_state: Any) -> int:
    """Draw a 31-bit seed from ``random_state`` without touching global RNG state.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        ``None`` draws fresh OS entropy (never NumPy's global generator).

    Returns
    -------
    seed : int

    Examples
    --------
    >>> from tabkit.base import derive_seed
    >>> derive_seed(3) == derive_seed(3)
    True
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0] >> 1)
    if isinstance(random_state, Integral):
        return int(np.random.SeedSequence(int(random_state)).generate_state(1)[0] >> 1)
    return int(random_state.randint(np.iinfo(np.int32).max))


def _padded_rows(batch: Batch, start: int, size: int) -> Batch:
    """Rows ``start:start + size`` of ``batch``, zero-padded to ``size`` rows."""
    x_num = batch.x_num[start : start + size]
    x_cat = batch.x_cat[start : start + size]
    missing = size - x_num.shape[0]
    if missing:
        x_num = torch.cat([x_num, x_num.new_zeros(missing, x_num.shape[1])])
        x_cat = torch.cat([x_cat, x_cat.new_zeros(missing, x_cat.shape[1])])
    return Batch(x_num, x_cat)


class TabularEstimator(BaseEstimator):
    """Base class of tabkit's estimators (not used directly).

    Subclasses list their parameters in ``__init__`` (keyword-only, stored
    as given), extend ``_parameter_constraints``, set ``_encoder_options`` and
    implement ``_fit_model`` and ``_forward``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "categorical_features": [StrOptions({"auto"}), "array-like", None],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "verbose": ["verbose"],
    }
    classes_: np.ndarray
    module_: Any
    _encoder: TabularEncoder
    _y_mean: float
    _y_scale: float

    #: TabularEncoder strategies of the model family.
    _encoder_options: ClassVar[dict[str, Any]] = {}
    #: ``"blocks"``: x_num + x_cat codes; ``"dense"``: TabularEncoder.transform.
    _encoder_view: ClassVar[str] = "blocks"
    #: Rows from which ``early_stopping="auto"`` holds out a validation split.
    _auto_early_stopping_rows: ClassVar[int] = 10_000
    #: Floating-point type of the module and inputs at prediction time.
    _predict_dtype: ClassVar[torch.dtype] = torch.float32

    # ------------------------------------------------------------ model hooks
    def _fit_model(
        self,
        train: Batch,
        valid: Batch | None,
        *,
        generator: torch.Generator,
        callbacks: list[Any],
        first_fit: bool,
    ) -> None:
        """Build (when ``first_fit``) and train ``self.module_``."""
        raise NotImplementedError

    def _forward(self, batch: Batch, **kwargs: Any) -> torch.Tensor:
        """Return the raw outputs of one batch."""
        raise NotImplementedError

    # ------------------------------------------------------------ runtime
    @contextmanager
    def _runtime(self) -> Iterator[None]:
        """Apply ``n_threads`` for the duration of fit / predict."""
        previous = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(int(self.n_threads))
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    @contextmanager
    def _seeded(self, seed: int, device: torch.device) -> Iterator[torch.Generator]:
        """Fork torch's global RNG (restored on exit) and yield a seeded generator."""
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield torch.Generator().manual_seed(seed)

    # ------------------------------------------------------------ validation
    def _check_X(self, X: Any, *, reset: bool) -> pd.DataFrame:
        return check_table(
            self, X, reset=reset, categorical_features=self.categorical_features
        )

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, "
                "but the target y is None"
            )
        y = column_or_1d(y, warn=True)
        if len(y) != n_rows:
            raise ValueError(
                f"X has {n_rows} rows but y has {len(y)}; they must be equally long"
            )
        if not is_classifier(self):
            return np.asarray(
                check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
            )
        if y.dtype.kind in "fc":
            check_array(y, ensure_2d=False, dtype=None, input_name="y")
        elif pd.isna(y).any():
            raise ValueError("Input y contains NaN (missing labels)")
        check_classification_targets(y)
        return y

    def _fit_targets(self, y: np.ndarray, weight: np.ndarray, warm: bool) -> np.ndarray:
        """Encode targets: class indices (classifiers) or standardised floats."""
        if is_classifier(self):
            classes, codes = np.unique(y, return_inverse=True)
            if warm and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"warm_start=True needs the classes of the first fit "
                    f"{self.classes_.tolist()}, got {classes.tolist()}"
                )
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in "
                    f"y; got only one class: {classes[0]!r}"
                )
            self.classes_ = classes
            return codes.astype(np.int64)
        if not warm:
            mean = float(np.average(y, weights=weight))
            std = float(np.sqrt(np.average((y - mean) ** 2, weights=weight)))
            self._y_mean, self._y_scale = mean, std if std > 0 else 1.0
        return (y - self._y_mean) / self._y_scale

    def _encode_targets(self, y: Any) -> np.ndarray:
        """Encode validation targets with the fitted target encoding."""
        y = self._check_y(y, len(y) if hasattr(y, "__len__") else 0)
        if is_classifier(self):
            index = pd.Index(self.classes_).get_indexer(y)
            if (index < 0).any():
                unknown = sorted(set(np.asarray(y)[index < 0].tolist()), key=str)
                raise ValueError(f"y_val contains classes not seen in y: {unknown}")
            return index.astype(np.int64)
        return (y - self._y_mean) / self._y_scale

    def _sample_weight(self, sample_weight: Any, X: pd.DataFrame, y: np.ndarray) -> Any:
        weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        class_weight = getattr(self, "class_weight", None)
        if class_weight is not None:
            weight = weight * compute_sample_weight(class_weight, y)
        if (weight < 0).any():
            raise ValueError("sample_weight must be non-negative")
        if weight.sum() <= 0:
            raise ValueError("sample_weight sums to zero: nothing to fit")
        return weight

    def _use_early_stopping(self, n_rows: int, has_val: bool) -> bool:
        if has_val and self.early_stopping is False:
            raise ValueError(
                "X_val and y_val were passed to fit while early_stopping=False; "
                "set early_stopping='auto' or True to use them"
            )
        if self.early_stopping == "auto":
            return has_val or n_rows >= self._auto_early_stopping_rows
        return bool(self.early_stopping)

    # ------------------------------------------------------------ encoding
    def _tensors(
        self,
        table: EncodedTable | np.ndarray,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(table, np.ndarray):
            x_num, x_cat = table, np.zeros((len(table), 0), dtype=np.int64)
        else:
            x_num, x_cat = table.x_num, table.x_cat
        return (
            torch.as_tensor(x_num, dtype=dtype, device=device),
            torch.as_tensor(x_cat, dtype=torch.int64, device=device),
        )

    def _encode(
        self,
        X: pd.DataFrame,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
    ) -> Batch:
        if self._encoder_view == "dense":
            return Batch(*self._tensors(self._encoder.transform(X), device, dtype))
        return Batch(*self._tensors(self._encoder.encode(X), device, dtype))

    def _fit_encode(
        self, X: pd.DataFrame, y: np.ndarray, weight: np.ndarray, device: torch.device
    ) -> Batch:
        if self._encoder_view == "dense":
            dense = self._encoder.fit_transform(X, y, sample_weight=weight)
            return Batch(*self._tensors(dense, device))
        table = self._encoder.fit_encode(X, y, sample_weight=weight)
        return Batch(*self._tensors(table, device))

    # ------------------------------------------------------------ fit template
    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
        callbacks: Any = None,
    ) -> TabularEstimator:
        warm = bool(self.warm_start) and hasattr(self, "module_")
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be passed together")
        with self._runtime():
            frame = self._check_X(X, reset=not warm)
            y = self._check_y(y, len(frame))
            weight = self._sample_weight(sample_weight, frame, y)
            target = self._fit_targets(y, weight, warm)
            seed = derive_seed(self.random_state)
            device = resolve_device(self.device)
            train_rows, val_frame, val_target, val_weight = self._validation_rows(
                frame, target, weight, X_val, y_val, sample_weight_val, seed
            )
            train_frame = frame.iloc[train_rows] if train_rows is not None else frame
            if train_rows is not None:
                target, weight = target[train_rows], weight[train_rows]
            if not warm:
                self._encoder = TabularEncoder(
                    **self._encoder_options,
                    categorical_features=self.categorical_features,
                    random_state=seed,
                )
                inputs = self._fit_encode(train_frame, target, weight, device)
            else:
                inputs = self._encode(train_frame, device)
            y_t, w_t = self._target_tensors(target, weight, device)
            train = inputs._replace(y=y_t, weight=w_t)
            valid = None
            if val_frame is not None:
                y_v, w_v = self._target_tensors(val_target, val_weight, device)
                valid = self._encode(val_frame, device)._replace(y=y_v, weight=w_v)
            with self._seeded(seed, device) as generator:
                self._fit_model(
                    train,
                    valid,
                    generator=generator,
                    callbacks=list(callbacks or []),
                    first_fit=not warm,
                )
        return self

    def _target_tensors(
        self, target: np.ndarray, weight: np.ndarray | None, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = torch.int64 if is_classifier(self) else torch.float32
        y = torch.as_tensor(target, dtype=dtype, device=device)
        w = None
        if weight is not None:
            w = torch.as_tensor(weight, dtype=torch.float32, device=device)
        return y, w

    def _validation_rows(  # noqa: PLR0917
        self,
        frame: pd.DataFrame,
        target: np.ndarray,
        weight: np.ndarray,
        X_val: Any,
        y_val: Any,
        sample_weight_val: Any,
        seed: int,
    ) -> tuple[Any, pd.DataFrame | None, Any, Any]:
        """Return (train row indices or None, val frame, val targets, val weights)."""
        if not self._use_early_stopping(len(frame), X_val is not None):
            return None, None, None, None
        if X_val is not None:
            val_frame = self._check_X(X_val, reset=False)
            val_target = self._encode_targets(y_val)
            if len(val_target) != len(val_frame):
                raise ValueError("X_val and y_val have different numbers of rows")
            val_weight = (
                None
                if sample_weight_val is None
                else _check_sample_weight(
                    sample_weight_val, val_frame, dtype=np.float64
                )
            )
            return None, val_frame, val_target, val_weight
        rows = np.arange(len(frame))
        stratify = None
        if is_classifier(self) and np.bincount(target).min() >= 2:
            stratify = target
        try:
            train_rows, val_rows = train_test_split(
                rows,
                test_size=self.validation_fraction,
                stratify=stratify,
                random_state=seed,
            )
        except ValueError:  # too few rows per class for a stratified split
            train_rows, val_rows = train_test_split(
                rows, test_size=self.validation_fraction, random_state=seed
            )
        if len(val_rows) == 0 or len(train_rows) == 0:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no rows for "
                f"training or validation with {len(frame)} samples; pass X_val and "
                "y_val, or set early_stopping=False"
            )
        return (
            np.sort(train_rows),
            frame.iloc[np.sort(val_rows)],
            target[np.sort(val_rows)],
            weight[np.sort(val_rows)],
        )

    # ------------------------------------------------------------ prediction
    def _predict_raw(
        self,
        X: Any,
        forward: Callable[[Batch], torch.Tensor] | None = None,
        *,
        axis: int = 0,
    ) -> np.ndarray:
        """Encode ``X`` and run ``forward`` (default ``_forward``) in row batches."""
        check_is_fitted(self, "module_")
        forward = forward or self._forward
        with self._runtime():
            frame = self._check_X(X, reset=False)
            device = resolve_device(self.device)
            self.module_.to(device=device, dtype=self._predict_dtype)
            batch = self._encode(frame, device, self._predict_dtype)
            outputs = []
            with torch.no_grad():
                for start in range(0, len(frame), PREDICT_BATCH_ROWS):
                    part = _padded_rows(batch, start, PREDICT_BATCH_ROWS)
                    n = min(PREDICT_BATCH_ROWS, len(frame) - start)
                    out = forward(part).detach().cpu().numpy()
                    outputs.append(out[:n] if axis == 0 else out[:, :n])
        return np.concatenate(outputs, axis=axis).astype(np.float64)

    def _proba_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities from raw scores (last axis: outputs)."""
        if raw.shape[-1] == 1:
            p = expit(raw[..., 0])
            return np.stack([1.0 - p, p], axis=-1)
        return np.asarray(softmax(raw, axis=-1))

    def _value_from_raw(self, raw: np.ndarray) -> np.ndarray:
        """Regression predictions in the original target units."""
        return np.asarray(raw[..., 0] * self._y_scale + self._y_mean)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator to a model file (arrays + JSON, no pickle).

        Loading it with :func:`tabkit.load` executes no code from the file; a
        truncated or corrupted file is rejected by its checksums.

        Parameters
        ----------
        path : str or Path
            Destination (conventionally ending in ``.tabkit``).

        Returns
        -------
        path : Path
            The written file.
        """
        from tabkit.serialization import save  # noqa: PLC0415 - avoids an import cycle

        return save(self, path)

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        module = state.get("module_")
        if module is not None and any(
            t.device.type != "cpu" for t in module.state_dict().values()
        ):
            state = dict(state)
            state["module_"] = copy.deepcopy(module).cpu()
        return state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags
