# SPDX-License-Identifier: BSD-3-Clause
"""Hopular as scikit-learn estimators, on the mini-batch base."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from tabkit._compat import Interval, StrOptions
from tabkit.base import (
    Batch,
    MiniBatchEstimator,
    TorchClassifierMixin,
    TorchRegressorMixin,
)
from tabkit.nn import Hopular
from tabkit.nn.hopular import Slots, corrupt, feature_loss_weight, sample_head_width
from tabkit.training import SchedulerFactory, TensorBatches, warmup_cosine

#: Head width cap of the sample-sample lookup with ``sample_head_dim="auto"``.
AUTO_HEAD_DIM = 32
#: Attention scores (rows x heads x memory rows) per prediction batch.
_ATTENTION_BUDGET = 2**26
#: Memory rows embedded at once when the memory's keys are computed.
_MEMORY_CHUNK = 4096
#: batch_size="auto": 64-row batches below this many training rows, 256 from it.
_AUTO_BATCH_ROWS = 1024

#: The reference's command-line configuration (full batch, no early stopping,
#: the whole training set as memory at every step; AdamW instead of LAMB).
FAITHFUL_PRESET: dict[str, Any] = {
    "feature_size": 32,
    "n_blocks": 8,
    "n_heads": 8,
    "sample_head_dim": "full",
    "scaling_factor": 1.0,
    "input_dropout": 0.1,
    "lookup_dropout": 0.1,
    "output_dropout": 0.01,
    "mask_probability": 0.025,
    "replace_probability": 0.175,
    "select_probability": 1.0,
    "learning_rate": 1e-3,
    "weight_decay": 0.1,
    "ema_decay": 0.995,
    "max_grad_norm": 1.0,
    "batch_size": "full",
    "memory_size": None,
    "max_epochs": 5000,
    "anneal_epochs": 10000,
    "eval_every": 10,
    "early_stopping": True,
    "n_iter_no_change": 500,
}


class _Hopular(MiniBatchEstimator):
    """Shared implementation of the Hopular classifier and regressor."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **MiniBatchEstimator._parameter_constraints,
        "feature_size": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "sample_head_dim": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto", "full"}),
        ],
        "scaling_factor": [Interval(Real, 0, None, closed="neither")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "lookup_dropout": [Interval(Real, 0, 1, closed="left")],
        "output_dropout": [Interval(Real, 0, 1, closed="left")],
        "mask_probability": [Interval(Real, 0, 1, closed="both")],
        "replace_probability": [Interval(Real, 0, 1, closed="both")],
        "select_probability": [Interval(Real, 0, 1, closed="both")],
        "feature_loss_weight": [tuple, list],
        "anneal_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "ema_decay": [Interval(Real, 0, 1, closed="neither"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto", "full"}),
        ],
        "memory_size": [Interval(Integral, 1, None, closed="left"), None],
        "predict_memory": [StrOptions({"full", "sampled"})],
        "eval_every": [Interval(Integral, 1, None, closed="left")],
    }
    _encoder_options: ClassVar[dict[str, Any]] = {
        "numeric": "standard",
        "categorical": "codes",
        "missing_indicators": True,
    }
    _encoder_view: ClassVar[str] = "blocks"

    memory_num_: np.ndarray
    memory_flag_: np.ndarray
    memory_cat_: np.ndarray

    @classmethod
    def preset_params(cls, name: str) -> dict[str, Any]:
        """Return the parameters of a named preset.

        Parameters
        ----------
        name : {"default", "faithful"}
            ``"default"``: tabkit's CPU-sized defaults (mini-batches with a
            sampled memory, 2 blocks, tokens of 16, head width at most 32).
            ``"faithful"``: the reference's configuration (8 blocks, 8 heads,
            tokens of 32, head width ``D / 8``, full-batch steps against the
            whole training set, 5,000 epochs with the annealing horizon at
            10,000, evaluation every 10 epochs, the best evaluation kept), with
            AdamW in place of LAMB.

        Returns
        -------
        params : dict
            Keyword arguments for the constructor.

        Examples
        --------
        >>> from tabkit import HopularClassifier
        >>> HopularClassifier(**HopularClassifier.preset_params("faithful")).n_blocks
        8
        """
        if name == "faithful":
            return dict(FAITHFUL_PRESET)
        if name == "default":
            return {}
        raise ValueError(f"unknown preset {name!r}; choose 'default' or 'faithful'")

    # ------------------------------------------------------------ slots
    def _layout(self) -> None:
        """Find the value and flag columns of the encoded numeric block."""
        layout = self._encoder.num_feature_layout()
        values = layout.index[layout["kind"].isin(["numeric", "datetime"])]
        self._value_columns = np.array(values, dtype=np.int64)
        self._flag_columns = np.array(layout.loc[values, "indicator"], dtype=np.int64)
        self._feature_cardinalities = [
            max(int(c) - 2, 1) for c in self._encoder.cardinalities_
        ]
        if len(self._value_columns) + len(self._feature_cardinalities) == 0:
            raise ValueError(
                f"{type(self).__name__} needs at least one feature; every input "
                "column was dropped by the encoder (all values missing?)"
            )

    def _feature_slots(self, batch: Batch) -> Slots:
        """Feature slots of encoded rows (the target column is not included)."""
        x_num = batch.x_num
        device = x_num.device
        values = torch.as_tensor(self._value_columns, device=device)
        flags = torch.as_tensor(self._flag_columns, device=device)
        num = x_num.index_select(1, values)
        has_flag = flags >= 0
        flag = x_num.index_select(1, flags.clamp_min(0)) * has_flag.to(x_num.dtype)
        num = num * (1.0 - flag)
        cat = (batch.x_cat - 1).clamp_min(0)
        return Slots(num, flag, cat)

    def _target_slot(self, slots: Slots, y: Tensor | None) -> Slots:
        """Append the target column: visible (memory) or unknown (``y`` None)."""
        num, flag, cat = slots
        n = num.shape[0]
        if self._target_is_categorical:
            code = (
                torch.zeros(n, 1, dtype=torch.long, device=num.device)
                if y is None
                else (y.long() + 1).unsqueeze(1)
            )
            return Slots(num, flag, torch.cat([cat, code], dim=1))
        value = num.new_zeros(n, 1) if y is None else y.to(num.dtype).unsqueeze(1)
        unknown = num.new_full((n, 1), 1.0 if y is None else 0.0)
        return Slots(
            torch.cat([num, value], dim=1), torch.cat([flag, unknown], dim=1), cat
        )

    @property
    def _target_is_categorical(self) -> bool:
        return isinstance(self, TorchClassifierMixin)

    def _target_raw(self, out: Tensor) -> Tensor:
        """Return the target's raw outputs (n, n_outputs) among all outputs."""
        module: Hopular = self.module_
        where = module.output_slices[self._target_column]
        raw = out[:, where]
        if self._target_is_categorical and raw.shape[1] == 2:
            return raw[:, 1:] - raw[:, :1]  # binary: log-odds of classes_[1]
        return raw

    @property
    def _target_column(self) -> int:
        n_num = len(self._value_columns)
        if self._target_is_categorical:
            return n_num + len(self._feature_cardinalities)
        return n_num

    # ------------------------------------------------------------ module
    def _build_module(self, train: Batch) -> nn.Module:  # noqa: ARG002
        n_num = len(self._value_columns)
        cards = list(self._feature_cardinalities)
        if self._target_is_categorical:
            cards.append(len(self.classes_))
        else:
            n_num += 1
        n_columns = n_num + len(cards)
        cap = None if self.sample_head_dim == "full" else AUTO_HEAD_DIM
        if isinstance(self.sample_head_dim, Integral):
            width = int(self.sample_head_dim)
        else:
            width = sample_head_width(n_columns, self.feature_size, self.n_heads, cap)
        return Hopular(
            n_num,
            cards,
            feature_size=self.feature_size,
            n_blocks=self.n_blocks,
            n_heads=self.n_heads,
            sample_head_dim=width,
            feature_head_dim=None,
            scaling_factor=self.scaling_factor,
            input_dropout=self.input_dropout,
            lookup_dropout=self.lookup_dropout,
            output_dropout=self.output_dropout,
        )

    # ------------------------------------------------------------ training
    def _fit_model(
        self,
        train: Batch,
        valid: Batch | None,
        *,
        generator: torch.Generator,
        callbacks: list[Any],
        first_fit: bool,
    ) -> None:
        start, end = self._loss_weights()
        if not 0.0 <= self.mask_probability + self.replace_probability <= 1.0:
            raise ValueError(
                "mask_probability + replace_probability must be at most 1, got "
                f"{self.mask_probability} + {self.replace_probability}"
            )
        y, weight = train.y, train.weight
        assert y is not None
        assert weight is not None
        keep = torch.nonzero(weight > 0).squeeze(1)
        if len(keep) < len(weight):  # rows of weight 0 are not used at all
            y, weight = y[keep], weight[keep]
            train = Batch(train.x_num[keep], train.x_cat[keep], y, weight)
        if first_fit:
            self._layout()
        features = self._feature_slots(train)
        memory = self._target_slot(features, y)
        self.memory_num_ = memory.num.cpu().numpy()
        self.memory_flag_ = memory.flag.cpu().numpy()
        self.memory_cat_ = memory.cat.cpu().numpy()
        self._train: tuple[Slots, Slots, Tensor, Tensor, Tensor] = (
            features,
            memory,
            y,
            weight,
            _duplicate_groups(memory),
        )
        self._updates = 0
        self._feature_weight_range = (start, end)
        try:
            super()._fit_model(
                train,
                valid,
                generator=generator,
                callbacks=callbacks,
                first_fit=first_fit,
            )
        finally:
            del self._train, self._updates, self._feature_weight_range
            self.__dict__.pop("_n_batches", None)
            if hasattr(self, "module_"):
                self.module_.memory_cache = None

    def _loss_weights(self) -> tuple[float, float]:
        pair = tuple(self.feature_loss_weight)
        if len(pair) != 2 or not all(
            isinstance(v, Real) and 0.0 <= float(v) <= 1.0 for v in pair
        ):
            raise ValueError(
                "feature_loss_weight must be a pair (start, end) of numbers in "
                f"[0, 1], got {self.feature_loss_weight!r}"
            )
        return float(pair[0]), float(pair[1])

    def _make_batches(self, train: Batch) -> Any:
        n = train.x_num.shape[0]
        if self.batch_size == "full":
            size = n
        elif self.batch_size == "auto":
            size = 64 if n < _AUTO_BATCH_ROWS else 256
        else:
            size = int(self.batch_size)
        batches = TensorBatches(
            torch.arange(n, device=train.x_num.device), batch_size=size, shuffle=True
        )
        self._n_batches = len(batches)
        return batches

    def _horizon_epochs(self) -> int:
        return int(self.anneal_epochs or self.max_epochs)

    def _scheduler(self) -> SchedulerFactory | None:
        """Cosine decay of the learning rate over the annealing horizon."""

        def factory(optimizer: torch.optim.Optimizer, total: int) -> Any:  # noqa: ARG001
            updates = max(self._horizon_epochs() * self._n_batches, 1)
            return warmup_cosine()(optimizer, updates)

        return factory

    def _min_epochs(self) -> int:
        """Return half the annealing horizon: no early stop before it.

        Until then the target loss has little weight, so the validation loss
        says little about the final model.
        """
        return (self._horizon_epochs() + 1) // 2

    def _loop_options(self) -> dict[str, Any]:
        return {
            "grad_clip": self.max_grad_norm,
            "eval_every": self.eval_every,
            "ema_decay": self.ema_decay,
        }

    def _loss(self, batch: Any, generator: torch.Generator) -> Tensor:
        """Feature reconstruction and target loss of one batch of query rows.

        Queries are corrupted (mask / replace / keep) and their target is
        unknown; the memory is a sample of ``memory_size`` training rows
        (targets visible) drawn for this step, and a query never reads its own
        row or an exact duplicate of it (features and target).
        """
        (rows,) = batch
        features, memory, y, weight, groups = self._train
        module: Hopular = self.module_
        queries, sel_num, sel_cat = corrupt(
            features.take(rows),
            self._feature_cardinalities,
            select=self.select_probability,
            mask=self.mask_probability,
            replace=self.replace_probability,
            generator=generator,
        )
        n_memory = memory.num.shape[0]
        if self.memory_size is not None and self.memory_size < n_memory:
            picked = torch.randperm(n_memory, generator=generator)[: self.memory_size]
            picked = picked.to(rows.device)
            memory, memory_groups = memory.take(picked), groups[picked]
        else:
            memory_groups = groups
        attend = groups[rows].unsqueeze(1) != memory_groups.unsqueeze(0)
        out = module(
            self._target_slot(queries, None),
            module.memory_keys(module.embed(memory)),
            attend,
        )
        w = weight[rows].to(out.dtype)
        feature_loss = self._feature_loss(out, features.take(rows), sel_num, sel_cat, w)
        target_losses = self._sample_losses(self._target_raw(out), y[rows])
        target_loss = (target_losses * w).sum() / w.sum().clamp_min(1e-12)
        start, end = self._feature_weight_range
        a = feature_loss_weight(
            self._updates / max(self._n_batches, 1), self._horizon_epochs(), start, end
        )
        if module.training:
            self._updates += 1
        if feature_loss is None:
            return target_loss
        return a * feature_loss + (1.0 - a) * target_loss

    def _feature_loss(
        self,
        out: Tensor,
        original: Slots,
        sel_num: Tensor,
        sel_cat: Tensor,
        w: Tensor,
    ) -> Tensor | None:
        """Mean over feature columns of the weighted reconstruction losses."""
        module: Hopular = self.module_
        sums, counts = [], []
        n_num = original.num.shape[1]
        if n_num:
            sel = sel_num.to(out.dtype) * w.unsqueeze(1)
            se = (out[:, :n_num] - original.num) ** 2
            sums.append((se * sel).sum(0))
            counts.append(sel.sum(0))
        first_cat = module.n_numeric
        for j in range(original.cat.shape[1]):
            sel = sel_cat[:, j].to(out.dtype) * w
            if not bool(sel.any()):
                continue
            logits = out[:, module.output_slices[first_cat + j]]
            target = (original.cat[:, j] - 1).clamp_min(0)
            ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
            sums.append((ce * sel).sum().unsqueeze(0))
            counts.append(sel.sum().unsqueeze(0))
        if not sums:
            return None
        total, count = torch.cat(sums), torch.cat(counts)
        present = count > 0
        if not bool(present.any()):
            return None
        return (total[present] / count[present]).mean()

    # ------------------------------------------------------------ prediction
    def _evaluate(self, valid: Batch) -> dict[str, float]:
        """Return validation metrics (the memory's keys recomputed first)."""
        self.module_.memory_cache = None
        try:
            return super()._evaluate(valid)
        finally:
            self.module_.memory_cache = None

    def _memory_rows(self) -> Slots:
        memory = Slots(
            torch.tensor(self.memory_num_),
            torch.tensor(self.memory_flag_),
            torch.tensor(self.memory_cat_),
        )
        n = memory.num.shape[0]
        sampled = self.predict_memory == "sampled" and self.memory_size is not None
        if sampled and self.memory_size < n:
            order = np.random.default_rng(0).permutation(n)[: self.memory_size]
            memory = memory.take(torch.as_tensor(np.sort(order)))
        return memory

    def _memory_keys(self, device: torch.device, dtype: torch.dtype) -> Any:
        """Keys and values of the prediction memory, computed once and cached."""
        module: Hopular = self.module_
        cached = module.memory_cache
        if cached is not None and cached[0] == (device, dtype):
            return cached[1]
        memory = self._memory_rows()
        parts = []
        for start in range(0, memory.num.shape[0], _MEMORY_CHUNK):
            stop = min(start + _MEMORY_CHUNK, memory.num.shape[0])
            chunk = memory.take(torch.arange(start, stop))
            parts.append(module.memory_keys(module.embed(chunk.to(device, dtype))))
        keys = [
            (
                torch.cat([p[b][0] for p in parts], dim=1),
                torch.cat([p[b][1] for p in parts], dim=1),
            )
            for b in range(len(module.blocks))
        ]
        module.memory_cache = ((device, dtype), keys)
        return keys

    def _forward(self, batch: Batch) -> Tensor:
        slots = self._target_slot(self._feature_slots(batch), None)
        memory = self._memory_keys(batch.x_num.device, batch.x_num.dtype)
        return self._target_raw(self.module_(slots, memory))

    def _predict_batch_rows(self) -> int:
        """Return the padded prediction batch: 1,024 rows, fewer for a large memory."""
        n = len(getattr(self, "memory_num_", ()))
        if self.predict_memory == "sampled" and self.memory_size is not None:
            n = min(n, int(self.memory_size))
        rows = _ATTENTION_BUDGET // max(self.n_heads * max(n, 1), 1)
        return int(min(1024, max(16, 2 ** int(np.log2(max(rows, 1))))))


