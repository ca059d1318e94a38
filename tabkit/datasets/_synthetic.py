# SPDX-License-Identifier: BSD-3-Clause
"""Synthetic shop databases with planted 1-, 2- and 3-hop signals and an oracle.

:func:`make_relational` simulates customers -> orders -> items -> products
(optionally with a customer -> referrer self-reference) one label window at a
time, so that the probability of every seed's label is known exactly. The
generative process is described in :func:`make_relational`.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from sklearn.metrics import mean_absolute_error, roc_auc_score

from tabkit.relational import Database, OrphanKeysWarning, Table
from tabkit.relational.tasks import (
    EntityTask,
    RelationalTask,
    TaskSplit,
    count,
    window_rows,
)

__all__ = ["make_relational"]

logger = logging.getLogger(__name__)

#: Number of customers of each named size.
SIZES: dict[str, int] = {
    "tiny": 200,
    "small": 5_000,
    "medium": 50_000,
    "large": 250_000,
}
TEMPLATES = ("chain", "self_ref")
#: task -> (task_type, metric)
TASKS = {"churn": ("binary", "roc_auc"), "orders": ("regression", "mae")}
REGIONS = ("north", "south", "east", "west", "central")
CHANNELS = ("web", "app", "store")
CATEGORIES = ("books", "garden", "food", "music", "sports", "toys", "tools", "beauty")
#: Start of the simulated history (naive timestamps).
EPOCH = pd.Timestamp("2021-01-04")
#: History before the first cut-off (at least).
BURN_IN = pd.Timedelta("365D")
#: Cut-offs per split, one label window apart.
N_CUTOFFS = {"train": 6, "val": 2, "test": 2}
#: Population at t: customers who signed up or ordered in (t - LOOKBACK, t].
LOOKBACK = pd.Timedelta("60D")
#: table -> (primary key, foreign keys, time column; None: declared static)
SCHEMA: dict[str, tuple[str, dict[str | tuple[str, ...], str], str | None]] = {
    "customers": ("customer_id", {}, "signup_ts"),
    "orders": ("order_id", {"customer_id": "customers"}, "ts"),
    "items": ("item_id", {"order_id": "orders", "product_id": "products"}, "ts"),
    "products": ("product_id", {}, None),
}
#: Feature columns that the ``missing`` knob blanks (keys and times never).
MISSING_COLUMNS = {
    "customers": ("age", "region"),
    "orders": ("channel",),
    "items": ("quantity", "unit_price"),
    "products": ("category", "price", "rating"),
}


@dataclass(frozen=True)
class _Coefficients:
    """Parameters of the generative process (names as in :func:`make_relational`)."""

    a: float = float(np.log(0.03))  # log orders per day at z = 0
    b: float = 0.5  # activity z in the log rate
    g3: float = 1.2  # recent product quality S in the log rate
    gr: float = 1.5  # referrer's recent activity R in the log rate
    tau: float = 30.0  # days: memory of S
    h0: float = float(np.log(0.002))  # log churns per day
    h_region: tuple[float, ...] = (-0.6, 0.0, 0.3, 0.6, -0.3)
    h_age: float = -0.3  # standardised age in the log hazard
    g2: float = -1.0  # basket trait u in the log hazard
    age_z: float = 0.45  # correlation of standardised age with z
    rho: float = 0.5  # taste v -> quality rank of the products bought
    q0: float = -0.3  # log mean extra quantity at u = 0
    q1: float = 0.8  # basket trait u in the log mean extra quantity
    referred: float = 0.6  # share of customers with a referrer (self_ref)


COEF = _Coefficients()


# --------------------------------------------------------------------------- rows
def _to_seconds(days: np.ndarray) -> np.ndarray:
    """Days since EPOCH -> datetime64[s], rounded up (so (g_j, g_j+1] is kept)."""
    seconds = np.ceil(np.round(days * 86_400.0, 6)).astype(np.int64)
    return EPOCH.to_datetime64().astype("datetime64[s]") + seconds.astype(
        "timedelta64[s]"
    )


def _categorical(codes: np.ndarray, values: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical(np.asarray(values)[codes], categories=list(values))


def _products(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    quality = rng.normal(size=n)
    category = rng.integers(0, len(CATEGORIES), size=n)
    level = np.linspace(2.0, 4.0, len(CATEGORIES))[category]
    price = np.round(np.exp(level + 0.25 * quality + 0.4 * rng.normal(size=n)), 2)
    rating = np.clip(np.round(3.5 + 0.8 * quality + 0.4 * rng.normal(size=n), 1), 1, 5)
    return {
        "quality": quality,
        "category": category,
        "price": price,
        "rating": rating,
        "by_quality": np.argsort(quality, kind="stable"),
    }


def _customers(
    rng: np.random.Generator,
    n: int,
    *,
    template: str,
    cold_start: float,
    first: float,
    last: float,
) -> dict[str, np.ndarray]:
    c = COEF
    z, u, v = rng.normal(size=(3, n))
    age_std = c.age_z * z + np.sqrt(1 - c.age_z**2) * rng.normal(size=n)
    age = np.clip(np.round(42 + 13 * age_std), 18, 90)
    signup = rng.uniform(0.0, last, size=n)
    cold = np.zeros(n, dtype=bool)
    cold[rng.choice(n, size=round(cold_start * n), replace=False)] = True
    lookback = LOOKBACK / pd.Timedelta("1D")
    signup[cold] = first - lookback * rng.random(int(cold.sum()))
    order = np.argsort(signup, kind="stable")  # customer ids in signup order
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    referrer = np.full(n, -1, dtype=np.int64)
    if template == "self_ref":  # a uniformly drawn earlier customer
        referred = (rng.random(n) < c.referred) & (rank > 0)
        picked = order[np.floor(rng.random(n) * rank).astype(np.int64)]
        referrer = np.where(referred, picked, -1)
    return {
        "z": z,
        "u": u,
        "v": v,
        "age": age,
        "region": rng.integers(0, len(REGIONS), size=n),
        "channel": np.cumsum(rng.dirichlet(np.ones(len(CHANNELS)), size=n), axis=1),
        "signup": signup,
        "start": np.where(cold, first, signup),
        "cold": cold,
        "referrer": referrer,
        "id": rank + 1,
    }


def _simulate(
    rng: np.random.Generator,
    cust: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    grid: np.ndarray,
) -> dict[str, Any]:
    """Orders and items, one window at a time (vectorised over customers)."""
    c = COEF
    n, n_prod, n_win = len(cust["z"]), len(prod["quality"]), len(grid) - 1
    base = c.a + c.b * cust["z"]
    eta = np.exp(
        c.h0
        + np.asarray(c.h_region)[cust["region"]]
        + c.h_age * (cust["age"] - 42) / 13
        + c.g2 * cust["u"]
    )
    has_ref = cust["referrer"] >= 0
    ref = np.maximum(cust["referrer"], 0)
    weighted_q, weights = np.zeros(n), np.zeros(n)  # sums of w q and w
    activity = np.zeros(n)  # sum of w over the customer's orders
    death = np.full(n, np.inf)
    rate = np.zeros((n, n_win))
    orders, items = [], []
    for j in range(n_win):
        lo, hi = grid[j], grid[j + 1]
        recent_q = np.divide(weighted_q, weights, out=np.zeros(n), where=weights > 0)
        referral = has_ref * (1.0 - 2.0 * np.exp(-activity[ref]))  # in [-1, 1)
        rate[:, j] = np.exp(base + c.g3 * recent_q + c.gr * referral)
        begin = np.maximum(lo, cust["start"])
        live = (cust["start"] < hi) & (death > begin)
        span = np.where(live, hi - begin, 0.0)
        dies = rng.exponential(size=n) / eta
        dead = live & (dies < span)
        death[dead] = begin[dead] + dies[dead]
        exposure = np.where(dead, dies, span)
        who = np.repeat(np.arange(n), rng.poisson(rate[:, j] * exposure))
        when = begin[who] + (1.0 - rng.random(len(who))) * exposure[who]
        channel = (rng.random(len(who))[:, None] < cust["channel"][who]).argmax(axis=1)
        size = 1 + rng.binomial(3, 0.4, size=len(who))
        of = np.repeat(np.arange(len(who)), size)
        buyer = who[of]
        w = c.rho * cust["v"][buyer] + np.sqrt(1 - c.rho**2) * rng.normal(size=len(of))
        slot = np.minimum((special.ndtr(w) * n_prod).astype(np.int64), n_prod - 1)
        product = prod["by_quality"][slot]
        quantity = 1 + rng.poisson(np.exp(c.q0 + c.q1 * cust["u"][buyer]))
        noise = rng.normal(size=len(of))
        orders.append((who, when, channel))
        items.append((of, product, quantity, noise))
        decay = np.exp(-(hi - lo) / c.tau)
        w_new = np.exp(-(hi - when[of]) / c.tau)
        weighted_q = weighted_q * decay + np.bincount(
            buyer, w_new * prod["quality"][product], minlength=n
        )
        weights = weights * decay + np.bincount(buyer, w_new, minlength=n)
        activity = activity * decay + np.bincount(
            who, np.exp(-(hi - when) / c.tau), minlength=n
        )
    return {"rate": rate, "eta": eta, "death": death, "orders": orders, "items": items}


# --------------------------------------------------------------------------- frames
def _frames(
    cust: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    sim: dict[str, Any],
    *,
    template: str,
    rng: np.random.Generator,
    orphan_fk: float,
    end: float,
) -> dict[str, pd.DataFrame]:
    """Build the tables; a share ``orphan_fk`` of each foreign key is orphaned."""
    n, cid = len(cust["z"]), cust["id"]
    rows = np.argsort(cid)  # simulation index of each customer row
    customers: dict[str, Any] = {
        "customer_id": cid[rows],
        "signup_ts": _to_seconds(cust["signup"][rows]),
        "age": pd.array(cust["age"][rows].astype(np.int64), dtype="Int64"),
        "region": _categorical(cust["region"][rows], REGIONS),
    }
    if template == "self_ref":
        ref = cust["referrer"][rows]
        ref_id = cid[np.maximum(ref, 0)]
        has = np.flatnonzero(ref >= 0)
        bad = rng.choice(has, size=round(orphan_fk * len(has)), replace=False)
        ref_id[bad] = n + 1 + rng.integers(0, n, size=len(bad))
        customers["referrer_id"] = pd.array(ref_id, dtype="Int64")
        customers["referrer_id"][ref < 0] = pd.NA

    def joined(part: list[tuple[np.ndarray, ...]], k: int) -> np.ndarray:
        return np.concatenate([p[k] for p in part])

    who, when, channel = (joined(sim["orders"], k) for k in range(3))
    offsets = np.cumsum([0] + [len(o[0]) for o in sim["orders"]])[:-1]
    of = np.concatenate(
        [it[0] + off for it, off in zip(sim["items"], offsets, strict=True)]
    )
    product, quantity, noise = (joined(sim["items"], k) for k in range(1, 4))
    # orphan orders: extra orders of customers that do not exist
    n_orphan = round(orphan_fk * len(who) / (1.0 - orphan_fk))
    order_cid = np.concatenate([cid[who], n + 1 + rng.integers(0, n, size=n_orphan)])
    when = np.concatenate([when, rng.uniform(0.0, end, size=n_orphan)])
    channel = np.concatenate([channel, rng.integers(0, len(CHANNELS), size=n_orphan)])
    order_ts = _to_seconds(when)
    perm = np.argsort(order_ts, kind="stable")  # order ids follow time
    oid = np.empty(len(perm), dtype=np.int64)
    oid[perm] = np.arange(1, len(perm) + 1)
    orders = {
        "order_id": oid[perm],
        "customer_id": order_cid[perm],
        "ts": order_ts[perm],
        "channel": _categorical(channel[perm], CHANNELS),
    }
    item_perm = np.argsort(oid[of], kind="stable")
    of, product = of[item_perm], product[item_perm]
    item_oid, item_pid = oid[of], product.astype(np.int64) + 1
    n_items, n_prod = len(of), len(prod["quality"])
    for column, n_parents in ((item_oid, len(oid)), (item_pid, n_prod)):
        bad = rng.choice(n_items, size=round(orphan_fk * n_items), replace=False)
        column[bad] = n_parents + 1 + rng.integers(0, n_parents, size=len(bad))
    items = {
        "item_id": np.arange(1, n_items + 1, dtype=np.int64),
        "order_id": item_oid,
        "product_id": item_pid,
        "ts": order_ts[of],
        "quantity": pd.array(quantity[item_perm], dtype="Int64"),
        "unit_price": np.round(prod["price"][product] * np.exp(0.05 * noise), 2),
    }
    products = {
        "product_id": np.arange(1, n_prod + 1, dtype=np.int64),
        "category": _categorical(prod["category"], CATEGORIES),
        "price": prod["price"],
        "rating": prod["rating"],
    }
    tables = (customers, orders, items, products)
    return {name: pd.DataFrame(t) for name, t in zip(SCHEMA, tables, strict=True)}


def _blank(
    frames: dict[str, pd.DataFrame], rng: np.random.Generator, share: float
) -> dict[str, pd.DataFrame]:
    """Blank exactly ``round(share * n)`` values of each feature column (MCAR)."""
    out = {}
    for name, original in frames.items():
        frame = original.copy()
        for column in MISSING_COLUMNS[name]:
            mask = np.zeros(len(frame), dtype=bool)
            mask[
                rng.choice(len(frame), size=round(share * len(frame)), replace=False)
            ] = True
            frame[column] = frame[column].mask(mask)
        out[name] = frame
    return out


def _database(frames: dict[str, pd.DataFrame], template: str) -> Database:
    tables = {}
    for name, (key, fks, time_column) in SCHEMA.items():
        if name == "customers" and template == "self_ref":
            refs: dict[str | tuple[str, ...], str] = {"referrer_id": "customers"}
        else:
            refs = fks
        tables[name] = Table(
            frames[name],
            primary_key=key,
            foreign_keys=refs,
            time_column=time_column,
            static=time_column is None,
        )
    with warnings.catch_warnings():  # orphans come from the orphan_fk knob
        warnings.simplefilter("ignore", OrphanKeysWarning)
        return Database(tables)


# --------------------------------------------------------------------------- task
@dataclass(frozen=True)
class _RecentCustomers:
    """Population: customers who signed up or ordered in ``(t - lookback, t]``."""

    lookback: pd.Timedelta

    def __call__(self, db: Database, t: pd.Timestamp) -> np.ndarray:
        """Keys of the population at ``t`` (``db`` is the database as known at t)."""
        customers, orders = db["customers"].df, db["orders"].df
        since = pd.Timestamp(t) - self.lookback
        new = customers.loc[customers["signup_ts"] > since, "customer_id"]
        buyers = np.intersect1d(
            orders.loc[orders["ts"] > since, "customer_id"], customers["customer_id"]
        )
        return np.union1d(new.to_numpy(), buyers)


@dataclass(frozen=True)
class _NoOrder:
    """Churn label: 1 when the customer places no order in ``(t, t + window]``."""

    window: Any

    def __call__(self, db: Database, seeds: pd.DataFrame) -> np.ndarray:
        """Label of each seed row, from the orders of its window."""
        rows = window_rows(
            db, seeds, "orders", entity_table="customers", end=self.window
        )
        label = np.ones(len(seeds))
        label[np.unique(rows.index.to_numpy())] = 0.0
        return label


def _oracle(
    rate: np.ndarray, eta: np.ndarray, length: np.ndarray, alive: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(no order), E[orders] and the median order count in a window of ``length``.

    While alive a customer orders at ``rate`` and churns at ``eta`` per day; a
    churned customer never orders again.
    """
    total = rate + eta
    stay = np.exp(-total * length)
    p_none = np.where(alive, stay + eta / total * (1.0 - stay), 1.0)
    mean = np.where(alive, rate * -np.expm1(-eta * length) / eta, 0.0)
    # P(N = k) = e^(-eta L) Pois(k; rate L) + eta rate^k / total^(k+1)
    #            * P(Gamma(k + 1, total) <= L)   (the count integrated over churn)
    median, cdf, todo, k = np.zeros(len(rate)), np.zeros(len(rate)), alive.copy(), 0
    while todo.any() and k < 100_000:
        r, e, s, ln = rate[todo], eta[todo], total[todo], length[todo]
        pois = np.exp(k * np.log(r * ln) - r * ln - special.gammaln(k + 1))
        cdf[todo] += np.exp(-e * ln) * pois + e / s * np.exp(
            k * np.log(r / s)
        ) * special.gammainc(k + 1, s * ln)
        done = todo & (cdf >= 0.5)
        median[done] = k
        todo &= ~done
        k += 1
    return p_none, mean, median


