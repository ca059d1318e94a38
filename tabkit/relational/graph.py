# SPDX-License-Identifier: BSD-3-Clause
"""A database as a temporal heterogeneous graph (torch_geometric ``HeteroData``).

One node type per table and one node per row; one edge type per foreign key,
from the referencing row to the referenced row (``"f2p_<column>"``), and its
reverse (``"rev_f2p_<column>"``), so messages can follow a key both ways;
the node time of every timed table's rows; and the columns of every table
encoded by the shared :class:`~tabkit.preprocessing.TabularEncoder`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from torch_geometric.data import HeteroData

from tabkit._compat import Interval, StrOptions
from tabkit.preprocessing import TabularEncoder
from tabkit.relational._database import Database
from tabkit.relational._estimator import check_schema
from tabkit.relational._features_compute import to_ns
from tabkit.relational._features_plan import describe, fingerprint
from tabkit.relational.sampler import (
    NO_TIME,
    EdgeType,
    SampledSubgraph,
    TemporalNeighborSampler,
)

__all__ = ["GraphBuilder", "counting_edge_types", "edge_types", "subgraph_inputs"]

_DAY_NS = 86_400 * 10**9

logger = logging.getLogger("tabkit.relational.graph")


def edge_types(database: Database) -> list[EdgeType]:
    """Return the edge types of a database's graph, both directions of every key.

    Parameters
    ----------
    database : Database

    Returns
    -------
    list of (str, str, str)
        ``(child, "f2p_<column>", parent)`` and ``(parent, "rev_f2p_<column>",
        child)`` for every foreign key ``child.column -> parent``, in table
        order then column order.

    Examples
    --------
    >>> from tabkit.datasets import make_relational
    >>> from tabkit.relational.graph import edge_types
    >>> db = make_relational(size="tiny").database
    >>> for edge_type in edge_types(db)[:2]:
    ...     print(edge_type)
    ('orders', 'f2p_customer_id', 'customers')
    ('customers', 'rev_f2p_customer_id', 'orders')
    """
    out: list[EdgeType] = []
    for name, table in database.tables.items():
        for column, parent in table.foreign_keys.items():
            out.append((name, f"f2p_{column}", parent))
            out.append((parent, f"rev_f2p_{column}", name))
    return out


class GraphBuilder(BaseEstimator):
    """Turn a :class:`~tabkit.relational.Database` into a temporal graph.

    :meth:`fit` learns one :class:`~tabkit.preprocessing.TabularEncoder` per
    table on the rows visible at a cut-off (so that no statistic of a later
    row enters the model); :meth:`transform` encodes every row of a database
    with the same schema, a newer snapshot included.

    Parameters
    ----------
    numeric : {"standard", "quantile"}, default="quantile"
        Scaling of numeric columns (the encoder's ``numeric``).
    max_categories : int or None, default=64
        Levels kept per categorical column (the most frequent); the others map
        to the unknown code. Text columns are categorical too: free text thus
        keeps its most frequent values only (tabkit embeds no text: that needs
        pretrained models downloaded at run time).
    datetime_features : tuple of str, default=("year", "month", "day", \
"dayofweek", "hour")
        Features derived from datetime columns other than the time column.
        ``"epoch"`` (absolute time) is left out by default: the model sees
        each row's age relative to the cut-off instead.

    Attributes
    ----------
    encoders_ : dict of str to TabularEncoder
        The fitted encoder of every table with feature columns.
    edge_types_ : list of (str, str, str)
        Edge types, as :func:`edge_types`.
    timed_ : list of str
        Tables with a time column.
    fingerprint_ : str
        :meth:`Database.fingerprint` of the fitted database's schema.
    schema_ : dict
        Keys, time column and feature-column kinds of every table; a database
        passed to :meth:`transform` must match them (a schema error names the
        table and column that differ).

    Notes
    -----
    Features are the table's :attr:`~tabkit.relational.Table.feature_columns`:
    keys and the time column are structure, not features. A table without
    feature columns has zero-width blocks. Infinite numbers (a ratio divided by
    zero) are encoded as missing values; the tables are not modified. Rows
    whose foreign key is missing or matches no row get no edge for that key. A
    timed row with a missing time has node time
    :data:`~tabkit.relational.sampler.NO_TIME` and is never visible. Node
    times are int64 nanoseconds (UTC for tz-aware columns).

    Examples
    --------
    >>> from tabkit.datasets import make_relational
    >>> from tabkit.relational.graph import GraphBuilder
    >>> db = make_relational(size="tiny").database
    >>> builder = GraphBuilder().fit(db, until="2022-01-01")
    >>> data = builder.transform(db)
    >>> data["customers"].num_nodes == len(db["customers"])
    True
    >>> data["items"].x_num.dtype, data["products"].x_cat.shape[1]
    (torch.float32, 1)
    >>> "time" in data["orders"], "time" in data["products"]
    (True, False)
    >>> sampler = builder.sampler(data, num_neighbors=[4, 4])
    >>> sampler.num_hops
    2
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "numeric": [StrOptions({"standard", "quantile"})],
        "max_categories": [Interval(Integral, 1, None, closed="left"), None],
        "datetime_features": [tuple, list],
    }

    def __init__(
        self,
        *,
        numeric: Literal["standard", "quantile"] = "quantile",
        max_categories: int | None = 64,
        datetime_features: tuple[str, ...] = (
            "year",
            "month",
            "day",
            "dayofweek",
            "hour",
        ),
    ) -> None:
        self.numeric = numeric
        self.max_categories = max_categories
        self.datetime_features = datetime_features

    def fit(self, database: Database, until: Any = None) -> GraphBuilder:
        """Learn the encoders on the rows visible at ``until``.

        Parameters
        ----------
        database : Database
        until : Timestamp or str, optional
            The last training cut-off. None uses every row (static databases,
            or when no later row may ever be scored).

        Returns
        -------
        self : GraphBuilder
        """
        if not isinstance(database, Database):
            raise TypeError(
                f"database must be a tabkit.relational.Database, got "
                f"{type(database).__name__}"
            )
        database.check_time_columns()
        view = database if until is None else database.upto(until)
        self.encoders_: dict[str, TabularEncoder] = {}
        for name, table in view.tables.items():
            columns = table.feature_columns
            if not columns:
                continue
            frame = _finite(table.df[columns], name)
            if len(frame) == 0:
                logger.info(
                    "table %r: no row visible at %s, no column features", name, until
                )
                continue
            encoder = TabularEncoder(
                numeric=self.numeric,
                categorical="codes",
                max_categories=self.max_categories,
                datetime_features=self.datetime_features,
                random_state=0,
            )
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    encoder.fit(frame)
            except ValueError as error:
                raise ValueError(f"table {name!r}: {error}") from error
            for warning in caught:
                if encoder.dropped_columns_ and "all their values" in str(
                    warning.message
                ):  # nothing to learn from: detail, not a warning
                    logger.info(
                        "table %r: columns %s have no value up to %s and are "
                        "not features",
                        name,
                        encoder.dropped_columns_,
                        until,
                    )
                    continue
                warnings.warn(
                    f"table {name!r}: {warning.message}",
                    warning.category,
                    stacklevel=2,
                )
            self.encoders_[name] = encoder
        self.edge_types_ = edge_types(database)
        self.timed_ = [n for n, t in database.tables.items() if t.time_column]
        self.fingerprint_ = fingerprint(database)
        self.schema_ = {n: describe(t, t.df) for n, t in database.tables.items()}
        self.columns_ = {n: t.feature_columns for n, t in database.tables.items()}
        return self

    def transform(self, database: Database) -> HeteroData:
        """Encode every row and key of ``database`` into a ``HeteroData`` graph.

        Parameters
        ----------
        database : Database
            The fitted database or another snapshot with the same schema.

        Returns
        -------
        HeteroData
            Per table ``num_nodes``, ``x_num`` (float32 ``[n, d_num]``),
            ``x_cat`` (int64 ``[n, d_cat]``; 0 missing, 1 unknown) and, for
            timed tables, ``time`` (int64 ``[n]``); per edge type
            ``edge_index`` (int64 ``[2, e]``).
        """
        if not hasattr(self, "fingerprint_"):
            raise RuntimeError("this GraphBuilder is not fitted yet: call fit first")
        if not isinstance(database, Database):
            raise TypeError(
                f"database must be a tabkit.relational.Database, got "
                f"{type(database).__name__}"
            )
        check_schema(database, self.schema_, self.fingerprint_)
        data = HeteroData()
        for name, table in database.tables.items():
            store = data[name]
            n = len(table)
            store.num_nodes = n
            encoder = self.encoders_.get(name)
            if encoder is None or n == 0:
                widths = (0, 0) if encoder is None else _widths(encoder)
                store.x_num = torch.zeros((n, widths[0]), dtype=torch.float32)
                store.x_cat = torch.zeros((n, widths[1]), dtype=torch.int64)
            else:
                encoded = encoder.encode(_finite(table.df[self.columns_[name]], name))
                store.x_num = torch.from_numpy(np.ascontiguousarray(encoded.x_num))
                store.x_cat = torch.from_numpy(np.ascontiguousarray(encoded.x_cat))
            if table.time_column is not None:
                store.time = torch.from_numpy(to_ns(table.df[table.time_column]))
        for name, table in database.tables.items():
            for column, parent in table.foreign_keys.items():
                child_rows, parent_rows = _key_edges(database, name, column, parent)
                forward = torch.from_numpy(np.stack([child_rows, parent_rows]))
                data[name, f"f2p_{column}", parent].edge_index = forward
                data[parent, f"rev_f2p_{column}", name].edge_index = forward.flip(0)
        return data

    def sampler(
        self,
        data: HeteroData,
        num_neighbors: Any = (16, 8),
        strategy: Literal["uniform", "last"] = "uniform",
    ) -> TemporalNeighborSampler:
        """Return a :class:`TemporalNeighborSampler` over a transformed graph.

        Parameters
        ----------
        data : HeteroData
            The output of :meth:`transform`.
        num_neighbors, strategy
            As :class:`TemporalNeighborSampler`.

        Returns
        -------
        TemporalNeighborSampler
        """
        return TemporalNeighborSampler(
            {et: data[et].edge_index for et in self.edge_types_},
            {t: int(data[t].num_nodes) for t in data.node_types},
            {t: data[t].time for t in self.timed_},
            num_neighbors=num_neighbors,
            strategy=strategy,
        )


