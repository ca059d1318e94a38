# SPDX-License-Identifier: BSD-3-Clause
"""Database -> HeteroData: nodes, key edges, times and leak-free encoders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tabkit.datasets import make_relational
from tabkit.relational import Database, SchemaError, Table
from tabkit.relational.graph import (
    GraphBuilder,
    counting_edge_types,
    edge_types,
    subgraph_inputs,
)
from tabkit.relational.sampler import NO_TIME


@pytest.fixture(scope="module")
def shop():
    return make_relational(size="tiny", missing=0.1, orphan_fk=0.1, seed=3).database


def test_nodes_edges_and_times(shop):
    data = GraphBuilder().fit(shop).transform(shop)
    assert set(data.node_types) == set(shop.tables)
    assert set(data.edge_types) == set(edge_types(shop))
    for name, table in shop.tables.items():
        assert data[name].num_nodes == len(table)
        assert data[name].x_num.shape[0] == len(table)
        assert ("time" in data[name]) == (table.time_column is not None)
    items = shop["items"].df
    products = shop["products"].df
    ei = data["items", "f2p_product_id", "products"].edge_index
    matched = items["product_id"].isin(products["product_id"])
    assert ei.shape[1] == int(matched.sum()) < len(items)  # orphans get no edge
    assert (
        items["product_id"].to_numpy()[ei[0].numpy()]
        == products["product_id"].to_numpy()[ei[1].numpy()]
    ).all()
    rev = data["products", "rev_f2p_product_id", "items"].edge_index
    assert torch.equal(rev, ei.flip(0))
    times = data["orders"].time
    expected = pd.to_datetime(shop["orders"].df["ts"]).astype("int64").to_numpy()
    assert (times.numpy() == expected).all()


def test_encoders_see_only_rows_up_to_the_cutoff():
    late = pd.Timestamp("2026-06-01")
    customers = Table(pd.DataFrame({"cid": [1, 2]}), primary_key="cid")
    orders = Table(
        pd.DataFrame(
            {
                "oid": [1, 2, 3],
                "cid": [1, 2, 1],
                "ts": [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), late],
                "shop": ["a", "b", "z"],
                "amount": [1.0, 2.0, 1000.0],
            }
        ),
        primary_key="oid",
        foreign_keys={"cid": "customers"},
        time_column="ts",
    )
    db = Database({"customers": customers, "orders": orders})
    builder = GraphBuilder(numeric="standard").fit(db, until="2026-03-01")
    assert builder.encoders_["orders"].categories_ == {"shop": ["a", "b"]}
    data = builder.transform(db)
    assert data["orders"].x_cat[:, 0].tolist() == [2, 3, 1]  # "z" is unknown
    assert data["orders"].x_num[:2, 0].tolist() == [-1.0, 1.0]  # mean 1.5, std 0.5
    assert data["customers"].x_num.shape == (2, 0)


def test_missing_time_is_never_visible():
    table = Table(
        pd.DataFrame({"id": [1, 2], "ts": [pd.Timestamp("2026-01-01"), pd.NaT]}),
        primary_key="id",
        time_column="ts",
    )
    db = Database({"t": table})
    data = GraphBuilder().fit(db).transform(db)
    assert data["t"].time[1].item() == NO_TIME


def test_schema_change_and_undeclared_time_are_named(shop):
    builder = GraphBuilder().fit(shop)
    orders = shop["orders"]
    renamed = Table(
        orders.df.rename(columns={"channel": "medium"}),
        primary_key="order_id",
        foreign_keys=dict(orders.foreign_keys),
        time_column="ts",
    )
    other = Database({**shop.tables, "orders": renamed}, validate=False)
    with pytest.raises(SchemaError, match="table 'orders': column 'channel'"):
        builder.transform(other)
    undeclared = Database(
        {
            "t": Table(
                pd.DataFrame({"id": [1], "when": [pd.Timestamp("2026-01-01")]}),
                primary_key="id",
            )
        }
    )
    with pytest.raises(SchemaError, match="table 't' has date/time columns"):
        GraphBuilder().fit(undeclared)
    with pytest.raises(TypeError, match=r"tabkit\.relational\.Database"):
        GraphBuilder().fit({"t": 1})
    with pytest.raises(RuntimeError, match="not fitted"):
        GraphBuilder().transform(shop)


def test_sampling_the_graph_never_sees_the_future(shop):
    builder = GraphBuilder().fit(shop)
    data = builder.transform(shop)
    sampler = builder.sampler(data, num_neighbors=[8, 8, 8])
    rng = np.random.default_rng(0)
    n = data["customers"].num_nodes
    seeds = torch.from_numpy(rng.integers(0, n, 200))
    times = data["orders"].time
    cut = torch.from_numpy(
        rng.integers(int(times.min()), int(times[times < NO_TIME].max()), 200)
    )
    sub = sampler.sample(
        "customers", seeds, cut, generator=torch.Generator().manual_seed(0)
    )
    for name in builder.timed_:
        keep = torch.ones(sub.node[name].numel(), dtype=torch.bool)
        if name == "customers":
            keep[sub.seed_index] = False
        node_times = data[name].time[sub.node[name]][keep]
        assert (node_times <= sub.node_cutoff(name)[keep]).all()
    assert sub.node["products"].numel() > 0


def test_degree_features_count_visible_children_beyond_the_cap(shop):
    builder = GraphBuilder().fit(shop)
    data = builder.transform(shop)
    sampler = builder.sampler(data, num_neighbors=[1, 1], strategy="last")
    counted = counting_edge_types(builder.edge_types_)
    assert counted and all(r.startswith("f2p_") for _, r, _ in counted)
    rng = np.random.default_rng(1)
    n = data["customers"].num_nodes
    seeds = torch.from_numpy(rng.integers(0, n, 100))
    times = data["orders"].time
    cut = torch.from_numpy(
        rng.integers(int(times.min()), int(times[times < NO_TIME].max()), 100)
    )
    sub = sampler.sample("customers", seeds, cut)
    inputs = subgraph_inputs(data, sub, sampler, counted)
    # brute force: a customer's orders with a time at or before the cut-off
    orders = shop["orders"].df
    ts = pd.to_datetime(orders["ts"]).astype("int64").to_numpy()
    known = orders["ts"].notna().to_numpy()
    keys = shop["customers"].df["customer_id"].to_numpy()
    into_customers = [et for et in counted if et[2] == "customers"]
    got = inputs["degree"]["customers"][
        :, into_customers.index(("orders", "f2p_customer_id", "customers"))
    ]
    for i, node in enumerate(sub.node["customers"].tolist()):
        cutoff = int(sub.node_cutoff("customers")[i])
        expected = int(
            (
                (orders["customer_id"].to_numpy() == keys[node])
                & known
                & (ts <= cutoff)
            ).sum()
        )
        assert got[i].item() == pytest.approx(np.log1p(expected), abs=1e-6)
    # the cap of one neighbour hides the rest from the messages, not the count
    assert int(torch.expm1(got).round().max()) > 1
    with pytest.raises(ValueError, match="needs the sampler"):
        subgraph_inputs(data, sub, None, counted)


def test_infinite_numbers_are_encoded_as_missing():
    import numpy as np
    import pandas as pd

    from tabkit.relational import Database, Table
    from tabkit.relational.graph import GraphBuilder

    frame = pd.DataFrame({"id": [1, 2, 3], "ratio": [1.0, np.inf, -np.inf]})
    db = Database({"t": Table(frame, primary_key="id")})
    data = GraphBuilder().fit(db).transform(db)
    assert np.isfinite(data["t"].x_num.numpy()).all()
    assert np.isinf(db["t"].df["ratio"]).sum() == 2  # the table is untouched


def test_empty_columns_are_logged_with_their_table(caplog):
    import logging
    import warnings

    import numpy as np
    import pandas as pd

    from tabkit.relational import Database, Table
    from tabkit.relational.graph import GraphBuilder

    frame = pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0], "notes": [np.nan, np.nan]})
    db = Database({"t": Table(frame, primary_key="id")})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.INFO, logger="tabkit.relational.graph"):
            builder = GraphBuilder().fit(db)
    assert "table 't': columns ['notes']" in caplog.text
    assert builder.transform(db)["t"].x_num.shape[1] >= 1