# --------------------------------------------------------------------------- API
def _n_customers(size: str | int) -> int:
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; valid sizes: {list(SIZES)}")
        return SIZES[size]
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise TypeError(f"size must be one of {list(SIZES)} or an int, got {size!r}")
    if size < 20:
        raise ValueError(f"size must be at least 20 customers, got {size}")
    return int(size)


def _share(name: str, value: float, closed: bool = False) -> float:
    value = float(value)
    if not (0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return value


def make_relational(
    template: str = "chain",
    *,
    size: str | int = "small",
    seed: int = 0,
    missing: float = 0.0,
    orphan_fk: float = 0.0,
    cold_start: float = 0.0,
    horizon: str | pd.Timedelta | pd.DateOffset = "60D",
    task: str = "churn",
) -> RelationalTask:
    r"""Generate a shop database with planted 1-, 2- and 3-hop signals and an oracle.

    Tables (``customers`` is the entity table; ``products`` is static)::

        customers(customer_id PK, signup_ts [time], age, region[, referrer_id FK])
        orders(order_id PK, customer_id FK, ts [time], channel)
        items(item_id PK, order_id FK, product_id FK, ts [time], quantity, unit_price)
        products(product_id PK, category, price, rating)

    An item's ``ts`` is its order's. ``template="self_ref"`` adds
    ``customers.referrer_id``, a foreign key to an earlier customer (60% of
    customers have one).

    **Generative process** (times in days; windows :math:`(g_j, g_{j+1}]` one
    ``horizon`` long, the cut-offs are window starts). Customer latents
    :math:`z_c, u_c, v_c \sim N(0, 1)`, product quality :math:`q_p \sim N(0, 1)`.

    * 0 hops: ``age`` = 42 + 13 (0.45 z + 0.89 e) (a proxy of z) and ``region``
      (5 values) enter the churn hazard below; the time since signup tells how
      long a customer has survived.
    * Orders, while the customer has not churned, form a Poisson process with
      rate :math:`\lambda_{cj} = \exp(a + b z_c + g_3 S_{cj} + g_r R_{cj})` per
      day in window *j*: the order rate and recency are **1-hop** signals.
      :math:`S_{cj} = \sum_i w_i q_{p(i)} / \sum_i w_i` over the items bought
      up to :math:`g_j`, :math:`w_i = e^{-(g_j - t_i)/\tau}` (0 without items),
      is the recent quality of the products bought: **3 hops** (customer <-
      orders <- items -> products), visible through ``products.rating`` =
      3.5 + 0.8 q + 0.4 e (1 decimal, clipped to [1, 5]); items pick the
      product at quality rank :math:`\Phi(\rho v_c + \sqrt{1 - \rho^2} e)`.
      :math:`R_{cj} = 1 - 2 e^{-A}`, A = :math:`\sum_o w_o` over the
      referrer's orders up to :math:`g_j`, is the referrer's recent activity
      (``self_ref`` only, else 0: customers -> referrer <- orders, 2 hops).
    * Churn: the customer stops ordering for good at rate
      :math:`\eta_c = \exp(h_0 + h_{region} + h_{age} (age_c - 42) / 13 +
      g_2 u_c)` per day. The basket trait :math:`u_c` shows only in
      ``items.quantity`` = 1 + Poisson(exp(q0 + q1 u)): **2 hops** (customer
      <- orders <- items).
    * Each order has 1 + Binomial(3, 0.4) items; ``unit_price`` is the product's
      price times exp(0.05 e); ``channel`` follows a per-customer preference.

    Values: a = ln 0.03, b = 0.5, g3 = 1.2, gr = 1.5, tau = 30 days,
    h0 = ln 0.002, h_region = (-0.6, 0, 0.3, 0.6, -0.3), h_age = -0.3,
    g2 = -1, rho = 0.5, q0 = -0.3, q1 = 0.8.

    **Task.** Cut-offs: six train, two validation and two test cut-offs one
    ``horizon`` apart, after at least 365 days of history (from 2021-01-04, naive
    times), so label windows never overlap. Population at *t*: customers who
    signed up or ordered in (t - 60 days, t]. Labels are computed by
    :class:`~tabkit.relational.tasks.EntityTask` from the generated future rows
    in (t, t + horizon]: ``task="churn"`` -> 1 when the customer places no
    order; ``task="orders"`` -> the number of orders (regression, MAE).

    **Oracle.** With :math:`\lambda = \lambda_{cj}`, :math:`\eta = \eta_c` and
    L = horizon, for a customer who has not churned by *t*:
    P(no order) = :math:`e^{-(\lambda+\eta)L} + \frac{\eta}{\lambda+\eta}
    (1 - e^{-(\lambda+\eta)L})`, E[orders] =
    :math:`\lambda (1 - e^{-\eta L}) / \eta`; a churned customer has
    P(no order) = 1. These are exact given the latent state at *t*.

    Parameters
    ----------
    template : {"chain", "self_ref"}, default="chain"
    size : {"tiny", "small", "medium", "large"} or int, default="small"
        Number of customers: 200, 5,000, 50,000, 250,000, or the int given
        (at least 20); about 40 rows per customer in all.
    seed : int, default=0
        Seed of :func:`numpy.random.default_rng`; the same arguments give
        identical tables with the same numpy. ``missing`` and ``orphan_fk``
        draw from their own streams, so they do not change the other values.
    missing : float in [0, 1), default=0
        Share of the values of every feature column (``age``, ``region``,
        ``channel``, ``quantity``, ``unit_price``, ``category``, ``price``,
        ``rating``) set missing completely at random; keys and times are kept.
    orphan_fk : float in [0, 1), default=0
        Share of the values of each foreign-key column that reference no row:
        extra orders of unknown customers, items with unknown orders and
        products, unknown referrers. Labels and the oracle are unaffected.
    cold_start : float in [0, 1], default=0
        Share of customers who sign up in the 60 days before the first cut-off
        and place no order before it (later signups have no orders before it
        either).
    horizon : str, Timedelta or DateOffset, default="60D"
        Label window, between 1 and 366 days; also the spacing of cut-offs.
    task : {"churn", "orders"}, default="churn"

    Returns
    -------
    RelationalTask
        ``info`` holds ``"oracle"`` (``{"train", "val", "test"}`` -> the exact
        P(label = 1), or E[orders], of each seed row), ``"oracle_score"`` (test
        AUC of that probability; for ``"orders"`` the test MAE of the exact
        conditional median, ``"oracle_median"``), ``"cutoffs"``,
        ``"cold_start_ids"``, ``"latent"`` (hidden customer and product
        variables) and ``"generation_seconds"``.

    Examples
    --------
    >>> from tabkit.datasets import make_relational
    >>> task = make_relational("self_ref", size="tiny", seed=0)
    >>> sorted(task.database), task.metric
    (['customers', 'items', 'orders', 'products'], 'roc_auc')
    >>> X, y = task.train
    >>> list(X.columns), len(X) == len(y) == len(task.info["oracle"]["train"])
    (['customer_id', 'cutoff'], True)
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; valid templates: {TEMPLATES}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {list(TASKS)}")
    n = _n_customers(size)
    missing = _share("missing", missing)
    orphan_fk = _share("orphan_fk", orphan_fk)
    cold_start = _share("cold_start", cold_start, closed=True)
    task_type, metric = TASKS[task]
    entity_task = EntityTask(
        name=f"synthetic-{template}-{task}",
        entity_table="customers",
        window=horizon,
        label=_NoOrder(horizon) if task == "churn" else count("orders"),
        task_type=task_type,  # type: ignore[arg-type]
        population=_RecentCustomers(LOOKBACK),
    )
    window = entity_task.window
    if not EPOCH + pd.Timedelta("1D") <= EPOCH + window <= EPOCH + pd.Timedelta("366D"):
        raise ValueError(f"horizon must be between 1 and 366 days, got {horizon!r}")
    tic = time.perf_counter()
    n_burn = 1
    while EPOCH + n_burn * window < EPOCH + BURN_IN:
        n_burn += 1
    stamps = [EPOCH + j * window for j in range(n_burn + sum(N_CUTOFFS.values()) + 1)]
    grid = np.array([(g - EPOCH) / pd.Timedelta("1D") for g in stamps])
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    prod = _products(streams[0], int(np.clip(round(0.06 * n), 40, 5_000)))
    cust = _customers(
        streams[0],
        n,
        template=template,
        cold_start=cold_start,
        first=grid[n_burn],
        last=grid[-2],
    )
    sim = _simulate(streams[0], cust, prod, grid)
    frames = _frames(
        cust,
        prod,
        sim,
        template=template,
        rng=streams[1],
        orphan_fk=orphan_fk,
        end=grid[-1],
    )
    if missing:
        frames = _blank(frames, streams[2], missing)
    db = _database(frames, template)
    generated = time.perf_counter() - tic
    bounds = np.cumsum([n_burn, *N_CUTOFFS.values()])
    cutoffs = {
        split: pd.DatetimeIndex(stamps[lo:hi]).as_unit("ns")
        for split, lo, hi in zip(N_CUTOFFS, bounds[:-1], bounds[1:], strict=True)
    }
    splits = entity_task.split(db, **cutoffs)
    info = _info(
        splits, cust=cust, prod=prod, sim=sim, grid=grid, stamps=stamps, task=task
    )
    info.update(
        source="tabkit.datasets.make_relational",
        licence="BSD-3-Clause (generated data)",
        description=(
            f"synthetic shop ({template}, {n} customers, seed {seed}): "
            + ("no order" if task == "churn" else "number of orders")
            + f" in the next {horizon}"
        ),
        template=template,
        seed=seed,
        cutoffs=cutoffs,
        generation_seconds=generated,
    )
    seconds = time.perf_counter() - tic
    logger.info(
        "make_relational(%r, size=%r): %r in %.2f s", template, size, db, seconds
    )
    return RelationalTask(
        name=entity_task.name,
        database=db,
        task=entity_task,
        train=splits.train,
        val=splits.val,
        test=splits.test,
        task_type=task_type,  # type: ignore[arg-type]
        metric=metric,  # type: ignore[arg-type]
        info=info,
    )


def _info(
    splits: TaskSplit,
    *,
    cust: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    sim: dict[str, Any],
    grid: np.ndarray,
    stamps: list[pd.Timestamp],
    task: str,
) -> dict[str, Any]:
    """Oracle of every seed (from the latent state at its cut-off) and latents."""
    rows = np.argsort(cust["id"])  # simulation index of customer_id - 1
    oracle, point = {}, {}
    for split, (X, _) in zip(N_CUTOFFS, splits, strict=True):
        j = pd.DatetimeIndex(stamps).get_indexer(pd.DatetimeIndex(X["cutoff"]))
        i = rows[X["customer_id"].to_numpy() - 1]
        alive = (sim["death"][i] > grid[j]) & (cust["start"][i] <= grid[j])
        p_none, mean, median = _oracle(
            sim["rate"][i, j], sim["eta"][i], grid[j + 1] - grid[j], alive
        )
        oracle[split] = p_none if task == "churn" else mean
        point[split] = p_none if task == "churn" else median
    if task == "churn":
        two = len(np.unique(splits.test[1])) == 2
        score = float(roc_auc_score(splits.test[1], point["test"])) if two else np.nan
    else:
        score = float(mean_absolute_error(splits.test[1], point["test"]))
    churned = np.where(np.isfinite(sim["death"]), sim["death"], np.nan)[rows]
    n_prod = len(prod["quality"])
    info: dict[str, Any] = {
        "oracle": oracle,
        "oracle_score": score,
        "cold_start_ids": np.sort(cust["id"][cust["cold"]]),
        "latent": {
            "customers": pd.DataFrame(
                {
                    "customer_id": cust["id"][rows],
                    "activity": cust["z"][rows],
                    "basket": cust["u"][rows],
                    "taste": cust["v"][rows],
                    "hazard": sim["eta"][rows],
                    "start": EPOCH + pd.to_timedelta(cust["start"][rows], unit="D"),
                    "churned": EPOCH + pd.to_timedelta(churned, unit="D"),
                }
            ),
            "products": pd.DataFrame(
                {"product_id": np.arange(1, n_prod + 1), "quality": prod["quality"]}
            ),
        },
    }
    if task == "orders":
        info["oracle_median"] = point
    return info
