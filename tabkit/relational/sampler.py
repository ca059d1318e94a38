# SPDX-License-Identifier: BSD-3-Clause
"""Temporal neighbour sampling on a heterogeneous graph, in plain torch.

PyG's ``NeighborLoader`` needs ``pyg-lib`` (or ``torch-sparse``, which cannot
sample by time) to sample at all; neither can be installed everywhere tabkit
runs. :class:`TemporalNeighborSampler` does the same job with torch operations
only, vectorised over seeds (no Python loop over seeds or neighbourhoods):

* neighbourhoods are stored in CSC form per edge type, each sorted by the time
  of the neighbour's row;
* per seed, hop and edge type, a segmented binary search cuts every
  neighbourhood at the seed's cut-off (a row is visible when its time is
  ``<=`` the cut-off; rows of static tables always are; rows whose time is
  missing never are);
* ``"uniform"`` draws up to ``k`` visible neighbours without replacement,
  ``"last"`` takes the ``k`` most recent;
* each seed gets its own subgraph (*disjoint* sampling, as PyG does whenever it
  samples by time): a node reached from two seeds appears twice, once with each
  seed's cut-off.

:meth:`TemporalNeighborSampler.snapshot` is the no-sampling alternative for
small databases: every seed sharing one cut-off runs on the same graph cut at
that time, with every visible neighbour up to the hop count.

tabkit always uses this sampler, also where ``pyg-lib`` is installed: the
sampled subgraphs then do not depend on which packages a machine happens to
have. Its semantics follow pyg-lib's temporal kernel (inclusive cut-off, time
filter on the sampled side only, only the nodes added at one hop expanded at
the next).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = ["NO_TIME", "EdgeType", "SampledSubgraph", "TemporalNeighborSampler"]

#: Time of a row whose time is missing: never visible (larger than any cut-off).
NO_TIME = torch.iinfo(torch.int64).max

EdgeType = tuple[str, str, str]
Strategy = Literal["uniform", "last"]

#: Above ``_KEY_FACTOR * k`` visible neighbours, "uniform" draws positions and
#: redraws collisions instead of ranking random keys over the whole neighbourhood.
_KEY_FACTOR = 4


@dataclass(frozen=True)
class SampledSubgraph:
    """A sampled (or snapshot) subgraph around a batch of seeds.

    Nodes are numbered locally per node type; ``node[t][i]`` is the row (global
    node id) of local node ``i`` of type ``t``. Every node belongs to one *batch
    entry*: in a sampled subgraph one entry per seed (disjoint subgraphs), in a
    snapshot a single entry shared by every seed.

    Attributes
    ----------
    seed_type : str
        Node type of the seeds.
    seed_index : Tensor
        ``[n_seeds]`` local indices of the seeds in ``node[seed_type]``, in the
        order the seeds were given.
    node : dict of str to Tensor
        ``[n_t]`` global node ids per node type.
    batch : dict of str to Tensor
        ``[n_t]`` batch entry of every node.
    entry_time : Tensor
        ``[n_entries]`` cut-off of every batch entry (int64); the cut-off that
        applies to a node is ``entry_time[batch[t]]``.
    edge_index : dict of EdgeType to Tensor
        ``[2, e]`` local edges per edge type ``(src, rel, dst)``: row 0 indexes
        ``node[src]``, row 1 ``node[dst]``; messages flow from ``src`` to ``dst``.
    edge_id : dict of EdgeType to Tensor
        ``[e]`` position of every sampled edge in the sampler's input
        ``edge_index`` of that type.
    num_sampled_nodes : dict of str to list of int
        Nodes added per hop (hop 0: the seeds).
    num_sampled_edges : dict of EdgeType to list of int
        Edges added per hop (starting at hop 1).
    """

    seed_type: str
    seed_index: Tensor
    node: dict[str, Tensor]
    batch: dict[str, Tensor]
    entry_time: Tensor
    edge_index: dict[EdgeType, Tensor]
    edge_id: dict[EdgeType, Tensor]
    num_sampled_nodes: dict[str, list[int]]
    num_sampled_edges: dict[EdgeType, list[int]]

    def node_cutoff(self, node_type: str) -> Tensor:
        """Return the ``[n_t]`` cut-off that applies to each node of a type."""
        return self.entry_time[self.batch[node_type]]

    @property
    def num_nodes(self) -> int:
        """Total number of nodes over all types."""
        return sum(int(v.numel()) for v in self.node.values())

    @property
    def num_edges(self) -> int:
        """Total number of edges over all types."""
        return sum(int(v.shape[1]) for v in self.edge_index.values())


@dataclass
class _Csc:
    colptr: Tensor  # [n_dst + 1]
    row: Tensor  # [e] source node of every entry, sorted by (dst, source time)
    row_time: Tensor | None  # [e] time of the source row (None: static source)
    edge_id: Tensor  # [e] position in the input edge_index
    max_degree: int


class _NodeSet:
    """The nodes of one type in a subgraph, deduplicated per batch entry."""

    def __init__(self, n_global: int) -> None:
        self.n_global = n_global
        self.keys = torch.empty(0, dtype=torch.long)  # sorted batch * n_global + node
        self.local = torch.empty(0, dtype=torch.long)  # local index of each key
        self.nodes: list[Tensor] = []
        self.batches: list[Tensor] = []
        self.count = 0

    def add(self, node: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        """Map ``(batch, node)`` pairs to local indices, adding the new ones.

        Returns the local index of every pair and the local indices added.
        """
        key = batch * self.n_global + node
        local = torch.empty_like(key)
        pos = torch.searchsorted(self.keys, key)
        found = torch.zeros_like(key, dtype=torch.bool)
        if self.keys.numel():
            hit = pos < self.keys.numel()
            found[hit] = self.keys[pos[hit]] == key[hit]
            local[found] = self.local[pos[found]]
        new_keys, inverse = torch.unique(key[~found], return_inverse=True)
        added = torch.arange(self.count, self.count + new_keys.numel())
        local[~found] = added[inverse]
        if new_keys.numel():
            self.nodes.append(new_keys % self.n_global)
            self.batches.append(new_keys // self.n_global)
            self.count += new_keys.numel()
            keys = torch.cat([self.keys, new_keys])
            order = torch.argsort(keys)
            self.keys = keys[order]
            self.local = torch.cat([self.local, added])[order]
        return local, added

    def node_tensor(self) -> Tensor:
        if not self.nodes:
            return torch.empty(0, dtype=torch.long)
        return torch.cat(self.nodes)

    def batch_tensor(self) -> Tensor:
        if not self.batches:
            return torch.empty(0, dtype=torch.long)
        return torch.cat(self.batches)


class TemporalNeighborSampler:
    """Sample per-seed temporal neighbourhoods of a heterogeneous graph.

    Parameters
    ----------
    edge_index : mapping of EdgeType to Tensor
        ``[2, e]`` int64 edges per edge type ``(src, rel, dst)``; row 0 holds
        source node ids, row 1 destination node ids. Sampling expands a
        destination node by drawing among its sources (messages flow from the
        sampled neighbour to the node that sampled it), so give both directions
        of a foreign key to follow it both ways.
    num_nodes : mapping of str to int
        Number of nodes of every node type.
    node_time : mapping of str to Tensor, optional
        ``[n_t]`` int64 time of every node of the *timed* node types (any
        monotone integer clock, for example nanoseconds since the epoch; a
        missing time is :data:`NO_TIME`, never visible). Node types left out
        are static: always visible.
    num_neighbors : sequence of int or mapping of EdgeType to sequence of int
        Neighbours drawn per node, hop and edge type (``-1``: all of them); its
        length is the number of hops. A mapping gives each edge type its own
        list (same length for all).
    strategy : {"uniform", "last"}, default="uniform"
        ``"uniform"``: up to ``k`` visible neighbours uniformly at random,
        without replacement. ``"last"``: the ``k`` most recent visible ones
        (ties in time broken by the order of ``edge_index``).

    Notes
    -----
    Sampling is vectorised over seeds: per hop and edge type a handful of torch
    operations over all frontier nodes, whatever their number. The cost is
    ``O(frontier * (log(max degree) + k))`` per hop, plus a one-off sort of the
    edges at construction.

    A seed's own node is part of its subgraph whatever its time: choosing
    which entities to predict at a cut-off is the task's job.

    Examples
    --------
    Two customers, five reviews written at times 1..5; customer 0 wrote the
    first three.

    >>> import torch
    >>> from tabkit.relational.sampler import TemporalNeighborSampler
    >>> writes = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 0, 1, 1]])
    >>> sampler = TemporalNeighborSampler(
    ...     {("review", "by", "customer"): writes,
    ...      ("customer", "wrote", "review"): writes.flip(0)},
    ...     num_nodes={"customer": 2, "review": 5},
    ...     node_time={"review": torch.tensor([1, 2, 3, 4, 5])},
    ...     num_neighbors=[2], strategy="last")
    >>> sub = sampler.sample("customer", torch.tensor([0, 0, 1]),
    ...                      torch.tensor([2, 9, 9]))
    >>> sub.node["review"].tolist(), sub.batch["review"].tolist()
    ([0, 1, 1, 2, 3, 4], [0, 0, 1, 1, 2, 2])
    >>> sub.edge_index[("review", "by", "customer")].tolist()
    [[0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 2, 2]]
    """

    def __init__(
        self,
        edge_index: Mapping[EdgeType, Tensor],
        num_nodes: Mapping[str, int],
        node_time: Mapping[str, Tensor] | None = None,
        num_neighbors: Sequence[int] | Mapping[EdgeType, Sequence[int]] = (16, 8),
        strategy: Strategy = "uniform",
    ) -> None:
        if strategy not in ("uniform", "last"):
            raise ValueError(f"strategy must be 'uniform' or 'last', got {strategy!r}")
        self.strategy: Strategy = strategy
        self.num_nodes = {str(t): int(n) for t, n in num_nodes.items()}
        for t, n in self.num_nodes.items():
            if n < 0:
                raise ValueError(f"node type {t!r}: num_nodes must be >= 0, got {n}")
        self.node_time = self._check_times(node_time or {})
        self.edge_types: list[EdgeType] = []
        self._csc: dict[EdgeType, _Csc] = {}
        for given, ei in edge_index.items():
            et = _edge_type(given)
            self.edge_types.append(et)
            self._csc[et] = self._build_csc(et, ei)
        self.num_neighbors = self._check_num_neighbors(num_neighbors)
        self.num_hops = len(next(iter(self.num_neighbors.values()), []))

    # ------------------------------------------------------------------ set-up

    def _check_times(self, node_time: Mapping[str, Tensor]) -> dict[str, Tensor]:
        times = {}
        for t, given in node_time.items():
            if t not in self.num_nodes:
                raise ValueError(f"node_time: unknown node type {t!r}")
            time = _as_long(given)
            if time.dtype != torch.int64 or time.shape != (self.num_nodes[t],):
                raise ValueError(
                    f"node_time[{t!r}]: expected an int64 tensor of shape "
                    f"({self.num_nodes[t]},), got {time.dtype} {tuple(time.shape)}"
                )
            times[t] = time
        return times

    def _build_csc(self, et: EdgeType, ei: Tensor) -> _Csc:
        src, _, dst = et
        for t in (src, dst):
            if t not in self.num_nodes:
                raise ValueError(f"edge type {et}: unknown node type {t!r}")
        ei = _as_long(ei)
        if ei.dim() != 2 or ei.shape[0] != 2 or ei.dtype != torch.int64:
            raise ValueError(
                f"edge type {et}: expected an int64 edge_index of shape [2, e], "
                f"got {ei.dtype} {tuple(ei.shape)}"
            )
        for side, t in ((0, src), (1, dst)):
            ids = ei[side]
            if ids.numel() and (ids.min() < 0 or ids.max() >= self.num_nodes[t]):
                raise ValueError(
                    f"edge type {et}: node ids of {t!r} outside "
                    f"[0, {self.num_nodes[t]})"
                )
        order = torch.arange(ei.shape[1])
        row_time = None
        if src in self.node_time:
            # Stable sorts: by source time first, then by destination, so each
            # neighbourhood ends up sorted by time (ties in input order).
            order = torch.sort(self.node_time[src][ei[0]], stable=True).indices
        order = order[torch.sort(ei[1][order], stable=True).indices]
        row = ei[0][order]
        if src in self.node_time:
            row_time = self.node_time[src][row]
        degree = torch.bincount(ei[1], minlength=self.num_nodes[dst])
        colptr = torch.zeros(self.num_nodes[dst] + 1, dtype=torch.long)
        colptr[1:] = torch.cumsum(degree, 0)
        max_degree = int(degree.max()) if degree.numel() else 0
        return _Csc(colptr, row, row_time, order, max_degree)

    def _check_num_neighbors(
        self, num_neighbors: Sequence[int] | Mapping[EdgeType, Sequence[int]]
    ) -> dict[EdgeType, list[int]]:
        if isinstance(num_neighbors, Mapping):
            given = {_edge_type(et): list(ks) for et, ks in num_neighbors.items()}
            unknown = set(given) - set(self.edge_types)
            if unknown:
                raise ValueError(f"num_neighbors: unknown edge types {sorted(unknown)}")
            missing = set(self.edge_types) - set(given)
            if missing:
                raise ValueError(
                    f"num_neighbors: no entry for edge types {sorted(missing)}"
                )
        else:
            given = {et: list(num_neighbors) for et in self.edge_types}
        lengths = {len(ks) for ks in given.values()}
        if len(lengths) > 1:
            raise ValueError(
                "num_neighbors: every edge type needs the same number of hops, "
                f"got lengths {sorted(lengths)}"
            )
        for et, ks in given.items():
            for k in ks:
                if not isinstance(k, int) or isinstance(k, bool) or k < -1:
                    raise ValueError(
                        f"num_neighbors[{et}]: expected ints >= -1, got {ks}"
                    )
        return given

    # ---------------------------------------------------------------- sampling

    def sample(
        self,
        seed_type: str,
        seed_nodes: Tensor,
        seed_time: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> SampledSubgraph:
        """Sample one disjoint subgraph per seed.

        Parameters
        ----------
        seed_type : str
            Node type of the seeds.
        seed_nodes : Tensor
            ``[n]`` int64 node ids (repeats allowed: a seed per row of the
            seed table).
        seed_time : Tensor, optional
            ``[n]`` int64 cut-off of every seed. Required when the graph has
            timed node types.
        generator : torch.Generator, optional
            Source of randomness for ``"uniform"``.

        Returns
        -------
        SampledSubgraph
            Seeds first (``seed_index`` is ``0 .. n - 1``), one batch entry per
            seed.
        """
        seed_nodes = self._check_seeds(seed_type, seed_nodes)
        n = seed_nodes.numel()
        if seed_time is None:
            if self.node_time:
                raise ValueError(
                    "seed_time is required: the graph has timed node types "
                    f"{sorted(self.node_time)}"
                )
            entry_time = torch.full((n,), NO_TIME - 1, dtype=torch.long)
        else:
            entry_time = self._check_seed_time(seed_time, n)
        return self._expand(
            seed_type,
            seed_nodes,
            torch.arange(n),
            entry_time,
            self.num_neighbors,
            generator,
        )

    def snapshot(
        self, seed_type: str, seed_nodes: Tensor, cutoff: int | None = None
    ) -> SampledSubgraph:
        """Return the graph cut at one cut-off around seeds that share it.

        Every neighbour visible at ``cutoff`` is kept, up to the sampler's
        number of hops, in a single batch entry; no sampling, so the result
        does not depend on randomness. Repeated seeds share one node.

        Parameters
        ----------
        seed_type : str
            Node type of the seeds.
        seed_nodes : Tensor
            ``[n]`` int64 node ids.
        cutoff : int, optional
            The shared cut-off (int64 clock of ``node_time``). Required when
            the graph has timed node types.

        Returns
        -------
        SampledSubgraph
            One batch entry; ``seed_index`` maps each seed to its node.

        Examples
        --------
        >>> import torch
        >>> from tabkit.relational.sampler import TemporalNeighborSampler
        >>> writes = torch.tensor([[0, 1, 2], [0, 0, 1]])
        >>> sampler = TemporalNeighborSampler(
        ...     {("review", "by", "customer"): writes},
        ...     num_nodes={"customer": 2, "review": 3},
        ...     node_time={"review": torch.tensor([1, 2, 3])}, num_neighbors=[1])
        >>> sub = sampler.snapshot("customer", torch.tensor([1, 0, 1]), cutoff=2)
        >>> sub.seed_index.tolist(), sub.node["review"].tolist()
        ([1, 0, 1], [0, 1])
        """
        seed_nodes = self._check_seeds(seed_type, seed_nodes)
        if cutoff is None:
            if self.node_time:
                raise ValueError(
                    "cutoff is required: the graph has timed node types "
                    f"{sorted(self.node_time)}"
                )
            cutoff = NO_TIME - 1
        entry_time = self._check_seed_time(torch.tensor([int(cutoff)]), 1)
        everything = {et: [-1] * self.num_hops for et in self.edge_types}
        return self._expand(
            seed_type,
            seed_nodes,
            torch.zeros_like(seed_nodes),
            entry_time,
            everything,
            None,
        )

    def visible_degree(self, et: EdgeType, node: Tensor, cutoff: Tensor) -> Tensor:
        """Count the sources of every node visible at its cut-off.

        Parameters
        ----------
        et : EdgeType
            ``(src, rel, dst)``; ``node`` are ``dst`` nodes.
        node : Tensor
            ``[n]`` int64 node ids.
        cutoff : Tensor
            ``[n]`` int64 cut-off of every node (ignored when ``src`` is
            static: every source is visible).

        Returns
        -------
        Tensor
            ``[n]`` int64 number of sources with time <= the cut-off: the
            neighbourhood ``sample`` draws from, before any cap.

        Examples
        --------
        >>> import torch
        >>> from tabkit.relational.sampler import TemporalNeighborSampler
        >>> writes = torch.tensor([[0, 1, 2], [0, 0, 1]])
        >>> sampler = TemporalNeighborSampler(
        ...     {("review", "by", "customer"): writes},
        ...     num_nodes={"customer": 2, "review": 3},
        ...     node_time={"review": torch.tensor([1, 2, 3])}, num_neighbors=[1])
        >>> et = ("review", "by", "customer")
        >>> sampler.visible_degree(et, torch.tensor([0, 0, 1]),
        ...                        torch.tensor([1, 5, 2])).tolist()
        [1, 2, 0]
        """
        start, end = _visible(
            self._csc[_edge_type(et)], _as_long(node), _as_long(cutoff)
        )
        return end - start

    def _check_seeds(self, seed_type: str, seed_nodes: Tensor) -> Tensor:
        if seed_type not in self.num_nodes:
            raise ValueError(
                f"unknown seed type {seed_type!r}; node types: {sorted(self.num_nodes)}"
            )
        seeds = _as_long(seed_nodes)
        if seeds.dim() != 1 or seeds.dtype != torch.int64:
            raise ValueError(
                f"seed_nodes: expected a 1-d int64 tensor, got {seeds.dtype} "
                f"{tuple(seeds.shape)}"
            )
        if seeds.numel() and (
            seeds.min() < 0 or seeds.max() >= self.num_nodes[seed_type]
        ):
            raise ValueError(
                f"seed_nodes: ids of {seed_type!r} outside "
                f"[0, {self.num_nodes[seed_type]})"
            )
        return seeds

    @staticmethod
    def _check_seed_time(seed_time: Tensor, n: int) -> Tensor:
        time = _as_long(seed_time)
        if time.dtype != torch.int64 or time.shape != (n,):
            raise ValueError(
                f"seed_time: expected an int64 tensor of shape ({n},), got "
                f"{time.dtype} {tuple(time.shape)}"
            )
        if time.numel() and int(time.max()) >= NO_TIME:
            raise ValueError("seed_time: NO_TIME is not a valid cut-off")
        return time

    def _expand(  # noqa: PLR0917 - private, called twice
        self,
        seed_type: str,
        seed_nodes: Tensor,
        seed_batch: Tensor,
        entry_time: Tensor,
        num_neighbors: Mapping[EdgeType, Sequence[int]],
        generator: torch.Generator | None,
    ) -> SampledSubgraph:
        sets = {t: _NodeSet(n) for t, n in self.num_nodes.items()}
        counts: dict[str, list[int]] = {t: [0] for t in self.num_nodes}
        seed_index, added = sets[seed_type].add(seed_nodes, seed_batch)
        counts[seed_type][0] = added.numel()
        frontier = {seed_type: self._frontier(sets[seed_type], added)}
        rows: dict[EdgeType, list[Tensor]] = {et: [] for et in self.edge_types}
        cols: dict[EdgeType, list[Tensor]] = {et: [] for et in self.edge_types}
        eids: dict[EdgeType, list[Tensor]] = {et: [] for et in self.edge_types}
        edge_counts: dict[EdgeType, list[int]] = {et: [] for et in self.edge_types}
        for hop in range(self.num_hops):
            added_now: dict[str, list[Tensor]] = {}
            for et in self.edge_types:
                src, _, dst = et
                k = num_neighbors[et][hop]
                if dst not in frontier or k == 0:
                    edge_counts[et].append(0)
                    continue
                local_dst, node_dst, batch_dst = frontier[dst]
                seg, pos = self._select(
                    et, node_dst, entry_time[batch_dst], k, generator
                )
                csc = self._csc[et]
                local_src, new = sets[src].add(csc.row[pos], batch_dst[seg])
                rows[et].append(local_src)
                cols[et].append(local_dst[seg])
                eids[et].append(csc.edge_id[pos])
                edge_counts[et].append(pos.numel())
                if new.numel():
                    added_now.setdefault(src, []).append(new)
            for t in self.num_nodes:
                counts[t].append(sum(int(p.numel()) for p in added_now.get(t, [])))
            frontier = {
                t: self._frontier(sets[t], torch.cat(parts))
                for t, parts in added_now.items()
            }
        long0 = torch.empty(0, dtype=torch.long)
        return SampledSubgraph(
            seed_type=seed_type,
            seed_index=seed_index,
            node={t: s.node_tensor() for t, s in sets.items()},
            batch={t: s.batch_tensor() for t, s in sets.items()},
            entry_time=entry_time,
            edge_index={
                et: torch.stack(
                    [
                        torch.cat(rows[et]) if rows[et] else long0,
                        torch.cat(cols[et]) if cols[et] else long0,
                    ]
                )
                for et in self.edge_types
            },
            edge_id={
                et: torch.cat(eids[et]) if eids[et] else long0 for et in self.edge_types
            },
            num_sampled_nodes=counts,
            num_sampled_edges=edge_counts,
        )

    @staticmethod
    def _frontier(nodes: _NodeSet, local: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(local index, global node, batch entry) of the given local nodes."""
        all_nodes = nodes.node_tensor()
        all_batch = nodes.batch_tensor()
        return local, all_nodes[local], all_batch[local]

    def _select(
        self,
        et: EdgeType,
        node: Tensor,
        cutoff: Tensor,
        k: int,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor]:
        """Pick neighbours of every frontier node.

        Returns the frontier index of every pick and its position in the CSC.
        """
        csc = self._csc[et]
        start, end = _visible(csc, node, cutoff)
        degree = end - start
        if k < 0:
            seg, offset = _ranges(degree)
            return seg, start[seg] + offset
        if self.strategy == "last":
            take = degree.clamp(max=k)
            seg, offset = _ranges(take)
            return seg, (end - take)[seg] + offset
        return _uniform(start, degree, k, generator)