def counting_edge_types(types: Sequence[EdgeType]) -> list[EdgeType]:
    """Return the edge types along which a node can have many sources.

    Those of :func:`edge_types` from a referencing (child) row to the row it
    references (``"f2p_<column>"``): a parent's number of visible children
    is worth counting; a child has one parent per key.

    Parameters
    ----------
    types : sequence of (str, str, str)

    Returns
    -------
    list of (str, str, str)

    Examples
    --------
    >>> from tabkit.relational.graph import counting_edge_types
    >>> counting_edge_types([("orders", "f2p_customer_id", "customers"),
    ...                      ("customers", "rev_f2p_customer_id", "orders")])
    [('orders', 'f2p_customer_id', 'customers')]
    """
    return [(str(s), str(r), str(d)) for s, r, d in types if str(r).startswith("f2p_")]


def _widths(encoder: TabularEncoder) -> tuple[int, int]:
    """Widths of an encoder's numeric block and category codes."""
    return len(encoder.num_feature_names_), len(encoder.cat_feature_names_)


def _finite(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return the frame with infinite floats as missing (a copy only if needed).

    Databases hold infinities where a ratio divides by zero (a pitcher's ERA
    without an out); the encoder takes them as missing values.
    """
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)]
    bad = [c for c in floats if np.isinf(frame[c].to_numpy(dtype=float)).any()]
    if not bad:
        return frame
    logger.info("table %r: infinite values of %s taken as missing", table, bad)
    return frame.assign(
        **{c: frame[c].where(~np.isinf(frame[c].to_numpy(dtype=float))) for c in bad}
    )


def _key_edges(
    database: Database, child: str, column: str, parent: str
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of (child row, parent row) for every matched key value."""
    parent_table = database[parent]
    index = pd.Index(parent_table.df[parent_table.primary_key])
    values = database[child].df[column]
    positions = np.asarray(index.get_indexer(values), dtype=np.int64)
    matched = positions >= 0
    return np.flatnonzero(matched).astype(np.int64), positions[matched]


def subgraph_inputs(
    data: HeteroData,
    sub: SampledSubgraph,
    sampler: TemporalNeighborSampler | None = None,
    degree_edge_types: Sequence[EdgeType] = (),
) -> dict[str, Any]:
    """Gather a sampled subgraph's model inputs from the full graph.

    Parameters
    ----------
    data : HeteroData
        The output of :meth:`GraphBuilder.transform`.
    sub : SampledSubgraph
        A sample (or snapshot) of that graph.
    sampler : TemporalNeighborSampler, optional
        The sampler that drew ``sub``; required with ``degree_edge_types``.
    degree_edge_types : sequence of (str, str, str), default=()
        Given, the inputs also hold ``degree``: per destination node type,
        ``log1p`` of every node's number of visible sources along each of
        these edge types (float32, ``[n_t, n_edge_types]`` in the order
        given), counted at the node's cut-off and before any sampling cap, so
        that a model can count rows it was not shown (a customer's orders so
        far) without seeing the future. See :func:`counting_edge_types`.

    Returns
    -------
    dict
        Keyword arguments of :class:`tabkit.nn.relational.RelationalGNN`'s
        ``forward``: ``x_num``, ``x_cat`` (rows of every node), ``age_days``
        (float32 days from each timed node's time to its cut-off; a node newer
        than its cut-off, only ever a seed's own row, gets a negative age, and
        a seed whose row has no time gets age 0),
        ``edge_index`` and ``seed_index``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.datasets import make_relational
    >>> from tabkit.relational.graph import GraphBuilder, subgraph_inputs
    >>> db = make_relational(size="tiny").database
    >>> builder = GraphBuilder().fit(db)
    >>> data = builder.transform(db)
    >>> sub = builder.sampler(data, [4]).sample(
    ...     "customers", torch.tensor([0, 1]), data["orders"].time[:2])
    >>> inputs = subgraph_inputs(data, sub)
    >>> sorted(inputs), bool((inputs["age_days"]["orders"] >= 0).all())
    (['age_days', 'edge_index', 'seed_index', 'x_cat', 'x_num'], True)
    """
    x_num, x_cat, age = {}, {}, {}
    for t, nodes in sub.node.items():
        x_num[t] = data[t].x_num[nodes]
        x_cat[t] = data[t].x_cat[nodes]
        if "time" in data[t]:
            time = data[t].time[nodes]
            known = time != NO_TIME  # only a seed's own row can lack a time
            diff = torch.where(known, sub.node_cutoff(t) - time, 0)
            age[t] = (diff // _DAY_NS).to(torch.float32) + (diff % _DAY_NS).to(
                torch.float32
            ) / _DAY_NS
    inputs = {
        "x_num": x_num,
        "x_cat": x_cat,
        "age_days": age,
        "edge_index": dict(sub.edge_index),
        "seed_index": sub.seed_index,
    }
    if degree_edge_types:
        if sampler is None:
            raise ValueError("degree_edge_types needs the sampler that drew sub")
        by_type: dict[str, list[EdgeType]] = {}
        for et in degree_edge_types:
            by_type.setdefault(et[2], []).append(et)
        inputs["degree"] = {
            t: torch.stack(
                [
                    torch.log1p(
                        sampler.visible_degree(
                            et, sub.node[t], sub.node_cutoff(t)
                        ).float()
                    )
                    for et in types
                ],
                dim=1,
            )
            for t, types in by_type.items()
        }
    return inputs
