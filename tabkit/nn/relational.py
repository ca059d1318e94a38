# SPDX-License-Identifier: BSD-3-Clause
"""The relational GNN: per-table column encoders, relative time, hetero GraphSAGE.

RelBench's RDL model (Robinson et al., 2024) on tabkit's encoded tables:

1. each table's encoded columns (``x_num`` floats, ``x_cat`` codes from the
   shared :class:`~tabkit.preprocessing.TabularEncoder`) become one vector of
   ``channels`` per row (:class:`TableEncoder`);
2. each row of a timed table gets the sinusoidal encoding of its age at the
   seed's cut-off, in days, through a linear layer, added to its vector
   (:class:`RelativeTimeEncoder`);
3. ``n_layers`` heterogeneous GraphSAGE layers (one ``SAGEConv`` per edge
   type, summed per destination type), each followed by a per-node
   ``LayerNorm`` and ReLU;
4. a linear head on the seeds' vectors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv

__all__ = ["RelationalGNN", "RelativeTimeEncoder", "TableEncoder"]

EdgeType = tuple[str, str, str]


class TableEncoder(nn.Module):
    """Encode one table's rows into ``channels``-wide vectors.

    Numeric features go through one linear layer, each categorical column
    through its own embedding (code 0 = missing and 1 = unknown have rows of
    their own); the sum, plus a learned constant (so that a table without
    features still has a vector), passes ``n_layers`` residual blocks
    ``x + Linear(ReLU(LayerNorm(x)))``.

    Parameters
    ----------
    d_num : int
        Width of ``x_num``.
    cardinalities : sequence of int
        Codes per categorical column (``x_cat`` column ``j`` holds codes in
        ``[0, cardinalities[j])``).
    channels : int
        Output width.
    n_layers : int, default=1
        Residual blocks after the sum.

    Shape
    -----
    - ``x_num``: ``(n, d_num)`` float; ``x_cat``: ``(n, len(cardinalities))``
      int64; output ``(n, channels)``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.relational import TableEncoder
    >>> enc = TableEncoder(d_num=3, cardinalities=[5], channels=8)
    >>> enc(torch.randn(4, 3), torch.tensor([[0], [1], [2], [4]])).shape
    torch.Size([4, 8])
    """

    def __init__(
        self, d_num: int, cardinalities: Sequence[int], channels: int, n_layers: int = 1
    ) -> None:
        super().__init__()
        self.d_num = int(d_num)
        self.cardinalities = [int(c) for c in cardinalities]
        self.channels = int(channels)
        self.n_layers = int(n_layers)
        self.numeric = nn.Linear(self.d_num, self.channels) if self.d_num else None
        self.embeddings = nn.ModuleList(
            nn.Embedding(c, self.channels) for c in self.cardinalities
        )
        self.constant = nn.Parameter(torch.empty(self.channels))
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(self.channels),
                nn.ReLU(),
                nn.Linear(self.channels, self.channels),
            )
            for _ in range(self.n_layers)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every weight."""
        if self.numeric is not None:
            self.numeric.reset_parameters()
        for emb in self.embeddings:
            assert isinstance(emb, nn.Embedding)
            nn.init.normal_(emb.weight, std=1.0 / math.sqrt(self.channels))
        nn.init.zeros_(self.constant)
        for module in self.blocks.modules():
            if isinstance(module, nn.LayerNorm | nn.Linear):
                module.reset_parameters()

    def forward(self, x_num: Tensor, x_cat: Tensor) -> Tensor:
        """Encode rows; see the class docstring for shapes."""
        n = x_num.shape[0] if x_num.dim() == 2 else x_cat.shape[0]
        h = self.constant.expand(n, -1)
        if self.numeric is not None:
            h = h + self.numeric(x_num)
        for j, emb in enumerate(self.embeddings):
            h = h + emb(x_cat[:, j])
        for block in self.blocks:
            h = h + block(h)
        return h


