"""MemoryStore bulk writes against the Redis loader measured in the same run: `load_snapshot` of
LOAD_ROWS (node, SKU) rows over 100 nodes into a store that already serves the network, in two
layouts: "sparse" (random cells, ~14 rows per SKU, as the issue's 100k rows / 7.1k SKUs) and
"dense" (every node stocks every SKU: LOAD_ROWS / 100 SKUs, as benchmarks/test_redis.py's bulk
load); and `apply_deltas` of DELTA_COUNT warehouse deltas of which a third name SKUs the store has
never seen. The Redis loader (RedisStore.load_snapshot on a
redis-server started for this module) loads the very same rows, so memory / Redis is a ratio of
one run on one machine.

    python -m pytest benchmarks/test_memory_store_load.py --benchmark-only -s
    DOM_BENCH_QUICK=1 python -m pytest benchmarks/test_memory_store_load.py --benchmark-only -q  # CI
    DOM_BENCH_LOAD_ROWS=100000 DOM_BENCH_DELTAS=10000 python -m pytest benchmarks/test_memory_store_load.py

Benchmarks assert correctness (the loaded matrix equals the rows, every delta applied), never
timings; figures go to extra_info and to stdout (-s).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from dom_engine.domain import Network, Node, NodeKind
from dom_engine.inventory.base import StockDelta
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.redis_store import RedisStore
from tests.redis_servers import new_namespace

QUICK = os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")
N_NODES, ROWS_PER_SKU = 100, 14
LOAD_ROWS = int(os.environ.get("DOM_BENCH_LOAD_ROWS", 100_000 if QUICK else 1_000_000))
DELTA_COUNT = int(os.environ.get("DOM_BENCH_DELTAS", 10_000 if QUICK else 100_000))
ROUNDS = 3
NET = Network(tuple(Node(f"N{i:03d}", NodeKind.WAREHOUSE, 25.0 + i * 0.2, -120.0 + i * 0.5)
                    for i in range(N_NODES)))
_SECONDS: dict[tuple[str, str], float] = {}


def snapshot_rows(rows: int, layout: str = "sparse", seed: int = 11
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`rows` distinct (node, SKU) cells in random order: node ids, SKU ids, on hand, safety.
    "sparse": random cells, ~ROWS_PER_SKU per SKU; "dense": all N_NODES cells of rows / N_NODES SKUs."""
    rng = np.random.default_rng(seed)
    n_skus = max(rows // (ROWS_PER_SKU if layout == "sparse" else N_NODES), 1)
    cells = rng.choice(N_NODES * n_skus, size=rows, replace=False)
    names = np.array([f"SKU-{j:07d}" for j in range(n_skus)], dtype=object)
    nodes = np.array(NET.node_ids, dtype=object)[cells % N_NODES]
    return nodes, names[cells // N_NODES], rng.integers(0, 1000, rows), rng.integers(0, 5, rows)


def _median(benchmark) -> float:
    return float(benchmark.stats.stats.median)


@pytest.fixture(scope="module", params=["sparse", "dense"])
def rows(request: pytest.FixtureRequest):
    """The rows of one layout (module scope + params: both loaders measured back to back)."""
    return request.param, snapshot_rows(LOAD_ROWS, request.param)


def test_redis_load_baseline(benchmark, bench_redis, rows):
    """The baseline: RedisStore.load_snapshot of the same rows (validation, blocks, MSET, flip)."""
    store = RedisStore(NET, bench_redis.url, namespace=new_namespace("bench"))
    layout, (nodes, skus, on_hand, safety) = rows
    version = benchmark.pedantic(lambda: store.load_snapshot(nodes, skus, on_hand, safety),
                                 rounds=ROUNDS, iterations=1)
    assert store.version == version
    cell = store.read([skus[-1]]).atp[NET.index_of(nodes[-1]), 0]
    assert cell == max(on_hand[-1] - safety[-1], 0)
    _SECONDS["redis", layout] = _median(benchmark)
    benchmark.extra_info.update(rows=LOAD_ROWS, layout=layout, median_s=round(_SECONDS["redis", layout], 3))
    store.client.close()


def test_memory_load(benchmark, rows):
    """MemoryStore.load_snapshot of the same rows into a live store that knows one other SKU."""
    layout, (nodes, skus, on_hand, safety) = rows
    stores: list[MemoryStore] = []

    def fresh():  # every round loads SKUs the store has not seen yet, as the first load of a day does
        stores.append(MemoryStore.from_arrays(NET, ["SKU-OLD"], np.ones((N_NODES, 1), dtype=np.int64)))
        return (stores[-1],), {}

    benchmark.pedantic(lambda store: store.load_snapshot(nodes, skus, on_hand, safety), setup=fresh,
                       rounds=ROUNDS, iterations=1)
    store = stores[-1]
    names, on_m, _, saf_m = store.arrays()
    col = {s: j for j, s in enumerate(names)}
    rows_i = np.fromiter((NET.index_of(x) for x in nodes), dtype=np.int64, count=len(nodes))
    cols = np.fromiter((col[s] for s in skus), dtype=np.int64, count=len(skus))
    assert (on_m[rows_i, cols] == on_hand).all() and (saf_m[rows_i, cols] == safety).all()
    assert on_m.sum() == on_hand.sum()  # every other cell (SKU-OLD too) is zero
    seconds = _median(benchmark)
    redis = _SECONDS.get(("redis", layout))
    info = {"rows": LOAD_ROWS, "layout": layout, "skus": len(names), "median_s": round(seconds, 3)}
    if redis:
        info["memory_over_redis"] = round(seconds / redis, 3)
    benchmark.extra_info.update(info)
    print(f"\nload_snapshot {LOAD_ROWS:,} rows ({layout}, {len(names) - 1:,} SKUs): memory median "
          f"{seconds:.3f} s, redis median {redis or float('nan'):.3f} s, "
          f"memory/redis x{info.get('memory_over_redis')}")


def test_memory_deltas(benchmark, rows):
    """apply_deltas of DELTA_COUNT deltas in one call on a store of (up to) 100k of the rows: two
    thirds adjust known cells, one third set stock of SKUs the store has never seen (the store
    grows its columns)."""
    layout, (nodes, skus, on_hand, safety) = rows
    rng = np.random.default_rng(5)
    base = min(LOAD_ROWS, 100_000)
    pick = rng.integers(0, base, DELTA_COUNT)
    deltas = [
        StockDelta(f"e{k}", nodes[p], skus[p], adjust=1) if k % 3 else
        StockDelta(f"e{k}", nodes[p], f"NEW-{k:07d}", on_hand=7)
        for k, p in enumerate(pick.tolist())
    ]

    def fresh():
        return (MemoryStore.from_columns(NET, nodes[:base], skus[:base], on_hand[:base], safety[:base]),), {}

    stores: list[MemoryStore] = []

    def apply(store):
        stores.append(store)
        return store.apply_deltas(deltas)

    applied = benchmark.pedantic(apply, setup=fresh, rounds=ROUNDS, iterations=1)
    assert applied == DELTA_COUNT
    assert len(stores[-1].skus) == len(set(skus[:base])) + len(range(0, DELTA_COUNT, 3))
    seconds = _median(benchmark)
    benchmark.extra_info.update(deltas=DELTA_COUNT, layout=layout, median_s=round(seconds, 3),
                                deltas_per_s=round(DELTA_COUNT / seconds))
    print(f"\napply_deltas {DELTA_COUNT:,} deltas ({layout} store): median {seconds:.3f} s "
          f"({DELTA_COUNT / seconds:,.0f}/s)")
