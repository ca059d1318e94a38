# SPDX-License-Identifier: BSD-3-Clause
"""Reference anchors: pytorch-frame's ExcelFormer, trained as its example does.

Two adapters, registered at import time:

``frame_excelformer_example``
    pytorch-frame 0.3's ``examples/excelformer.py`` with its own defaults:
    channels 256, batch 512, 4 heads, 5 layers, ``Adam(lr=1e-3)`` with
    ``ExponentialLR(gamma=0.95)`` stepped per epoch, 100 epochs,
    ``diam_dropout=0.3``, ``aium_dropout=residual_dropout=0``, no mixup (the
    example's default ``--mixup None``; training still goes through
    ``model(tf, mixup_encoded=True)`` and soft one-hot targets, as the example
    does), the weights of the best validation epoch kept (the example reports
    the test metric at the best validation epoch: ROC AUC for binary,
    accuracy for multiclass, RMSE for regression).
``frame_excelformer_tabkit``
    The same code with tabkit's standard-profile ExcelFormer sizes (the
    ``TABKIT_*`` constants): channels 64, 3 layers, 4 heads, batch 256,
    lr 1e-3, at most 100 epochs, early stopping with patience 16 on the
    validation loss, the weights of the lowest validation loss kept.

Pipeline of ``fit`` (everything fitted on the training rows only): columns
get stypes (``numerical``, or ``categorical`` for pandas category / object /
string columns); a ``torch_frame.data.Dataset`` of the training rows is
materialised (column statistics from the training rows), and its converter
turns validation and prediction frames into ``TensorFrame`` objects;
``CatToNumTransform`` then ``MutualInformationSort`` (in that order:
the sort imputes NaNs and rejects categorical columns) are fitted on the
training ``TensorFrame``; ``ExcelFormer`` is trained with cross-entropy on
``out_channels = n_classes`` (binary included, as the example) or MSE on the
standardised target (predictions mapped back); the train loader has
``shuffle=True, drop_last=True`` (as pytorch-frame's benchmark script) and a
seeded generator.

Deviations from the example, and workarounds (all here and only here):

- Statistics come from the training rows only (the example materialises the
  whole dataset, so its z-score statistics include validation and test rows).
- ``CatToNumTransform._forward`` reads the labels of the frame it transforms
  to choose between the binary and the multiclass layout: it fails without
  labels (prediction) and with a size mismatch when a multiclass frame holds
  only labels 0 and 1 (the issue behind pytorch-frame PR #446); and its NaN
  replacement raises when every row of a categorical column is missing or
  unseen (a one-row prediction with a missing level). A subclass gives it a
  stand-in label of the fitted layout and maps missing levels to the most
  frequent one without that check (``_cat_to_num_class``).
- Issue #460 (``CatToNumTransform`` naming its output columns ``{col}_{i}`` in
  ``transformed_stats`` but not in the ``TensorFrame``) does not occur with
  pytorch-frame 0.3.0, whose ``_forward`` renames the columns too; the
  statistics handed to the model are still keyed by the ``TensorFrame``'s own
  column names, and any name missing from ``transformed_stats`` gets its
  statistics computed from the transformed training rows (``_model_stats``).
  Columns are renamed ``n0, n1, ...`` / ``c0, c1, ...`` first, so that the
  ``{col}_{i}`` names cannot collide with another column.
- ``MutualInformationSort`` calls scikit-learn's mutual information with
  ``random_state=None``; it gets ``random_state=seed`` here (reproducible).
- Regression targets are standardised with the training mean and standard
  deviation (the example fits the raw target).
- When the training rows are fewer than the batch size, the batch size is
  the number of training rows (with ``drop_last=True`` the loader would
  otherwise yield no batch at all); ``fit_info`` records the batch size used.
- Only the validation rows are evaluated after each epoch (the example also
  evaluates the training and test rows).
- Training columns with no observed value are dropped (both transforms raise
  on them).
- Training stops after the epoch that exceeds ``budget_s`` seconds (counted
  from the start of ``fit``, preprocessing included).

pytorch-frame is imported lazily (``setup`` / ``fit``), so registering these
adapters costs nothing; tabkit itself never imports it.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.models import _Adapter, categorical_columns, register_model
from benchmarks.protocol import is_classification

logger = logging.getLogger(__name__)

# pytorch-frame's examples/excelformer.py defaults.
#: Embedding width (``--channels``).
EXAMPLE_CHANNELS = 256
#: Training batch size (``--batch_size``).
EXAMPLE_BATCH_SIZE = 512
#: Attention heads (``--num_heads``).
EXAMPLE_HEADS = 4
#: ExcelFormerConv layers (``--num_layers``).
EXAMPLE_LAYERS = 5
#: Adam learning rate (``--lr``).
EXAMPLE_LR = 1e-3
#: ExponentialLR decay per epoch (``--gamma``).
EXAMPLE_GAMMA = 0.95
#: Epochs (``--epochs``).
EXAMPLE_EPOCHS = 100
#: Attention dropout (hard-coded in the example).
EXAMPLE_DIAM_DROPOUT = 0.3

# tabkit's standard-profile ExcelFormer sizes; revisit when tabkit's own
# ExcelFormer lands.
#: Embedding width (tabkit's CPU-sized d_token).
TABKIT_CHANNELS = 64
#: ExcelFormer layers.
TABKIT_LAYERS = 3
#: Attention heads.
TABKIT_HEADS = 4
#: Training batch size.
TABKIT_BATCH_SIZE = 256
#: Adam learning rate.
TABKIT_LR = 1e-3
#: Maximum epochs.
TABKIT_MAX_EPOCHS = 100
#: Early-stopping patience (epochs without a lower validation loss).
TABKIT_PATIENCE = 16

#: What the best epoch is chosen on: the example's metric or the loss.
MONITORS = ("metric", "loss")


# ============================================================ pytorch-frame glue


@functools.cache
def _cat_to_num_class() -> type:
    """``CatToNumTransform`` that does not read the labels of what it transforms.

    pytorch-frame 0.3.0's ``_forward`` picks the output layout (one column per
    categorical, or ``n_classes - 1`` of them for multiclass) from
    ``tf.y.max() > 1`` of the frame being transformed: it raises a
    ``TypeError`` when the frame has no labels (prediction) and a size
    mismatch when a multiclass frame holds only labels 0 and 1. This subclass
    hands ``_forward`` a one-element stand-in label of the layout chosen at
    fit time and puts the frame's own labels back afterwards. It also maps
    missing and unseen levels to the most frequent training level (what the
    library does) without the library's error when a whole column of the
    transformed frame is missing (e.g. predicting one row with a missing
    categorical).
    """
    import torch
    from torch_frame import NAStrategy
    from torch_frame.transforms import CatToNumTransform

    class LabelFreeCatToNumTransform(CatToNumTransform):
        def _replace_nans(self, x, na_strategy):
            if na_strategy != NAStrategy.MOST_FREQUENT:
                return super()._replace_nans(x, na_strategy)
            return x.clamp(min=0)  # index 0 is the most frequent level

        def _forward(self, tf):
            y = tf.y
            n_classes = int(getattr(self, "num_classes", 2))
            if n_classes > 2:
                tf.y = torch.tensor([n_classes - 1], device=tf.device)
            else:
                tf.y = torch.zeros(1, device=tf.device)
            try:
                out = super()._forward(tf)
            finally:
                tf.y = y
            out.y = y
            return out

    return LabelFreeCatToNumTransform


def _model_stats(tf_train, stats: dict[str, dict]) -> dict[str, dict]:
    """Column statistics keyed by the training ``TensorFrame``'s column names.

    Guards against pytorch-frame issue #460: a numerical column of ``tf_train``
    missing from ``stats`` gets its statistics computed from the transformed
    training rows.
    """
    import torch_frame
    from torch_frame.data.stats import compute_col_stats

    names = tf_train.col_names_dict[torch_frame.numerical]
    feat = tf_train.feat_dict[torch_frame.numerical]
    out = {}
    for j, name in enumerate(names):
        if name in stats:
            out[name] = stats[name]
        else:
            logger.warning("no statistics for column %r (issue #460); computed", name)
            col = pd.Series(feat[:, j].cpu().numpy().astype(np.float64))
            out[name] = compute_col_stats(col, torch_frame.numerical)
    return out


# ============================================================ adapter


class FrameExcelFormerAdapter(_Adapter):
    """pytorch-frame's ``ExcelFormer`` trained the way its example does.

    See the module docstring for the pipeline and the deviations from the
    example.

    Parameters
    ----------
    preset : str
        Name of the settings (first part of ``config``).
    channels : int
        ``in_channels`` of ``ExcelFormer`` (embedding width).
    num_layers : int
        ``ExcelFormerConv`` layers.
    num_heads : int
        Attention heads.
    batch_size : int
        Training batch size (also the evaluation batch size, as the example).
    lr : float
        Adam learning rate.
    gamma : float
        ``ExponentialLR`` decay, stepped once per epoch.
    max_epochs : int
        Epoch budget; an attribute, so a test can lower it after construction.
    patience : int or None
        Stop after this many epochs without improvement of the monitored
        quantity; None trains all ``max_epochs`` (the example).
    monitor : {"metric", "loss"}
        What the best epoch is chosen on (and ``patience`` counts): the
        example's validation metric (ROC AUC, accuracy or RMSE) or the
        validation loss (cross-entropy, or MSE on the standardised target).
    diam_dropout, aium_dropout, residual_dropout : float
        ``ExcelFormer`` dropouts.
    mixup : {None, "feature", "hidden"}, default=None
        ``ExcelFormer``'s mixup (the example's default is None).
    beta : float, default=0.5
        Beta-distribution parameter of the mixup.

    Attributes
    ----------
    budget_s : float or None
        Per-fit time budget in seconds, set by the runner (None: no limit).
        Training stops after the epoch that exceeds it.
    classes_ : ndarray
        Class labels (classification), in the order of ``predict_proba``.
    """

    family = "reference"
    #: The tabkit model this implementation is the reference of.
    reference_for = "excelformer"
    #: No fit-time target: ExcelFormer's speed target is training throughput at
    #: the same configuration (``benchmarks/throughput.py``).
    speedup_target: float | None = None
    uses_torch = True
    modules = ("torch_frame",)
    budget_s: float | None = None

    def __init__(
        self,
        *,
        preset: str,
        channels: int,
        num_layers: int,
        num_heads: int,
        batch_size: int,
        lr: float,
        gamma: float,
        max_epochs: int,
        patience: int | None,
        monitor: str,
        diam_dropout: float = EXAMPLE_DIAM_DROPOUT,
        aium_dropout: float = 0.0,
        residual_dropout: float = 0.0,
        mixup: str | None = None,
        beta: float = 0.5,
    ):
        if monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, got {monitor!r}")
        self.preset = preset
        self.channels = channels
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.batch_size = batch_size
        self.lr = lr
        self.gamma = gamma
        self.max_epochs = max_epochs
        self.patience = patience
        self.monitor = monitor
        self.diam_dropout = diam_dropout
        self.aium_dropout = aium_dropout
        self.residual_dropout = residual_dropout
        self.mixup = mixup
        self.beta = beta
        config = f"{preset}_c{channels}_L{num_layers}_H{num_heads}_b{batch_size}"
        config += f"_e{max_epochs}"
        if patience is not None:
            config += f"_p{patience}"
        self.config = config

    # ------------------------------------------------------------ data

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` under the safe column names: floats and object strings."""
        out = {}
        for name, safe in self.columns_.items():
            col = X[name]
            if safe in self.categorical_:
                text = col.astype(object).where(col.isna(), col.astype(str))
                out[safe] = text.where(col.notna(), None).to_numpy(dtype=object)
            else:
                out[safe] = col.astype("float64").to_numpy()
        return pd.DataFrame(out, index=X.index)

    def _tensor_frame(self, X: pd.DataFrame, y=None):
        """Convert and transform ``X`` (labels ``y``) into a ``TensorFrame``."""
        tf = self.converter_(self._frame(X))
        tf.y = y
        return self.sort_(self.cat_to_num_(tf))

    def _encode_target(self, y: np.ndarray):
        import torch

        if is_classification(self.task_):
            return torch.as_tensor(self.label_encoder_.transform(y), dtype=torch.long)
        z = (np.asarray(y, dtype=np.float64) - self.y_mean_) / self.y_std_
        return torch.as_tensor(z, dtype=torch.float32)

    def _prepare(self, X_train: pd.DataFrame, y_train: np.ndarray, seed: int):
        """Fit columns, target encoding, dataset and transforms; train frame."""
        import torch_frame
        from torch_frame import TaskType
        from torch_frame.data import Dataset
        from torch_frame.transforms import MutualInformationSort

        cats = set(categorical_columns(X_train))
        empty = [c for c in X_train.columns if X_train[c].isna().all()]
        if empty:
            logger.warning("dropping columns without values in training: %s", empty)
        kept = [c for c in X_train.columns if c not in empty]
        self.dropped_columns_ = [str(c) for c in empty]
        self.columns_ = {
            c: (f"c{j}" if c in cats else f"n{j}") for j, c in enumerate(kept)
        }
        self.categorical_ = {s for c, s in self.columns_.items() if c in cats}
        col_to_stype = {
            s: torch_frame.categorical
            if s in self.categorical_
            else torch_frame.numerical
            for s in self.columns_.values()
        }
        if is_classification(self.task_):
            from sklearn.preprocessing import LabelEncoder

            self.label_encoder_ = LabelEncoder().fit(y_train)
            self.classes_ = self.label_encoder_.classes_
            n_classes = len(self.classes_)
            task_type = (
                TaskType.BINARY_CLASSIFICATION
                if n_classes == 2
                else TaskType.MULTICLASS_CLASSIFICATION
            )
            self.out_channels_ = n_classes
        else:
            y = np.asarray(y_train, dtype=np.float64)
            self.y_mean_ = float(np.mean(y))
            std = float(np.std(y))
            self.y_std_ = std if std > 0 and math.isfinite(std) else 1.0
            task_type = TaskType.REGRESSION
            self.out_channels_ = 1
        dataset = Dataset(self._frame(X_train), col_to_stype=col_to_stype)
        dataset.materialize()  # statistics of the training rows only
        self.converter_ = dataset.convert_to_tensor_frame
        tf_train = dataset.tensor_frame
        tf_train.y = self._encode_target(y_train)

        self.cat_to_num_ = _cat_to_num_class()()
        self.cat_to_num_.fit(tf_train, dataset.col_stats)
        tf_train = self.cat_to_num_(tf_train)
        self.sort_ = MutualInformationSort(task_type=task_type)
        self.sort_.mi_func = functools.partial(self.sort_.mi_func, random_state=seed)
        self.sort_.fit(tf_train, self.cat_to_num_.transformed_stats)
        tf_train = self.sort_(tf_train)
        stats = _model_stats(tf_train, self.sort_.transformed_stats)
        return tf_train, stats

    # ------------------------------------------------------------ training

    def _outputs(self, tf):
        """Model outputs on ``tf`` in evaluation mode, in batches."""
        import torch

        self.model_.eval()
        step = self.batch_size_
        with torch.no_grad():
            outs = [
                self.model_(tf[torch.arange(i, min(i + step, len(tf)))])
                for i in range(0, len(tf), step)
            ]
        return torch.cat(outs) if outs else torch.empty(0, self.out_channels_)

    def _validate(self, tf_val) -> tuple[float, float]:
        """Return the validation loss and the example's metric (AUC, accuracy, RMSE)."""
        import torch.nn.functional as F

        out = self._outputs(tf_val)
        if not is_classification(self.task_):
            pred = out.view(-1)
            loss = float(F.mse_loss(pred, tf_val.y.view(-1)))
            return loss, math.sqrt(loss) * self.y_std_
        loss = float(F.cross_entropy(out, tf_val.y))
        labels = tf_val.y.numpy()
        if self.out_channels_ == 2 and len(np.unique(labels)) == 2:
            from sklearn.metrics import roc_auc_score

            return loss, float(roc_auc_score(labels, out[:, 1].numpy()))
        return loss, float(np.mean(out.argmax(dim=1).numpy() == labels))

    def _monitored(self, loss: float, metric: float) -> float:
        """Return the quantity to minimise: the loss, or the signed metric."""
        if self.monitor == "loss":
            return loss
        higher_is_better = is_classification(self.task_)
        return -metric if higher_is_better else metric

    def _fit(self, X_train, y_train, X_val, y_val, *, seed, threads):  # noqa: ARG002
        import torch
        import torch.nn.functional as F
        from torch.optim.lr_scheduler import ExponentialLR
        from torch_frame.data import DataLoader
        from torch_frame.nn import ExcelFormer

        start = time.perf_counter()
        tf_train, stats = self._prepare(X_train, y_train, seed)
        tf_val = self._tensor_frame(X_val, self._encode_target(y_val))
        self.n_model_columns_ = tf_train.num_cols
        self.batch_size_ = max(1, min(self.batch_size, len(tf_train)))
        if self.batch_size_ < self.batch_size:
            logger.info(
                "%d training rows < batch size %d: batch size %d",
                len(tf_train),
                self.batch_size,
                self.batch_size_,
            )
        clf = is_classification(self.task_)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model_ = ExcelFormer(
                in_channels=self.channels,
                out_channels=self.out_channels_,
                num_cols=tf_train.num_cols,
                num_layers=self.num_layers,
                num_heads=self.num_heads,
                col_stats=stats,
                col_names_dict=tf_train.col_names_dict,
                diam_dropout=self.diam_dropout,
                aium_dropout=self.aium_dropout,
                residual_dropout=self.residual_dropout,
                mixup=self.mixup,
                beta=self.beta,
            )
            optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
            scheduler = ExponentialLR(optimizer, gamma=self.gamma)
            loader = DataLoader(
                tf_train,
                batch_size=self.batch_size_,
                shuffle=True,
                drop_last=True,
                generator=torch.Generator().manual_seed(seed),
            )
            best_value, best_state = math.inf, None
            self.best_epoch_: int | None = None
            self.best_val_loss_ = self.best_val_metric_ = math.nan
            self.stop_reason_ = "max_epochs"
            self.epochs_run_ = 0
            since_best = 0
            train_loss = math.nan
            self.epoch_seconds_: list[float] = []
            self.epoch_rows_ = 0
            for epoch in range(1, self.max_epochs + 1):
                self.model_.train()
                total, count = 0.0, 0
                tick = time.perf_counter()
                for batch in loader:
                    pred, y_mixed = self.model_(batch, mixup_encoded=True)
                    if clf:
                        loss = F.cross_entropy(pred, y_mixed)
                    else:
                        loss = F.mse_loss(pred.view(-1), y_mixed.view(-1))
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(y_mixed)
                    count += len(y_mixed)
                self.epoch_seconds_.append(time.perf_counter() - tick)
                self.epoch_rows_ = count
                train_loss = total / max(count, 1)
                val_loss, val_metric = self._validate(tf_val)
                self.epochs_run_ = epoch
                value = self._monitored(val_loss, val_metric)
                if math.isfinite(value) and value < best_value:
                    best_value, since_best = value, 0
                    self.best_epoch_ = epoch
                    self.best_val_loss_, self.best_val_metric_ = val_loss, val_metric
                    best_state = {
                        k: v.detach().clone()
                        for k, v in self.model_.state_dict().items()
                    }
                else:
                    since_best += 1
                logger.debug(
                    "epoch %d: train loss %.4f, val loss %.4f, val metric %.4f",
                    epoch,
                    train_loss,
                    val_loss,
                    val_metric,
                )
                scheduler.step()
                if self.patience is not None and since_best >= self.patience:
                    self.stop_reason_ = "early_stopping"
                    break
                elapsed = time.perf_counter() - start
                if (
                    self.budget_s is not None
                    and elapsed > self.budget_s
                    and epoch < self.max_epochs
                ):
                    self.stop_reason_ = "budget"
                    logger.info(
                        "time budget %.1f s exceeded after epoch %d (%.1f s)",
                        self.budget_s,
                        epoch,
                        elapsed,
                    )
                    break
        self.final_train_loss_ = train_loss
        if best_state is None:
            logger.warning("no finite validation value: keeping the last weights")
        else:
            self.model_.load_state_dict(best_state)
        self.model_.eval()

    # ------------------------------------------------------------ prediction

    def _predict_outputs(self, X: pd.DataFrame) -> np.ndarray:
        return self._outputs(self._tensor_frame(X)).numpy().astype(np.float64)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted labels (classification) or values (regression).

        Parameters
        ----------
        X : DataFrame
            Features (the training columns).

        Returns
        -------
        ndarray of shape (n_rows,)
            Predictions.
        """
        out = self._predict_outputs(X)
        if is_classification(self.task_):
            return self.label_encoder_.inverse_transform(out.argmax(axis=1))
        return out.ravel() * self.y_std_ + self.y_mean_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame
            Features (the training columns).

        Returns
        -------
        ndarray of shape (n_rows, n_classes)
            Softmax of the model's outputs.
        """
        if not is_classification(self.task_):
            raise AttributeError("predict_proba is only defined for classification")
        out = self._predict_outputs(X)
        out = np.exp(out - out.max(axis=1, keepdims=True))
        return out / out.sum(axis=1, keepdims=True)

    def fit_info(self) -> dict[str, Any]:
        """Epochs run, best epoch, stop reason and the settings actually used."""
        info: dict[str, Any] = {
            "epochs_run": int(self.epochs_run_),
            "best_epoch": self.best_epoch_,
            "max_epochs": int(self.max_epochs),
            "stop_reason": self.stop_reason_,
            "budget_s": self.budget_s,
            "budget_cut": self.stop_reason_ == "budget",
            "monitor": self.monitor,
            "best_val_loss": _finite_or_none(self.best_val_loss_),
            "best_val_metric": _finite_or_none(self.best_val_metric_),
            "batch_size": int(self.batch_size_),
            "n_model_columns": int(self.n_model_columns_),
            "n_params": int(sum(p.numel() for p in self.model_.parameters())),
        }
        if self.dropped_columns_:
            info["dropped_columns"] = self.dropped_columns_
        return info


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def example_adapter() -> FrameExcelFormerAdapter:
    """pytorch-frame's ExcelFormer with its example's defaults."""
    return FrameExcelFormerAdapter(
        preset="example",
        channels=EXAMPLE_CHANNELS,
        num_layers=EXAMPLE_LAYERS,
        num_heads=EXAMPLE_HEADS,
        batch_size=EXAMPLE_BATCH_SIZE,
        lr=EXAMPLE_LR,
        gamma=EXAMPLE_GAMMA,
        max_epochs=EXAMPLE_EPOCHS,
        patience=None,
        monitor="metric",
    )


def tabkit_adapter() -> FrameExcelFormerAdapter:
    """pytorch-frame's ExcelFormer with tabkit's standard-profile sizes."""
    return FrameExcelFormerAdapter(
        preset="tabkit",
        channels=TABKIT_CHANNELS,
        num_layers=TABKIT_LAYERS,
        num_heads=TABKIT_HEADS,
        batch_size=TABKIT_BATCH_SIZE,
        lr=TABKIT_LR,
        gamma=EXAMPLE_GAMMA,
        max_epochs=TABKIT_MAX_EPOCHS,
        patience=TABKIT_PATIENCE,
        monitor="loss",
    )


register_model("frame_excelformer_example", example_adapter)
register_model("frame_excelformer_tabkit", tabkit_adapter)
