# SPDX-License-Identifier: BSD-3-Clause
"""The relational GNN module on sampled subgraphs of a generated database."""

from __future__ import annotations

import pytest
import torch

from tabkit.datasets import make_relational
from tabkit.nn.relational import RelationalGNN, RelativeTimeEncoder, TableEncoder
from tabkit.relational.graph import GraphBuilder, counting_edge_types, subgraph_inputs


@pytest.fixture(scope="module")
def graph():
    db = make_relational(size="tiny", missing=0.1, seed=1).database
    builder = GraphBuilder().fit(db)
    data = builder.transform(db)
    tables = {
        t: {
            "d_num": data[t].x_num.shape[1],
            "cardinalities": (
                builder.encoders_[t].cardinalities_ if t in builder.encoders_ else []
            ),
            "timed": t in builder.timed_,
        }
        for t in data.node_types
    }
    return builder, data, tables


def _model(builder, tables, **kwargs):
    torch.manual_seed(0)
    return RelationalGNN(
        tables, builder.edge_types_, "customers", 1, channels=16, **kwargs
    )


def test_each_seed_sees_only_its_own_subgraph(graph):
    builder, data, tables = graph
    model = _model(builder, tables, n_layers=3).eval()
    sampler = builder.sampler(data, [4, 4, 4], strategy="last")
    seeds = torch.arange(30)
    cut = data["orders"].time.sort().values[len(data["orders"].time) // 2].repeat(30)
    with torch.no_grad():
        full = model(**subgraph_inputs(data, sampler.sample("customers", seeds, cut)))
        part = model(
            **subgraph_inputs(data, sampler.sample("customers", seeds[7:9], cut[7:9]))
        )
    assert full.shape == (30, 1)
    torch.testing.assert_close(full[7:9], part)


def test_gradients_reach_every_table(graph):
    builder, data, tables = graph
    model = _model(builder, tables, n_layers=3)
    sampler = builder.sampler(data, [8, 8, 8])
    seeds = torch.arange(40)
    cut = torch.full((40,), int(data["orders"].time.max()))
    out = model(**subgraph_inputs(data, sampler.sample("customers", seeds, cut)))
    out.sum().backward()
    for t in tables:
        encoder = model.encoders[model._node_key[t]]
        grads = [p.grad for p in encoder.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), t


def test_learns_a_one_hop_count(graph):
    """Target: the number of orders a customer placed up to the cut-off."""
    builder, data, tables = graph
    model = _model(builder, tables, n_layers=1)
    sampler = builder.sampler(data, [-1])
    n = data["customers"].num_nodes
    cut = torch.full((n,), int(torch.quantile(data["orders"].time.double(), 0.5)))
    sub = sampler.sample("customers", torch.arange(n), cut)
    inputs = subgraph_inputs(data, sub)
    ei = sub.edge_index[("orders", "f2p_customer_id", "customers")]
    target = torch.bincount(ei[1], minlength=n)[sub.seed_index].float().unsqueeze(1)
    optim = torch.optim.Adam(model.parameters(), lr=0.01)
    loss0 = None
    for _ in range(150):
        optim.zero_grad()
        loss = torch.nn.functional.mse_loss(model(**inputs), target)
        loss.backward()
        optim.step()
        loss0 = loss0 if loss0 is not None else loss.item()
    assert loss.item() < 0.1 * loss0


def test_config_rebuilds_and_bad_specs_are_named(graph):
    builder, _, tables = graph
    model = _model(builder, tables)
    clone = RelationalGNN(**model.get_config())
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="entity 'shop'"):
        RelationalGNN(tables, builder.edge_types_, "shop", 1)
    with pytest.raises(ValueError, match="unknown node type 'x'"):
        RelationalGNN(tables, [("x", "r", "customers")], "customers", 1)
    with pytest.raises(ValueError, match="channels must be even"):
        RelativeTimeEncoder(7)
    assert TableEncoder(0, [], 4)(
        torch.zeros(3, 0), torch.zeros(3, 0, dtype=torch.long)
    ).shape == (3, 4)


def test_degree_inputs_widen_the_numeric_encoder_and_are_required(graph):
    builder, data, tables = graph
    counted = counting_edge_types(builder.edge_types_)
    widths = {t: sum(et[2] == t for et in counted) for t in tables}
    spec = {t: {**s, "d_degree": widths[t]} for t, s in tables.items()}
    model = _model(builder, spec)
    assert model.get_config()["tables"]["customers"]["d_degree"] == 1
    sampler = builder.sampler(data, [4, 2], strategy="last")
    cut = torch.full((10,), int(data["orders"].time.max()))
    sub = sampler.sample("customers", torch.arange(10), cut)
    inputs = subgraph_inputs(data, sub, sampler, counted)
    assert model(**inputs).shape == (10, 1)
    inputs.pop("degree")
    with pytest.raises(ValueError, match="'customers' was built with d_degree=1"):
        model(**inputs)