def _edge_type(et: object) -> EdgeType:
    if not (
        isinstance(et, tuple) and len(et) == 3 and all(isinstance(p, str) for p in et)
    ):
        raise ValueError(
            f"edge types are (src, relation, dst) string triples, got {et!r}"
        )
    return (et[0], et[1], et[2])


def _as_long(values: object) -> Tensor:
    """Return integers of any width (tensor, array or list) as an int64 tensor.

    Other dtypes are left as they are, for the caller's error to name them.
    """
    tensor = torch.as_tensor(values)
    if tensor.dtype in (torch.int8, torch.uint8, torch.int16, torch.int32):
        return tensor.long()
    return tensor


def _ranges(counts: Tensor) -> tuple[Tensor, Tensor]:
    """Segment index and offset of ``0 .. counts[i] - 1`` for every ``i``.

    >>> seg, off = _ranges(torch.tensor([2, 0, 3]))
    >>> seg.tolist(), off.tolist()
    ([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])
    """
    seg = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    first = torch.cumsum(counts, 0) - counts
    return seg, torch.arange(seg.numel()) - first[seg]


def _visible(csc: _Csc, node: Tensor, cutoff: Tensor) -> tuple[Tensor, Tensor]:
    """CSC range ``[start, end)`` of every node's sources visible at its cut-off."""
    start = csc.colptr[node]
    end = csc.colptr[node + 1]
    if csc.row_time is not None:
        end = _upper_bound(csc.row_time, start, end, cutoff, csc.max_degree)
    return start, end


