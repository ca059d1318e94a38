# SPDX-License-Identifier: BSD-3-Clause
"""ExcelFormer as scikit-learn estimators, on the mini-batch base."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
from sklearn.utils.validation import check_is_fitted
from torch import nn

from tabkit._compat import Interval, StrOptions
from tabkit.base import (
    Batch,
    MiniBatchEstimator,
    TorchClassifierMixin,
    TorchRegressorMixin,
)
from tabkit.nn import ExcelFormer, feat_mix, hidden_mix
from tabkit.training import SchedulerFactory, warmup_cosine

#: Rows on which mutual information is estimated (a seeded subsample above).
MI_MAX_ROWS = 20_000
#: Attention entries (rows x heads x features^2) per prediction batch.
_ATTENTION_BUDGET = 2**26

#: The paper's setting (the official defaults): d_token 256, 3 blocks, 32 heads,
#: AdamW at 1e-4, 500 epochs with early-stopping patience 200, the reference's
#: batch size rule.
PAPER_PRESET: dict[str, Any] = {
    "d_token": 256,
    "n_blocks": 3,
    "n_heads": 32,
    "attention_dropout": 0.3,
    "residual_dropout": 0.0,
    "init_scale": 0.01,
    "learning_rate": 1e-4,
    "weight_decay": 0.0,
    "max_epochs": 500,
    "n_iter_no_change": 200,
    "batch_size": "auto",
}


def reference_batch_size(n_features: int) -> int:
    """Batch size of the reference code for a number of input features.

    The official training script picks it from the number of features of the
    original table: up to 32 -> 512, up to 100 -> 128, up to 1,000 -> 32,
    otherwise 16.

    Parameters
    ----------
    n_features : int
        Input columns.

    Returns
    -------
    batch_size : int

    Examples
    --------
    >>> from tabkit.estimators._excelformer import reference_batch_size
    >>> reference_batch_size(25), reference_batch_size(54), reference_batch_size(300)
    (512, 128, 32)
    """
    if n_features <= 32:
        return 512
    if n_features <= 100:
        return 128
    if n_features <= 1000:
        return 32
    return 16


def _sources(names: list[str], inputs: list[str]) -> list[str]:
    """Map encoded feature names (``col`` or ``col__part``) to their input column."""
    by_length = sorted(inputs, key=len, reverse=True)
    out = []
    for name in names:
        out.append(next(c for c in by_length if name == c or name.startswith(f"{c}__")))
    return out


class _ExcelFormer(MiniBatchEstimator):
    """Shared implementation of the ExcelFormer classifier and regressor."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **MiniBatchEstimator._parameter_constraints,
        "d_token": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "attention_dropout": [Interval(Real, 0, 1, closed="left")],
        "residual_dropout": [Interval(Real, 0, 1, closed="left")],
        "init_scale": [Interval(Real, 0, None, closed="neither")],
        "mix_type": [StrOptions({"feat_mix", "hidden_mix", "none"})],
        "beta": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }
    _encoder_options: ClassVar[dict[str, Any]] = {
        "numeric": "quantile",
        "quantile_noise": 1e-3,
        "categorical": "target",
    }
    _encoder_view: ClassVar[str] = "blocks"

    feature_order_: np.ndarray
    mi_scores_: np.ndarray
    feature_names_: list[str]

    @classmethod
    def preset_params(cls, name: str) -> dict[str, Any]:
        """Return the parameters of a named preset.

        Parameters
        ----------
        name : {"default", "paper"}
            ``"default"``: tabkit's CPU-sized defaults (d_token 64, 4 heads,
            AdamW at 1e-3, at most 100 epochs, patience 16, batches of 256).
            ``"paper"``: the official setting (d_token 256, 32 heads, AdamW at
            1e-4, 500 epochs, patience 200, the reference's batch-size rule).

        Returns
        -------
        params : dict
            Keyword arguments for the constructor.

        Examples
        --------
        >>> from tabkit import ExcelFormerClassifier
        >>> params = ExcelFormerClassifier.preset_params("paper")
        >>> ExcelFormerClassifier(**params).n_heads
        32
        """
        if name == "paper":
            return dict(PAPER_PRESET)
        if name == "default":
            return {}
        raise ValueError(f"unknown preset {name!r}; choose 'default' or 'paper'")

    # ------------------------------------------------------------ preparation
    def _prepare(self, train: Batch, generator: torch.Generator) -> None:
        """Order the encoded features by mutual information with the target."""
        assert train.y is not None
        if train.x_num.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} needs at least one feature; every input "
                "column was dropped by the encoder (all values missing?)"
            )
        x = train.x_num.detach().cpu().numpy().astype(np.float64)
        y = train.y.detach().cpu().numpy()
        weight = None if train.weight is None else train.weight.cpu().numpy()
        rows = np.arange(len(x)) if weight is None else np.flatnonzero(weight > 0)
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        if len(rows) > MI_MAX_ROWS:
            rows = np.sort(rng.choice(rows, MI_MAX_ROWS, replace=False))
        mi = self._mutual_information(x[rows], y[rows], seed)
        mi = np.where(np.isfinite(mi) & (mi > 0), mi, 0.0)
        # descending MI; ties keep the encoder's column order (stable sort)
        self.feature_order_ = np.argsort(-mi, kind="stable")
        self.mi_scores_ = mi
        names = list(self._encoder.num_feature_names_)
        self.feature_names_ = [names[j] for j in self.feature_order_]

    def _mutual_information(self, x: np.ndarray, y: np.ndarray, seed: int) -> Any:
        raise NotImplementedError

    def _feature_weights(self) -> np.ndarray:
        """Normalised MI in the model's feature order (uniform if all are zero)."""
        mi = self.mi_scores_[self.feature_order_]
        total = mi.sum()
        if total <= 0:
            return np.full(len(mi), 1.0 / max(len(mi), 1))
        return np.asarray(mi / total)

    def _build_module(self, train: Batch) -> nn.Module:
        return ExcelFormer(
            train.x_num.shape[1],
            self._n_outputs,
            d_token=self.d_token,
            n_blocks=self.n_blocks,
            n_heads=self.n_heads,
            attention_dropout=self.attention_dropout,
            residual_dropout=self.residual_dropout,
            init_scale=self.init_scale,
        )

    def _batch_size(self) -> int:
        if self.batch_size == "auto":
            return reference_batch_size(self.n_features_in_)
        return int(self.batch_size)

    def _make_batches(self, train: Batch) -> Any:
        from tabkit.base import BatchesOf  # noqa: PLC0415 - keeps the import list short

        return BatchesOf(train, batch_size=self._batch_size(), shuffle=True)

    def _scheduler(self) -> SchedulerFactory | None:
        """Linear warm-up over the first 5 % of updates, then cosine to zero."""
        return warmup_cosine(warmup=0.05)

    # ------------------------------------------------------------ training
    def _ordered(self, x_num: torch.Tensor) -> torch.Tensor:
        order = torch.as_tensor(self.feature_order_, device=x_num.device)
        return x_num.index_select(1, order)

    def _forward(self, batch: Batch) -> torch.Tensor:
        out: torch.Tensor = self.module_(self._ordered(batch.x_num))
        return out

    def _loss(self, batch: Batch, generator: torch.Generator) -> torch.Tensor:
        """Per-row loss with Feat-Mix / Hid-Mix and matching label mixing.

        With mixing, row ``b`` of the batch is a mix of rows ``b`` and
        ``perm[b]``; its loss is ``lam_b * l(out_b, y_b) + (1 - lam_b) *
        l(out_b, y_perm(b))``, each term weighted by its row's sample weight.
        For the squared error this has the gradient of the loss against the
        mixed target ``lam * y_b + (1 - lam) * y_perm(b)``.
        """
        assert batch.y is not None
        module = self.module_
        z = module.embed(self._ordered(batch.x_num))
        if self.mix_type == "none":
            losses = self._sample_losses(module.forward_embedded(z), batch.y)
            if batch.weight is None:
                return losses.mean()
            return (losses * batch.weight).sum() / batch.weight.sum().clamp_min(1e-12)
        if self.mix_type == "feat_mix":
            weights = torch.as_tensor(
                self._feature_weights(), dtype=z.dtype, device=z.device
            )
            z, lam, perm = feat_mix(z, weights, self.beta, generator)
        else:
            z, lam, perm = hidden_mix(z, self.beta, generator)
        out = module.forward_embedded(z)
        lam = lam.to(out.dtype)
        w = torch.ones_like(lam) if batch.weight is None else batch.weight.to(out.dtype)
        w_a, w_b = lam * w, (1.0 - lam) * w[perm]
        losses = w_a * self._sample_losses(out, batch.y) + w_b * self._sample_losses(
            out, batch.y[perm]
        )
        return losses.sum() / (w_a + w_b).sum().clamp_min(1e-12)

    # ------------------------------------------------------------ prediction
    def _predict_batch_rows(self) -> int:
        """Return the padded prediction batch: 1,024 rows, fewer for wide tables."""
        f = max(len(getattr(self, "feature_order_", ())), 1)
        rows = _ATTENTION_BUDGET // (self.n_heads * f * f)
        return int(min(1024, max(16, 2 ** int(np.log2(max(rows, 1))))))

    @property
    def feature_importances_(self) -> np.ndarray:
        """Normalised mutual information of each input column with the target.

        The sum over the column's encoded features (datetime parts, missing
        indicators, per-class target statistics) of their MI, divided by the
        total; the order in which the features enter the semi-permeable
        attention (``feature_names_``) follows the encoded features' MI.
        """
        check_is_fitted(self, "mi_scores_")
        inputs = [str(c) for c in self._input_names()]
        names = list(self._encoder.num_feature_names_)
        sources = _sources(names, inputs)
        total = float(self.mi_scores_.sum())
        out = np.zeros(len(inputs))
        for source, score in zip(sources, self.mi_scores_, strict=True):
            out[inputs.index(source)] += score
        return out / total if total > 0 else np.full(len(inputs), 1 / len(inputs))

    def _input_names(self) -> list[Any]:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            return [f"x{i}" for i in range(self.n_features_in_)]
        return list(names)

    def attention_map(self, X: Any) -> pd.DataFrame:
        """Mean attention between the encoded features over the rows of ``X``.

        Entry ``(i, j)`` is how much feature ``i`` (a query) reads feature
        ``j``, averaged over rows, heads and blocks; features are in the model's
        order (decreasing mutual information), so the matrix is lower
        triangular: the semi-permeable attention lets a feature read only
        features at least as informative as itself.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        attention : DataFrame of shape (n_encoded, n_encoded)
            Index and columns are ``feature_names_``; rows sum to 1.
        """
        check_is_fitted(self, "module_")
        maps = self._predict_raw(
            X,
            lambda b: (
                self.module_.attention_maps(self._ordered(b.x_num))
                .mean(dim=(0, 2))
                .flatten(1)
            ),
        )
        n = len(self.feature_names_)
        mean = maps.reshape(len(maps), n, n).mean(axis=0)
        return pd.DataFrame(
            mean, index=self.feature_names_, columns=self.feature_names_
        )


