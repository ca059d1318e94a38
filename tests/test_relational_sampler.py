# SPDX-License-Identifier: BSD-3-Clause
"""The temporal neighbour sampler against a brute-force reference."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch
from scipy import stats

from tabkit.relational.sampler import NO_TIME, TemporalNeighborSampler

BY = ("review", "by", "customer")
WROTE = ("customer", "wrote", "review")
OF = ("review", "of", "product")
HAS = ("product", "has", "review")


def _shop(
    seed: int = 0, n_customers: int = 12, n_products: int = 6, n_reviews: int = 90
):
    """A random customer / product / review graph; some review times missing."""
    g = torch.Generator().manual_seed(seed)
    customer = torch.randint(0, n_customers, (n_reviews,), generator=g)
    # Zipf-like popularity: a few products get most reviews.
    weights = 1.0 / torch.arange(1, n_products + 1, dtype=torch.float64)
    product = torch.multinomial(weights, n_reviews, replacement=True, generator=g)
    time = torch.randint(0, 20, (n_reviews,), generator=g)
    time[torch.rand(n_reviews, generator=g) < 0.1] = NO_TIME
    review = torch.arange(n_reviews)
    edges = {
        BY: torch.stack([review, customer]),
        WROTE: torch.stack([customer, review]),
        OF: torch.stack([review, product]),
        HAS: torch.stack([product, review]),
    }
    num_nodes = {"customer": n_customers, "product": n_products, "review": n_reviews}
    return edges, num_nodes, {"review": time}


def _reference(edges, node_time, seed_type, seeds, cutoffs, num_neighbors, strategy):  # noqa: PLR0917
    """Per seed, nodes and edges by breadth-first search in plain Python."""
    out = []
    for seed, cutoff in zip(seeds.tolist(), cutoffs.tolist(), strict=True):
        nodes = {(seed_type, seed)}
        frontier = {seed_type: [seed]}
        sampled_edges = []
        for hop in range(len(num_neighbors)):
            new: dict[str, list[int]] = {}
            for et, ei in edges.items():
                src, _, dst = et
                for u in frontier.get(dst, []):
                    cands = []
                    for j in range(ei.shape[1]):
                        if int(ei[1, j]) != u:
                            continue
                        s = int(ei[0, j])
                        t = int(node_time[src][s]) if src in node_time else None
                        if t is None or t <= cutoff:
                            cands.append((-1 if t is None else t, j, s))
                    cands.sort()
                    k = num_neighbors[hop]
                    if k >= 0 and strategy == "last":
                        cands = cands[len(cands) - min(k, len(cands)) :]
                    for _, j, s in cands:
                        sampled_edges.append((et, s, u, j))
                        if (src, s) not in nodes:
                            nodes.add((src, s))
                            new.setdefault(src, []).append(s)
            frontier = new
        out.append((nodes, Counter(sampled_edges)))
    return out


def _per_seed(sub, n_seeds):
    """Split a sampled subgraph into per-seed node sets and edge multisets."""
    nodes = [set() for _ in range(n_seeds)]
    edges = [Counter() for _ in range(n_seeds)]
    for t, ids in sub.node.items():
        for node, b in zip(ids.tolist(), sub.batch[t].tolist(), strict=True):
            nodes[b].add((t, node))
    for et, ei in sub.edge_index.items():
        src, _, dst = et
        for r, c, j in zip(
            ei[0].tolist(), ei[1].tolist(), sub.edge_id[et].tolist(), strict=True
        ):
            b = int(sub.batch[src][r])
            assert b == int(sub.batch[dst][c]), "an edge joins two seeds' subgraphs"
            edges[b][(et, int(sub.node[src][r]), int(sub.node[dst][c]), j)] += 1
    return nodes, edges


def _seeds(n_customers, n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randint(0, n_customers, (n,), generator=g),
        torch.randint(0, 22, (n,), generator=g),
    )


def _violations(sub, node_time):
    bad = 0
    for t, time in node_time.items():
        cut = sub.node_cutoff(t)
        keep = torch.ones_like(cut, dtype=torch.bool)
        if t == sub.seed_type:
            keep[sub.seed_index] = False
        bad += int((time[sub.node[t]][keep] > cut[keep]).sum())
    return bad


@pytest.mark.parametrize("hops", [[2], [3, 2], [2, 2, 2]])
def test_last_matches_brute_force(hops):
    edges, num_nodes, node_time = _shop()
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, hops, "last")
    seeds, cutoffs = _seeds(num_nodes["customer"], 40)
    sub = sampler.sample("customer", seeds, cutoffs)
    assert sub.seed_index.tolist() == list(range(40))
    assert sub.node["customer"][sub.seed_index].tolist() == seeds.tolist()
    got_nodes, got_edges = _per_seed(sub, 40)
    want = _reference(edges, node_time, "customer", seeds, cutoffs, hops, "last")
    for i, (nodes, edge_counts) in enumerate(want):
        assert got_nodes[i] == nodes, f"seed {i}"
        assert got_edges[i] == edge_counts, f"seed {i}"
    assert _violations(sub, node_time) == 0


@pytest.mark.parametrize("strategy", ["uniform", "last"])
def test_all_neighbours_match_brute_force(strategy):
    edges, num_nodes, node_time = _shop(seed=3)
    for hops in ([-1, -1], [100, 100]):
        sampler = TemporalNeighborSampler(edges, num_nodes, node_time, hops, strategy)
        seeds, cutoffs = _seeds(num_nodes["customer"], 25, seed=4)
        sub = sampler.sample("customer", seeds, cutoffs)
        got_nodes, got_edges = _per_seed(sub, 25)
        want = _reference(
            edges, node_time, "customer", seeds, cutoffs, [-1, -1], "last"
        )
        assert got_nodes == [w[0] for w in want]
        assert got_edges == [w[1] for w in want]


@pytest.mark.parametrize("k", [1, 3, 8])
def test_uniform_draws_valid_distinct_neighbours(k):
    """Hop 1: min(k, visible) distinct visible neighbours; no future rows."""
    edges, num_nodes, node_time = _shop(seed=5, n_customers=4, n_reviews=200)
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, [k, k], "uniform")
    seeds, cutoffs = _seeds(num_nodes["customer"], 300, seed=6)
    sub = sampler.sample(
        "customer", seeds, cutoffs, generator=torch.Generator().manual_seed(0)
    )
    assert _violations(sub, node_time) == 0
    _, got_edges = _per_seed(sub, 300)
    full = _reference(edges, node_time, "customer", seeds, cutoffs, [-1], "last")
    for i in range(300):
        visible = {key[3] for key in full[i][1]}
        hop1 = [key[3] for key in got_edges[i].elements() if key[0] == BY]
        assert len(hop1) == len(set(hop1)) == min(k, len(visible))
        assert set(hop1) <= visible
    # Hop 2 is checked on the whole batch: no duplicate edge per seed.
    for counts in got_edges:
        assert max(counts.values(), default=1) == 1


def _subset_counts(sampler, customer, cutoff, n, seed):
    seeds = torch.full((n,), customer)
    sub = sampler.sample(
        "customer",
        seeds,
        torch.full((n,), cutoff),
        generator=torch.Generator().manual_seed(seed),
    )
    ei = sub.edge_index[BY]
    reviews = sub.node["review"][ei[0]]
    batch = sub.batch["customer"][ei[1]]
    per_seed: dict[int, list[int]] = {}
    for b, r in zip(batch.tolist(), reviews.tolist(), strict=True):
        per_seed.setdefault(b, []).append(r)
    return Counter(tuple(sorted(v)) for v in per_seed.values())


@pytest.mark.parametrize(
    ("degree", "k", "cutoff", "visible"),
    [
        (5, 2, 100, 5),  # random keys over the neighbourhood
        (13, 3, 100, 13),  # draws with collisions redrawn
        (20, 2, 9, 10),  # cut at the seed's time first
    ],
)
def test_uniform_is_uniform_over_subsets(degree, k, cutoff, visible):
    """Chi-square over every k-subset of the visible neighbours (>= 10,000 draws)."""
    time = torch.arange(degree)
    review = torch.arange(degree)
    edges = {BY: torch.stack([review, torch.zeros(degree, dtype=torch.long)])}
    sampler = TemporalNeighborSampler(
        edges, {"customer": 1, "review": degree}, {"review": time}, [k], "uniform"
    )
    n = 20_000
    counts = _subset_counts(sampler, 0, cutoff, n, seed=11)
    cells = list(itertools.combinations(range(visible), k))
    assert set(counts) <= set(cells)
    observed = [counts.get(c, 0) for c in cells]
    assert sum(observed) == n
    p = stats.chisquare(observed).pvalue
    assert p > 1e-3, p


def test_deterministic_given_generator():
    edges, num_nodes, node_time = _shop(seed=7)
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, [3, 2])
    seeds, cutoffs = _seeds(num_nodes["customer"], 50)
    a = sampler.sample(
        "customer", seeds, cutoffs, generator=torch.Generator().manual_seed(4)
    )
    b = sampler.sample(
        "customer", seeds, cutoffs, generator=torch.Generator().manual_seed(4)
    )
    for t in a.node:
        assert torch.equal(a.node[t], b.node[t])
    for et in a.edge_index:
        assert torch.equal(a.edge_index[et], b.edge_index[et])


def test_missing_times_are_never_visible():
    edges, num_nodes, node_time = _shop(seed=8)
    missing = set((node_time["review"] == NO_TIME).nonzero().flatten().tolist())
    assert missing
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, [-1, -1])
    n = num_nodes["customer"]
    sub = sampler.sample("customer", torch.arange(n), torch.full((n,), NO_TIME - 1))
    assert not missing & set(sub.node["review"].tolist())


def test_snapshot_is_multi_source_bfs_over_visible_rows():
    edges, num_nodes, node_time = _shop(seed=9)
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, [2, 2, 2])
    seeds = torch.tensor([3, 1, 3, 7])
    cutoff = 10
    sub = sampler.snapshot("customer", seeds, cutoff)
    assert sub.node["customer"][sub.seed_index].tolist() == seeds.tolist()
    assert set(sub.batch["review"].tolist()) <= {0}
    visible = {
        (t, s)
        for t in num_nodes
        for s in range(num_nodes[t])
        if t not in node_time or int(node_time[t][s]) <= cutoff
    }
    # Breadth-first search from all seeds at once, three hops.
    reached = {("customer", s) for s in seeds.tolist()}
    frontier = set(reached)
    for _ in range(3):
        nxt = set()
        for (src, _, dst), ei in edges.items():
            for s, u in zip(ei[0].tolist(), ei[1].tolist(), strict=True):
                if (
                    (dst, u) in frontier
                    and (src, s) in visible
                    and (src, s) not in reached
                ):
                    nxt.add((src, s))
        reached |= nxt
        frontier = nxt
    got = {(t, s) for t, ids in sub.node.items() for s in ids.tolist()}
    assert got == reached
    # Every visible edge into a node expanded before the last hop is present.
    assert _violations(sub, node_time) == 0


def test_static_graph_needs_no_time():
    edges = {("a", "to", "b"): torch.tensor([[0, 1, 2], [0, 0, 1]])}
    sampler = TemporalNeighborSampler(edges, {"a": 3, "b": 2}, num_neighbors=[-1])
    sub = sampler.sample("b", torch.tensor([0, 1]))
    assert sub.node["a"].tolist() == [0, 1, 2]
    assert sub.num_sampled_nodes == {"a": [0, 3], "b": [2, 0]}
    assert sub.num_sampled_edges == {("a", "to", "b"): [3]}


def test_empty_seeds_and_isolated_nodes():
    edges, num_nodes, node_time = _shop()
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, [4, 4])
    empty = torch.empty(0, dtype=torch.long)
    sub = sampler.sample("customer", empty, empty)
    assert sub.num_nodes == 0 and sub.num_edges == 0
    lonely = TemporalNeighborSampler(
        {BY: torch.empty((2, 0), dtype=torch.long)},
        {"customer": 2, "review": 0},
        {"review": torch.empty(0, dtype=torch.long)},
        [3],
    )
    sub = lonely.sample("customer", torch.tensor([0, 1]), torch.tensor([5, 5]))
    assert sub.node["customer"].tolist() == [0, 1] and sub.num_edges == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"edge_index": {BY: torch.tensor([[0.0], [0.0]])}}, "int64 edge_index"),
        ({"edge_index": {BY: torch.tensor([[0], [9]])}}, "node ids of 'customer'"),
        (
            {"edge_index": {("x", "to", "customer"): torch.tensor([[0], [0]])}},
            "unknown node type 'x'",
        ),
        ({"node_time": {"review": torch.zeros(3)}}, r"node_time\['review'\]"),
        (
            {
                "num_neighbors": {BY: [2]},
                "edge_index": {
                    BY: torch.tensor([[0], [0]]),
                    OF: torch.tensor([[0], [0]]),
                },
            },
            "no entry for edge types",
        ),
        ({"num_neighbors": [2, -3]}, "ints >= -1"),
        ({"strategy": "random"}, "strategy must be"),
    ],
)
def test_bad_construction_is_named(kwargs, match):
    args = {
        "edge_index": {BY: torch.tensor([[0], [0]])},
        "num_nodes": {"customer": 2, "review": 2, "product": 1},
        "node_time": {"review": torch.tensor([1, 2])},
        "num_neighbors": [2],
        "strategy": "uniform",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        TemporalNeighborSampler(**args)


def test_bad_seeds_are_named():
    edges, num_nodes, node_time = _shop()
    sampler = TemporalNeighborSampler(edges, num_nodes, node_time, [2])
    with pytest.raises(ValueError, match="unknown seed type 'shop'"):
        sampler.sample("shop", torch.tensor([0]), torch.tensor([0]))
    with pytest.raises(ValueError, match="ids of 'customer' outside"):
        sampler.sample("customer", torch.tensor([99]), torch.tensor([0]))
    with pytest.raises(ValueError, match="seed_time is required"):
        sampler.sample("customer", torch.tensor([0]))
    with pytest.raises(ValueError, match="seed_time: expected an int64"):
        sampler.sample("customer", torch.tensor([0]), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="NO_TIME is not a valid cut-off"):
        sampler.sample("customer", torch.tensor([0]), torch.tensor([NO_TIME]))
    with pytest.raises(ValueError, match="cutoff is required"):
        sampler.snapshot("customer", torch.tensor([0]))


def test_integer_inputs_of_any_width_are_accepted():
    import numpy as np

    edges = {BY: np.array([[0, 1, 2], [0, 0, 1]], dtype=np.int32)}
    sampler = TemporalNeighborSampler(
        edges,
        {"customer": 2, "review": 3},
        {"review": torch.tensor([1, 2, 3], dtype=torch.int32)},
        [-1],
    )
    sub = sampler.sample("customer", np.array([0, 1], dtype=np.int32), [2, 3])
    assert sorted(sub.node["review"].tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match="seed_time: expected an int64"):
        sampler.sample("customer", torch.tensor([0]), torch.tensor([1.5]))