def _upper_bound(
    values: Tensor, start: Tensor, end: Tensor, bound: Tensor, max_len: int
) -> Tensor:
    """First position in ``[start, end)`` whose value exceeds ``bound``.

    Each segment of ``values`` must be sorted; a segmented binary search with
    one vectorised step per halving.

    >>> v = torch.tensor([1, 3, 3, 7, 2, 4])
    >>> _upper_bound(v, torch.tensor([0, 4, 0]), torch.tensor([4, 6, 0]),
    ...              torch.tensor([3, 9, 5]), 4).tolist()
    [3, 6, 0]
    """
    lo, hi = start.clone(), end.clone()
    last = max(values.numel() - 1, 0)
    for _ in range(max(max_len, 1).bit_length() + 1):
        active = lo < hi
        if not bool(active.any()):
            break
        mid = (lo + hi) // 2
        ok = values[mid.clamp(max=last)] <= bound
        lo = torch.where(active & ok, mid + 1, lo)
        hi = torch.where(active & ~ok, mid, hi)
    return lo


def _uniform(
    start: Tensor, degree: Tensor, k: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Up to ``k`` distinct positions per segment, uniformly at random.

    Every procedure here treats the positions of a segment symmetrically, so
    the chosen set is a uniform ``k``-subset: segments with at most ``k``
    entries are taken whole; up to ``4k`` entries rank random keys; beyond,
    ``k`` positions are drawn and collisions redrawn until none remain.
    """
    segs, poss = [], []
    whole = degree <= k
    idx = whole.nonzero().flatten()
    seg, offset = _ranges(degree[idx])
    segs.append(idx[seg])
    poss.append(start[idx][seg] + offset)

    keyed = (~whole) & (degree <= _KEY_FACTOR * k)
    idx = keyed.nonzero().flatten()
    if idx.numel():
        seg, offset = _ranges(degree[idx])
        keys = torch.rand(seg.numel(), generator=generator, dtype=torch.float64)
        order = torch.argsort(seg.to(torch.float64) + keys)
        seg, offset = seg[order], offset[order]
        first = torch.cumsum(degree[idx], 0) - degree[idx]
        rank = torch.arange(seg.numel()) - first[seg]
        keep = rank < k
        segs.append(idx[seg[keep]])
        poss.append(start[idx][seg[keep]] + offset[keep])

    drawn = degree > _KEY_FACTOR * k
    idx = drawn.nonzero().flatten()
    if idx.numel():
        deg = degree[idx].unsqueeze(1)
        draws = _draw(deg, (idx.numel(), k), generator)
        while True:
            draws = torch.sort(draws, dim=1).values
            dup = torch.zeros_like(draws, dtype=torch.bool)
            dup[:, 1:] = draws[:, 1:] == draws[:, :-1]
            n_dup = int(dup.sum())
            if n_dup == 0:
                break
            rows = dup.nonzero()[:, 0]
            draws[dup] = _draw(deg[rows, 0], (n_dup,), generator)
        segs.append(idx.repeat_interleave(k))
        poss.append((start[idx].unsqueeze(1) + draws).flatten())
    return torch.cat(segs), torch.cat(poss)


def _draw(
    bound: Tensor, shape: tuple[int, ...], generator: torch.Generator | None
) -> Tensor:
    """Integers uniform in ``[0, bound)`` (``bound`` broadcast to ``shape``)."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.minimum((u * bound).long(), bound - 1)