class ExcelFormerClassifier(TorchClassifierMixin, _ExcelFormer):
    """ExcelFormer classifier: semi-permeable attention over MI-ordered features.

    The model of Chen et al. (KDD 2024). Numeric columns are mapped to a
    standard normal by quantiles (with the reference's small noise), and
    categorical columns are replaced by leak-free out-of-fold target statistics
    (one column per class for multiclass; the official code leaks here). The
    encoded features are ordered by decreasing mutual information with the
    target; each becomes a token through a gated per-feature embedding; blocks
    of semi-permeable attention (a causal mask over that order: a feature reads
    only features at least as informative as itself) and gated feed-forward
    layers follow, then the reference head. Training mixes rows with Feat-Mix
    or Hid-Mix, uses AdamW with warm-up and cosine decay, and keeps the weights
    of the best validation epoch (validation log loss).

    Missing numeric values are imputed (with a missing indicator feature);
    missing and unseen categories have their own statistics (the prior for
    unseen ones). Datetime columns give numeric features.

    Parameters
    ----------
    d_token : int, default=64
        Width of each feature's token (the paper uses 256).
    n_blocks : int, default=3
        Transformer blocks (semi-permeable attention + gated feed-forward).
    n_heads : int, default=4
        Attention heads; must divide ``d_token`` (the paper uses 32).
    attention_dropout : float, default=0.3
        Dropout on the attention probabilities.
    residual_dropout : float, default=0.0
        Dropout on each block's branches.
    init_scale : float, default=0.01
        Scale of the interaction-attenuated initialisation.
    mix_type : {"feat_mix", "hidden_mix", "none"}, default="none"
        Training augmentation: Feat-Mix swaps whole feature tokens between rows
        (the label weight is the normalised MI of the kept features), Hid-Mix
        swaps embedding channels (label weight = swap rate); rates drawn from
        Beta(beta, beta) per row. The default, no mixing, scored best on
        validation in ``benchmarks/results/excelformer_mix.md`` (9 of 13
        datasets, at CPU budgets of 180 s per fit); the paper picks it per
        dataset, so it is worth tuning.
    beta : float, default=0.5
        Parameter of the Beta distribution of the swap rates.
    batch_size : int or "auto", default=256
        Rows per mini-batch; ``"auto"`` is the reference's rule (512 up to 32
        input columns, 128 up to 100, 32 up to 1,000, else 16).
    max_epochs : int, default=100
        Epoch limit.
    learning_rate : float, default=1e-3
        Peak learning rate of AdamW (linear warm-up over the first 5 % of
        updates, then cosine decay to zero at ``max_epochs``).
    weight_decay : float, default=0.0
        AdamW weight decay (never on embeddings, norms and biases).
    categorical_features : "auto", array-like or None, default="auto"
        Categorical columns: ``"auto"`` takes pandas ``category``, object and
        string columns; or a list of names / positions, or a boolean mask.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied with ``sample_weight``.
    early_stopping : "auto" or bool, default="auto"
        Keep the weights of the epoch with the lowest validation log loss and
        stop after ``n_iter_no_change`` epochs without improvement. ``"auto"``:
        on when ``X_val`` is passed to ``fit`` or with at least 1,000 rows.
    validation_fraction : float, default=0.1
        Fraction of the training rows held out (stratified) for early stopping
        when ``X_val`` is not given.
    n_iter_no_change : int, default=16
        Epochs without improvement before stopping.
    tol : float, default=0.0
        Minimum improvement of the validation loss that counts.
    time_budget : float or None, default=None
        Seconds; training stops (with a warning) once exceeded.
    warm_start : bool, default=False
        Continue training the previous fit's network (and encoder) for up to
        ``max_epochs`` more epochs, with a new optimiser and schedule.
    random_state : int, RandomState or None, default=None
        Seeds the encoder's noise and folds, the MI estimate, the
        initialisation, the batches and the mixing. The global random state
        is never changed.
    n_threads : int or None, default=None
        Torch threads during fit and predict (None: leave torch's setting).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network is trained and evaluated.
    verbose : int, default=0
        Show a progress bar and log each epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : ExcelFormer
        The network (on encoded, MI-ordered features).
    feature_names_ : list of str
        Encoded features in the order the network sees them (decreasing MI).
    feature_order_ : ndarray of shape (n_encoded,)
        Positions of ``feature_names_`` among the encoder's features.
    mi_scores_ : ndarray of shape (n_encoded,)
        Mutual information of each encoded feature (encoder order).
    feature_importances_ : ndarray of shape (n_features_in_,)
        Normalised MI per input column.
    history_ : History
        Per-epoch records: ``train_loss``, ``val_loss``, ``val_score``
        (accuracy), ``seconds``.
    n_iter_ : int
        Epochs run (over all fits with ``warm_start``).
    best_epoch_ : int or None
        Epoch whose weights were kept (None without early stopping).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names (when ``X`` had string column names).

    See Also
    --------
    ExcelFormerRegressor : The same model for regression.
    BoostedNNClassifier : A faster neural baseline.

    References
    ----------
    .. [1] J. Chen, J. Yan, Q. Chen, D. Z. Chen, J. Wu, J. Sun. "ExcelFormer:
       Can a DNN be a Sure Bet for Tabular Prediction?", KDD 2024,
       arXiv:2301.02819.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tabkit import ExcelFormerClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> clf = ExcelFormerClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict_proba(X.iloc[:2]).shape, len(clf.feature_names_)
    ((2, 2), 30)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_ExcelFormer._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        d_token: int = 64,
        n_blocks: int = 3,
        n_heads: int = 4,
        attention_dropout: float = 0.3,
        residual_dropout: float = 0.0,
        init_scale: float = 0.01,
        mix_type: str = "none",
        beta: float = 0.5,
        batch_size: Any = 256,
        max_epochs: int = 100,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        categorical_features: Any = "auto",
        class_weight: Any = None,
        early_stopping: Any = "auto",
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 16,
        tol: float = 0.0,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.d_token = d_token
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.attention_dropout = attention_dropout
        self.residual_dropout = residual_dropout
        self.init_scale = init_scale
        self.mix_type = mix_type
        self.beta = beta
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.categorical_features = categorical_features
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.time_budget = time_budget
        self.warm_start = warm_start
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose

    def _mutual_information(self, x: np.ndarray, y: np.ndarray, seed: int) -> Any:
        return mutual_info_classif(x, y, random_state=seed)


class ExcelFormerRegressor(TorchRegressorMixin, _ExcelFormer):
    """ExcelFormer regressor: semi-permeable attention over MI-ordered features.

    The model of Chen et al. (KDD 2024) for regression, on standardised
    targets (predictions are mapped back): numeric columns quantile-normalised
    (with the reference's small noise), categorical columns replaced by
    leak-free out-of-fold target statistics, encoded features ordered by
    decreasing mutual information with the target, a gated per-feature
    embedding, blocks of semi-permeable attention and gated feed-forward
    layers, the reference head. Training mixes rows with Feat-Mix or Hid-Mix
    (the loss against both targets, weighted by the mixing weight), uses AdamW
    with warm-up and cosine decay, and keeps the weights of the best
    validation epoch (validation mean squared error).

    Parameters
    ----------
    d_token : int, default=64
        Width of each feature's token (the paper uses 256).
    n_blocks : int, default=3
        Transformer blocks (semi-permeable attention + gated feed-forward).
    n_heads : int, default=4
        Attention heads; must divide ``d_token`` (the paper uses 32).
    attention_dropout : float, default=0.3
        Dropout on the attention probabilities.
    residual_dropout : float, default=0.0
        Dropout on each block's branches.
    init_scale : float, default=0.01
        Scale of the interaction-attenuated initialisation.
    mix_type : {"feat_mix", "hidden_mix", "none"}, default="none"
        Training augmentation: Feat-Mix swaps whole feature tokens between rows
        (the label weight is the normalised MI of the kept features), Hid-Mix
        swaps embedding channels (label weight = swap rate); rates drawn from
        Beta(beta, beta) per row. The default, no mixing, scored best on
        validation in ``benchmarks/results/excelformer_mix.md`` (9 of 13
        datasets, at CPU budgets of 180 s per fit); the paper picks it per
        dataset, so it is worth tuning.
    beta : float, default=0.5
        Parameter of the Beta distribution of the swap rates.
    batch_size : int or "auto", default=256
        Rows per mini-batch; ``"auto"`` is the reference's rule (512 up to 32
        input columns, 128 up to 100, 32 up to 1,000, else 16).
    max_epochs : int, default=100
        Epoch limit.
    learning_rate : float, default=1e-3
        Peak learning rate of AdamW (linear warm-up over the first 5 % of
        updates, then cosine decay to zero at ``max_epochs``).
    weight_decay : float, default=0.0
        AdamW weight decay (never on embeddings, norms and biases).
    categorical_features : "auto", array-like or None, default="auto"
        Categorical columns: ``"auto"`` takes pandas ``category``, object and
        string columns; or a list of names / positions, or a boolean mask.
    early_stopping : "auto" or bool, default="auto"
        Keep the weights of the epoch with the lowest validation error and stop
        after ``n_iter_no_change`` epochs without improvement. ``"auto"``: on
        when ``X_val`` is passed to ``fit`` or with at least 1,000 rows.
    validation_fraction : float, default=0.1
        Fraction of the training rows held out for early stopping when
        ``X_val`` is not given.
    n_iter_no_change : int, default=16
        Epochs without improvement before stopping.
    tol : float, default=0.0
        Minimum improvement of the validation loss that counts.
    time_budget : float or None, default=None
        Seconds; training stops (with a warning) once exceeded.
    warm_start : bool, default=False
        Continue training the previous fit's network (and encoder) for up to
        ``max_epochs`` more epochs, with a new optimiser and schedule.
    random_state : int, RandomState or None, default=None
        Seeds the encoder's noise and folds, the MI estimate, the
        initialisation, the batches and the mixing. The global random state
        is never changed.
    n_threads : int or None, default=None
        Torch threads during fit and predict (None: leave torch's setting).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network is trained and evaluated.
    verbose : int, default=0
        Show a progress bar and log each epoch.

    Attributes
    ----------
    module_ : ExcelFormer
        The network (on encoded, MI-ordered features and standardised targets).
    feature_names_ : list of str
        Encoded features in the order the network sees them (decreasing MI).
    feature_order_ : ndarray of shape (n_encoded,)
        Positions of ``feature_names_`` among the encoder's features.
    mi_scores_ : ndarray of shape (n_encoded,)
        Mutual information of each encoded feature (encoder order).
    feature_importances_ : ndarray of shape (n_features_in_,)
        Normalised MI per input column.
    history_ : History
        Per-epoch records: ``train_loss``, ``val_loss``, ``val_score`` (R²),
        ``seconds``.
    n_iter_ : int
        Epochs run (over all fits with ``warm_start``).
    best_epoch_ : int or None
        Epoch whose weights were kept (None without early stopping).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input column names (when ``X`` had string column names).

    See Also
    --------
    ExcelFormerClassifier : The same model for classification.
    BoostedNNRegressor : A faster neural baseline.

    References
    ----------
    .. [1] J. Chen, J. Yan, Q. Chen, D. Z. Chen, J. Wu, J. Sun. "ExcelFormer:
       Can a DNN be a Sure Bet for Tabular Prediction?", KDD 2024,
       arXiv:2301.02819.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from tabkit import ExcelFormerRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = ExcelFormerRegressor(max_epochs=20, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.3, reg.predict(X.iloc[:3]).shape
    (True, (3,))
    """

    def __init__(
        self,
        *,
        d_token: int = 64,
        n_blocks: int = 3,
        n_heads: int = 4,
        attention_dropout: float = 0.3,
        residual_dropout: float = 0.0,
        init_scale: float = 0.01,
        mix_type: str = "none",
        beta: float = 0.5,
        batch_size: Any = 256,
        max_epochs: int = 100,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        categorical_features: Any = "auto",
        early_stopping: Any = "auto",
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 16,
        tol: float = 0.0,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.d_token = d_token
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.attention_dropout = attention_dropout
        self.residual_dropout = residual_dropout
        self.init_scale = init_scale
        self.mix_type = mix_type
        self.beta = beta
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.categorical_features = categorical_features
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.time_budget = time_budget
        self.warm_start = warm_start
        self.random_state = random_state
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose

    def _mutual_information(self, x: np.ndarray, y: np.ndarray, seed: int) -> Any:
        return mutual_info_regression(x, y, random_state=seed)