def _duplicate_groups(memory: Slots) -> Tensor:
    """One id per distinct row (features and target): the leave-self-out groups."""
    rows = torch.cat(
        [memory.num, memory.flag, memory.cat.to(memory.num.dtype)], dim=1
    ).cpu()
    _, groups = torch.unique(rows, dim=0, return_inverse=True)
    return groups.to(memory.num.device)


_PARAMETERS_DOC = """
    Parameters
    ----------
    feature_size : int, default=16
        Token width ``e`` of each column (the reference uses 32); a row's state
        has ``D = e * (n_columns + 1)`` values (the target is a column).
    n_blocks : int, default=2
        Hopular blocks (the reference uses 8).
    n_heads : int, default=4
        Heads of both lookups (the reference uses 8).
    sample_head_dim : int, "auto" or "full", default="auto"
        Head width of the lookup over the training set. ``"full"`` is the
        reference's ``D // n_heads`` (parameters quadratic in the number of
        columns); ``"auto"`` caps it at 32 for wide tables.
    scaling_factor : float, default=1.0
        The lookups' inverse temperature is ``scaling_factor / sqrt(head_dim)``.
    input_dropout, lookup_dropout, output_dropout : float, default=0.1, 0.1, 0.01
        Dropout in the embedding, on the attention probabilities, and before
        the head.
    mask_probability : float, default=0.025
        Chance that a known feature entry of a training query is masked (made
        unknown) for the reconstruction loss.
    replace_probability : float, default=0.175
        Chance that it is replaced by a random value (N(0, 1) for numbers, a
        uniform category); otherwise it is kept.
    select_probability : float, default=1.0
        Chance that a known feature entry is in the reconstruction loss at all.
    feature_loss_weight : (float, float), default=(1.0, 0.0)
        Weight ``a`` of the feature-reconstruction loss at the start and at
        the end of the annealing horizon (cosine in between); the target loss
        gets ``1 - a``.
    anneal_epochs : int or None, default=None
        Horizon of both cosine schedules (``a`` and the learning rate); None:
        ``max_epochs``. The reference anneals over 10,000 epochs but trains
        5,000, so that it ends at ``a = 0.5`` and half the learning rate.
    batch_size : int, "auto" or "full", default="auto"
        Query rows per step. ``"auto"``: 64 below 1,024 training rows, else
        256 (on small tables 256-row batches leave an epoch a step or two; on
        larger ones a step's cost is mostly the memory, so larger batches are
        cheaper per row). ``"full"``: one step per epoch on every row (the
        reference).
    memory_size : int or None, default=2048
        Training rows sampled as the memory of each training step (None: all
        of them, the reference). The cost of a step grows with it.
    predict_memory : {"full", "sampled"}, default="full"
        Memory of validation and prediction: every stored training row, or a
        fixed sample of ``memory_size`` of them (faster on large training sets).
    max_epochs : int, default=300
        Epoch limit.
    learning_rate : float, default=1e-3
        Peak learning rate of AdamW (cosine decay over the annealing horizon).
    weight_decay : float, default=0.1
        AdamW weight decay (never on embeddings, norms and biases).
    ema_decay : float or None, default=0.995
        Decay of the exponential moving average of the weights (with a short
        warm-up) that is evaluated and kept; None: the trained weights.
    max_grad_norm : float or None, default=1.0
        Clip the gradient norm of every step.
    eval_every : int, default=1
        Evaluate on the validation rows every this many epochs.
    categorical_features : "auto", array-like or None, default="auto"
        Categorical columns: ``"auto"`` takes pandas ``category``, object and
        string columns; or a list of names / positions, or a boolean mask.{class_weight}
    early_stopping : "auto" or bool, default="auto"
        Keep the weights of the evaluation with the lowest validation loss and
        stop after ``n_iter_no_change`` evaluations without improvement, but
        never before half the annealing horizon (until then the target loss
        has little weight). ``"auto"``: on when ``X_val`` is passed to ``fit``
        or with at least 1,000 rows.
    validation_fraction : float, default=0.1
        Fraction of the training rows held out for early stopping when
        ``X_val`` is not given (they are not in the memory).
    n_iter_no_change : int, default=30
        Evaluations without improvement before stopping.
    tol : float, default=0.0
        Minimum improvement of the validation loss that counts.
    time_budget : float or None, default=None
        Seconds; training stops (with a warning) once exceeded.
    warm_start : bool, default=False
        Continue training the previous network (and encoder) on new rows for
        up to ``max_epochs`` more epochs; the new rows become the memory.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation, the batches, the memory samples, the
        corruption and dropout. The global random state is never changed.
    n_threads : int or None, default=None
        Torch threads during fit and predict (None: leave torch's setting).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network is trained and evaluated.
    verbose : int, default=0
        Show a progress bar and log each epoch.
"""