class RelativeTimeEncoder(nn.Module):
    """Encode a row's age at its seed's cut-off (in days).

    ``channels // 2`` sine and cosine pairs at geometrically spaced periods
    from 1 day to about 10,000 days, then a linear layer. Ages are clamped at
    0 (a seed's own row may be newer than its cut-off).

    Parameters
    ----------
    channels : int
        Output width (even).

    Shape
    -----
    - ``age_days``: ``(n,)`` float; output ``(n, channels)``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.relational import RelativeTimeEncoder
    >>> RelativeTimeEncoder(8)(torch.tensor([0.0, 3.5])).shape
    torch.Size([2, 8])
    """

    frequency: Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"channels must be even, got {channels=}")
        self.channels = int(channels)
        half = self.channels // 2
        periods = torch.logspace(0, 4, half, dtype=torch.float32)
        self.register_buffer("frequency", 2 * math.pi / periods, persistent=False)
        self.linear = nn.Linear(self.channels, self.channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the linear layer."""
        self.linear.reset_parameters()

    def forward(self, age_days: Tensor) -> Tensor:
        """Encode ages; see the class docstring for shapes."""
        angle = age_days.clamp(min=0).unsqueeze(1) * self.frequency
        out: Tensor = self.linear(torch.cat([angle.sin(), angle.cos()], dim=1))
        return out


class RelationalGNN(nn.Module):
    """Per-table encoders, relative time, heterogeneous GraphSAGE and a head.

    Parameters
    ----------
    tables : mapping of str to dict
        Per node type ``{"d_num": int, "cardinalities": [int, ...], "timed":
        bool}`` and optionally ``"d_degree": int`` (width of its ``degree``
        input, default 0).
    edge_types : sequence of (str, str, str)
        Edge types ``(src, rel, dst)``; messages flow from ``src`` to ``dst``.
    entity : str
        Node type of the seeds.
    d_out : int
        Outputs per seed (1 for binary or regression, classes for multiclass).
    channels : int, default=64
        Width of every node vector.
    n_layers : int, default=2
        GraphSAGE layers (hops a seed's prediction can see).
    encoder_layers : int, default=1
        Residual blocks of each :class:`TableEncoder`.
    aggr : {"sum", "mean", "max"}, default="sum"
        Neighbour aggregation within an edge type; edge types are summed.
    dropout : float, default=0.0
        Dropout before the head.

    Shape
    -----
    ``forward(x_num, x_cat, age_days, edge_index, seed_index, *, degree=None)``:

    - ``x_num[t]``: ``(n_t, d_num_t)``, ``x_cat[t]``: ``(n_t, d_cat_t)``;
    - ``age_days[t]``: ``(n_t,)`` for timed types (see
      :func:`tabkit.relational.graph.subgraph_inputs`);
    - ``edge_index[et]``: ``(2, e)`` local indices;
    - ``seed_index``: ``(n_seeds,)`` local indices into the ``entity`` nodes;
    - ``degree[t]``: ``(n_t, d_degree_t)`` for types with ``d_degree > 0``
      (counts of visible neighbours, see
      :func:`tabkit.relational.graph.subgraph_inputs`), encoded with the
      numeric columns;
    - output: ``(n_seeds, d_out)``.

    Examples
    --------
    >>> import torch
    >>> from tabkit.nn.relational import RelationalGNN
    >>> tables = {"customer": {"d_num": 2, "cardinalities": [], "timed": False},
    ...           "order": {"d_num": 1, "cardinalities": [4], "timed": True}}
    >>> edges = [("order", "f2p_cid", "customer"), ("customer", "rev_f2p_cid", "order")]
    >>> model = RelationalGNN(tables, edges, entity="customer", d_out=1, channels=8)
    >>> ei = torch.tensor([[0, 1, 2], [0, 0, 1]])
    >>> out = model(
    ...     {"customer": torch.randn(2, 2), "order": torch.randn(3, 1)},
    ...     {"customer": torch.zeros(2, 0, dtype=torch.long),
    ...      "order": torch.tensor([[2], [3], [0]])},
    ...     {"order": torch.tensor([1.0, 10.0, 3.0])},
    ...     {edges[0]: ei, edges[1]: ei.flip(0)},
    ...     torch.tensor([0, 1]))
    >>> out.shape
    torch.Size([2, 1])
    """

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, Any]],
        edge_types: Sequence[Sequence[str]],
        entity: str,
        d_out: int,
        *,
        channels: int = 64,
        n_layers: int = 2,
        encoder_layers: int = 1,
        aggr: str = "sum",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, Any]] = {
            str(t): {
                "d_num": int(spec["d_num"]),
                "cardinalities": [int(c) for c in spec["cardinalities"]],
                "timed": bool(spec["timed"]),
                "d_degree": int(spec.get("d_degree", 0)),
            }
            for t, spec in tables.items()
        }
        self.edge_types: list[EdgeType] = [
            (str(s), str(r), str(d)) for s, r, d in edge_types
        ]
        if entity not in self.tables:
            raise ValueError(
                f"entity {entity!r} is not among the tables {sorted(self.tables)}"
            )
        for et in self.edge_types:
            for t in (et[0], et[2]):
                if t not in self.tables:
                    raise ValueError(f"edge type {et}: unknown node type {t!r}")
        if aggr not in ("sum", "mean", "max"):
            raise ValueError(f"aggr must be 'sum', 'mean' or 'max', got {aggr!r}")
        self.entity = str(entity)
        self.d_out = int(d_out)
        self.channels = int(channels)
        self.n_layers = int(n_layers)
        self.encoder_layers = int(encoder_layers)
        self.aggr = aggr
        self.dropout = float(dropout)
        # Modules are keyed by position ("n0", "r0"): table and column names
        # may clash with Module attributes ("items") or hold dots.
        self._node_key = {t: f"n{i}" for i, t in enumerate(self.tables)}
        self._edge_key = {
            et: (self._node_key[et[0]], f"r{j}", self._node_key[et[2]])
            for j, et in enumerate(self.edge_types)
        }
        self.encoders = nn.ModuleDict(
            {
                self._node_key[t]: TableEncoder(
                    spec["d_num"] + spec["d_degree"],
                    spec["cardinalities"],
                    self.channels,
                    self.encoder_layers,
                )
                for t, spec in self.tables.items()
            }
        )
        self.time_encoders = nn.ModuleDict(
            {
                self._node_key[t]: RelativeTimeEncoder(self.channels)
                for t, spec in self.tables.items()
                if spec["timed"]
            }
        )
        self.convs = nn.ModuleList(
            HeteroConv(
                {
                    key: SAGEConv(
                        (self.channels, self.channels), self.channels, aggr=aggr
                    )
                    for key in self._edge_key.values()
                },
                aggr="sum",
            )
            for _ in range(self.n_layers)
        )
        self.norms = nn.ModuleList(
            nn.ModuleDict(
                {key: nn.LayerNorm(self.channels) for key in self._node_key.values()}
            )
            for _ in range(self.n_layers)
        )
        self.head = nn.Sequential(
            nn.Dropout(self.dropout), nn.Linear(self.channels, self.d_out)
        )
        self.reset_parameters()

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this module (JSON-able).

        Returns
        -------
        config : dict
            Keyword arguments for ``RelationalGNN(**config)``.
        """
        return {
            "tables": {t: dict(spec) for t, spec in self.tables.items()},
            "edge_types": [list(et) for et in self.edge_types],
            "entity": self.entity,
            "d_out": self.d_out,
            "channels": self.channels,
            "n_layers": self.n_layers,
            "encoder_layers": self.encoder_layers,
            "aggr": self.aggr,
            "dropout": self.dropout,
        }

    def _numeric(
        self, t: str, x_num: Tensor, degree: Mapping[str, Tensor] | None
    ) -> Tensor:
        """Return a node type's numeric columns followed by its degree features."""
        if not self.tables[t]["d_degree"]:
            return x_num
        if degree is None or t not in degree:
            raise ValueError(
                f"node type {t!r} was built with d_degree="
                f"{self.tables[t]['d_degree']}: pass its degree features"
            )
        return torch.cat([x_num, degree[t]], dim=1)

    def reset_parameters(self) -> None:
        """Re-initialise every weight."""
        for module in self.modules():
            if module is not self and isinstance(
                module,
                TableEncoder
                | RelativeTimeEncoder
                | HeteroConv
                | nn.LayerNorm
                | nn.Linear,
            ):
                module.reset_parameters()

    def forward(
        self,
        x_num: Mapping[str, Tensor],
        x_cat: Mapping[str, Tensor],
        age_days: Mapping[str, Tensor],
        edge_index: Mapping[EdgeType, Tensor],
        seed_index: Tensor,
        *,
        degree: Mapping[str, Tensor] | None = None,
    ) -> Tensor:
        """Predict for the seeds; see the class docstring for shapes."""
        h = {
            key: self.encoders[key](self._numeric(t, x_num[t], degree), x_cat[t])
            for t, key in self._node_key.items()
            if t in x_num
        }
        for t, key in self._node_key.items():
            if key in self.time_encoders and key in h:
                h[key] = h[key] + self.time_encoders[key](age_days[t])
        edges = {self._edge_key[et]: ei for et, ei in edge_index.items() if ei.numel()}
        for conv, norms in zip(self.convs, self.norms, strict=True):
            assert isinstance(norms, nn.ModuleDict)
            messages: dict[str, Tensor] = conv(h, edges) if edges else {}
            # A type that receives no message this batch keeps its vector.
            h = {k: torch.relu(norms[k](messages.get(k, x))) for k, x in h.items()}
        pred: Tensor = self.head(h[self._node_key[self.entity]][seed_index])
        return pred