_CLASS_WEIGHT_DOC = """
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied with ``sample_weight``."""

_NOTES_DOC = """
    Notes
    -----
    **The fitted model stores its training set.** The encoded training rows,
    targets included, are the memory every prediction reads
    (``memory_num_``, ``memory_flag_``, ``memory_cat_``); they are pickled and
    written to model files with it. Rows of weight 0 are left out.

    Each column is a slot: numbers are standardised (mean and deviation of
    the known values) with a flag that marks them unknown (masked, or
    missing: unlike the reference, a missing value is not an observed 0);
    categories are codes, unknown for missing and unseen ones. Training
    queries have their target unknown and their features corrupted; the
    memory of a step is ``memory_size`` sampled training rows, and a query
    never reads its own row or an exact duplicate of it (otherwise it could
    copy its label). Predictions read the whole memory (``predict_memory``)
    in fixed-size chunks, with the memory's keys and values computed once
    after fit; a row's prediction depends only on that row and the memory.

    Optimiser: AdamW rather than the reference's LAMB: LAMB's per-layer trust
    ratio serves the reference's one full-batch step per epoch, while tabkit
    trains on mini-batches, where AdamW is the shared loop's tested, fused
    optimiser; the reference's Lookahead(k=1, alpha=0.005) is the weight
    average of ``ema_decay``.

    Cost per step: ``L * (memory_size * D * H * h)`` for the memory's keys
    and values, plus ``L * batch_size * memory_size * H * h`` for the lookup.
"""


class HopularClassifier(TorchClassifierMixin, _Hopular):
    __doc__ = (
        """Hopular classifier: modern Hopfield lookups over the stored training set.

    The model of Schäfl et al. (2022). Every column, the target included, is
    embedded as a token; each block looks the row up in the stored training
    rows (whose targets are visible) and then lets the row's tokens look up
    its own input; a head predicts every column. Training reconstructs
    corrupted features and predicts the always-hidden target, the weight
    moving from the first to the second by cosine annealing.
"""
        + _PARAMETERS_DOC.replace("{class_weight}", _CLASS_WEIGHT_DOC)
        + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : Hopular
        The network.
    memory_num_, memory_flag_, memory_cat_ : ndarray
        The stored training rows as slots (numeric values, unknown flags,
        category codes), targets included.
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
    HopularRegressor : The same model for regression.
    ExcelFormerClassifier : Attention over features, without a stored memory.
"""
        + _NOTES_DOC
        + """
    References
    ----------
    .. [1] B. Schäfl, L. Gruber, A. Bitto-Nemling, S. Hochreiter. "Hopular:
       Modern Hopfield Networks for Tabular Data", arXiv:2206.00664, 2022.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from tabkit import HopularClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> clf = HopularClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict_proba(X.iloc[:2]).shape, clf.memory_num_.shape
    ((2, 2), (569, 30))
    """
    )

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_Hopular._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        feature_size: int = 16,
        n_blocks: int = 2,
        n_heads: int = 4,
        sample_head_dim: Any = "auto",
        scaling_factor: float = 1.0,
        input_dropout: float = 0.1,
        lookup_dropout: float = 0.1,
        output_dropout: float = 0.01,
        mask_probability: float = 0.025,
        replace_probability: float = 0.175,
        select_probability: float = 1.0,
        feature_loss_weight: Any = (1.0, 0.0),
        anneal_epochs: int | None = None,
        batch_size: Any = "auto",
        memory_size: int | None = 2048,
        predict_memory: str = "full",
        max_epochs: int = 300,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.1,
        ema_decay: float | None = 0.995,
        max_grad_norm: float | None = 1.0,
        eval_every: int = 1,
        categorical_features: Any = "auto",
        class_weight: Any = None,
        early_stopping: Any = "auto",
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 30,
        tol: float = 0.0,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.feature_size = feature_size
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.sample_head_dim = sample_head_dim
        self.scaling_factor = scaling_factor
        self.input_dropout = input_dropout
        self.lookup_dropout = lookup_dropout
        self.output_dropout = output_dropout
        self.mask_probability = mask_probability
        self.replace_probability = replace_probability
        self.select_probability = select_probability
        self.feature_loss_weight = feature_loss_weight
        self.anneal_epochs = anneal_epochs
        self.batch_size = batch_size
        self.memory_size = memory_size
        self.predict_memory = predict_memory
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.max_grad_norm = max_grad_norm
        self.eval_every = eval_every
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


class HopularRegressor(TorchRegressorMixin, _Hopular):
    __doc__ = (
        """Hopular regressor: modern Hopfield lookups over the stored training set.

    The model of Schäfl et al. (2022) for regression, on standardised targets
    (predictions are mapped back). Every column, the target included, is
    embedded as a token; each block looks the row up in the stored training
    rows (whose targets are visible) and then lets the row's tokens look up
    its own input; a head predicts every column. Training reconstructs
    corrupted features and predicts the always-hidden target, the weight
    moving from the first to the second by cosine annealing.
"""
        + _PARAMETERS_DOC.replace("{class_weight}", "")
        + """
    Attributes
    ----------
    module_ : Hopular
        The network.
    memory_num_, memory_flag_, memory_cat_ : ndarray
        The stored training rows as slots (numeric values, unknown flags,
        category codes), standardised targets included.
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
    HopularClassifier : The same model for classification.
    ExcelFormerRegressor : Attention over features, without a stored memory.
"""
        + _NOTES_DOC
        + """
    References
    ----------
    .. [1] B. Schäfl, L. Gruber, A. Bitto-Nemling, S. Hochreiter. "Hopular:
       Modern Hopfield Networks for Tabular Data", arXiv:2206.00664, 2022.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from tabkit import HopularRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = HopularRegressor(max_epochs=20, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.25, reg.predict(X.iloc[:3]).shape
    (True, (3,))
    """
    )

    def __init__(
        self,
        *,
        feature_size: int = 16,
        n_blocks: int = 2,
        n_heads: int = 4,
        sample_head_dim: Any = "auto",
        scaling_factor: float = 1.0,
        input_dropout: float = 0.1,
        lookup_dropout: float = 0.1,
        output_dropout: float = 0.01,
        mask_probability: float = 0.025,
        replace_probability: float = 0.175,
        select_probability: float = 1.0,
        feature_loss_weight: Any = (1.0, 0.0),
        anneal_epochs: int | None = None,
        batch_size: Any = "auto",
        memory_size: int | None = 2048,
        predict_memory: str = "full",
        max_epochs: int = 300,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.1,
        ema_decay: float | None = 0.995,
        max_grad_norm: float | None = 1.0,
        eval_every: int = 1,
        categorical_features: Any = "auto",
        early_stopping: Any = "auto",
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 30,
        tol: float = 0.0,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.feature_size = feature_size
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.sample_head_dim = sample_head_dim
        self.scaling_factor = scaling_factor
        self.input_dropout = input_dropout
        self.lookup_dropout = lookup_dropout
        self.output_dropout = output_dropout
        self.mask_probability = mask_probability
        self.replace_probability = replace_probability
        self.select_probability = select_probability
        self.feature_loss_weight = feature_loss_weight
        self.anneal_epochs = anneal_epochs
        self.batch_size = batch_size
        self.memory_size = memory_size
        self.predict_memory = predict_memory
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.max_grad_norm = max_grad_norm
        self.eval_every = eval_every
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
