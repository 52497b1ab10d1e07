"""RedisStore figures against a real redis-server started for this run (tests/redis_servers.py):
reading 10 SKUs x 100 nodes (uncached: one round trip; cached), reservations per second
(one client, threads in one process, several processes), single-order reservations from many
threads with group commit off and on (the ratio against "off" measured in the same run), and the
bulk snapshot load rate.

    python -m pytest benchmarks/test_redis.py --benchmark-only
    DOM_BENCH_QUICK=1 python -m pytest benchmarks/test_redis.py --benchmark-only -q   # CI

Client and server share this machine's cores, so the concurrent figures are what one box does,
not what a Redis server can take. Benchmarks assert correctness (ATP after the reservations,
rows loaded), never timings; figures go to extra_info.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dom_engine.domain import Network, Node, NodeKind
from dom_engine.inventory.base import Allocation
from dom_engine.inventory.redis_store import RedisStore
from tests.redis_servers import new_namespace

QUICK = os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")
N_NODES, N_SKUS, READ_SKUS = 100, 1_000, 10
LOAD_ROWS = 200_000 if QUICK else 1_000_000
RESERVATIONS = 2_000 if QUICK else 20_000
NET = Network(tuple(Node(f"N{i:03d}", NodeKind.WAREHOUSE, 25.0 + i * 0.2, -120.0 + i * 0.5)
                    for i in range(N_NODES)))


def _load(store: RedisStore, n_skus: int, qty: int = 10**6) -> list[str]:
    skus = [f"SKU-{j:06d}" for j in range(n_skus)]
    nodes = np.repeat(np.array(NET.node_ids, dtype=object), n_skus)
    store.load_snapshot(nodes, np.tile(np.array(skus, dtype=object), N_NODES), np.full(len(nodes), qty))
    return skus


@pytest.fixture(scope="module")
def loaded(bench_redis):
    """A store over 100 nodes x 1,000 SKUs and the fixed-seed SKU sets of the read rounds."""
    store = RedisStore(NET, bench_redis.url, namespace=new_namespace("bench"), cache_staleness_s=0.0)
    skus = _load(store, N_SKUS)
    rng = np.random.default_rng(7)
    orders = [[skus[j] for j in rng.choice(N_SKUS, READ_SKUS, replace=False)] for _ in range(500)]
    yield store, skus, orders
    store.client.close()


def _percentiles(times: list[float]) -> dict:
    ms = np.array(times) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4),
            "p99_ms": round(float(np.percentile(ms, 99)), 4)}


def test_read_10_skus_100_nodes_uncached(benchmark, loaded):
    """One read = one pipelined round trip (version pointer + MGET + HMGET per shard)."""
    store, _, orders = loaded
    k = iter(range(10**9))
    times: list[float] = []

    def read():
        t = time.perf_counter()
        view = store.read(orders[next(k) % len(orders)])
        times.append(time.perf_counter() - t)
        return view

    view = benchmark.pedantic(read, rounds=len(orders), warmup_rounds=20)
    assert view.atp.shape == (N_NODES, READ_SKUS) and view.staleness_s == 0.0
    benchmark.extra_info.update(_percentiles(times[20:]), round_trips=1, target_ms=0.5)


def test_read_10_skus_100_nodes_cached(benchmark, loaded, bench_redis):
    """Hot SKUs within the staleness bound: no Redis at all."""
    _, _, orders = loaded
    store = RedisStore(NET, bench_redis.url, namespace=loaded[0].keys.namespace, cache_staleness_s=3600,
                       degraded_staleness_s=7200)
    for order in orders:
        store.read(order)
    k = iter(range(10**9))
    view = benchmark.pedantic(lambda: store.read(orders[next(k) % len(orders)]), rounds=len(orders))
    assert view.atp.shape == (N_NODES, READ_SKUS)
    benchmark.extra_info.update(round_trips=0)
    store.client.close()


def _order(prefix: str, i: int) -> tuple[str, list[Allocation]]:
    """Order i: two lines of one unit on the 20 hot SKUs (usually two shards)."""
    return f"{prefix}-{i}", [Allocation(f"N{i % N_NODES:03d}", f"SKU-{i % 20:06d}", 1),
                             Allocation(f"N{(i * 7) % N_NODES:03d}", f"SKU-{(i * 3) % 20:06d}", 1)]


def _reserve_run(url: str, namespace: str, prefix: str, count: int, threads: int) -> tuple[float, float]:
    """Reserve `count` orders over `threads` threads (0 = pipelined batches of 100 via
    reserve_many from one thread), one round trip per reserve() (no group commit); (start, end)
    wall times."""
    store = RedisStore(NET, url, namespace=namespace, cache_staleness_s=0.0, coalesce_reserves=False)
    store.read(["SKU-000000"])  # connect, check the layout, load the scripts before the clock starts

    def one(i: int) -> None:
        store.reserve(*_order(prefix, i))

    start = time.time()
    if threads == 0:
        for b in range(0, count, 100):
            results = store.reserve_many([_order(prefix, i) for i in range(b, min(b + 100, count))])
            assert not any(isinstance(r, Exception) for r in results)
    elif threads == 1:
        for i in range(count):
            one(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))
    end = time.time()
    store.client.close()
    return start, end


@pytest.mark.parametrize("processes,threads", [(1, 1), (1, 8), (2, 4), (4, 4), (1, 0), (2, 0)],
                         ids=["1-client", "8-threads", "2-procs-x4", "4-procs-x4", "pipelined",
                              "2-procs-pipelined"])
def test_reservations_per_second(benchmark, bench_redis, processes, threads):
    """Throughput of RedisStore.reserve (one Lua call, one round trip per order on standalone
    Redis) and of reserve_many (100 orders per round trip)."""
    namespace = new_namespace("bench")
    store = RedisStore(NET, bench_redis.url, namespace=namespace, cache_staleness_s=0.0)
    _load(store, 20)
    per_proc = RESERVATIONS // processes
    runs = iter(range(10**6))

    def run():
        r = next(runs)
        if processes == 1:
            return [_reserve_run(bench_redis.url, namespace, f"r{r}", per_proc, threads)]
        with mp.get_context("spawn").Pool(processes) as pool:
            return pool.starmap(_reserve_run, [(bench_redis.url, namespace, f"r{r}p{p}", per_proc, threads)
                                               for p in range(processes)])

    spans = benchmark.pedantic(run, rounds=1, iterations=1)
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    total = per_proc * processes
    held = int((10**6 - store.read([f"SKU-{j:06d}" for j in range(20)]).atp).sum())
    assert held == 2 * total  # every reservation held its two units, none twice
    benchmark.extra_info.update(reservations=total, processes=processes, threads=threads or "pipelined",
                                reservations_per_s=round(total / wall), target_per_s=10_000)
    store.client.close()


COALESCE_PROCESSES, COALESCE_THREADS = 2, 16
COALESCE_ROUNDS = 1 if QUICK else 5   # rounds of (off, on) pairs


def _warm(_: int) -> None:
    time.sleep(0.2)  # long enough that each worker process takes one of these


def _threads_run(url: str, namespace: str, prefix: str, count: int, threads: int, coalesce: bool,
                 start_at: float) -> tuple[float, float, int, int, float]:
    """Reserve `count` single orders with RedisStore.reserve from `threads` threads of this process
    (as gRPC server threads do), starting at wall time `start_at` so the processes of one round
    start together. Returns (start, end, requests, round trips, CPU seconds of this process)."""
    store = RedisStore(NET, url, namespace=namespace, cache_staleness_s=0.0, coalesce_reserves=coalesce)
    store.read(["SKU-000000"])
    with ThreadPoolExecutor(threads) as pool:
        time.sleep(max(0.0, start_at - time.time()))
        start, cpu = time.time(), time.process_time()
        list(pool.map(lambda i: store.reserve(*_order(prefix, i)), range(count)))
        end, cpu = time.time(), time.process_time() - cpu
    stats = store.reserve_batcher.stats() if store.reserve_batcher else None
    store.client.close()
    return start, end, count, stats.round_trips if stats else count, cpu


def _server_cpu_s(store: RedisStore) -> float:
    info = store.client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def test_single_order_reserves_from_threads(benchmark, bench_redis, results):
    """Single-order reserve() calls from 2 processes x 16 threads, each order its own call (no
    client-side batching): group commit off (one round trip per order: the baseline) and on
    (threads arriving while a round trip is in flight share the next pipelined one). Each round
    runs both, in alternating order, so a burst of noise on this shared machine hits both alike.
    Figures: median reservations/s of each, the median of the per-round ratios on / off, and the
    CPU each reservation cost in the client processes and in redis-server (on this 2-core box the
    cores, not the round trips, end up as the limit)."""
    namespace = new_namespace("bench")
    store = RedisStore(NET, bench_redis.url, namespace=namespace, cache_staleness_s=0.0)
    _load(store, 20)
    per_proc = RESERVATIONS // COALESCE_PROCESSES
    total = per_proc * COALESCE_PROCESSES
    runs = iter(range(10**6))
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpu_us: dict[tuple[str, bool], list[float]] = {(w, c): [] for w in ("client", "server") for c in (0, 1)}
    trips: list[float] = []
    with mp.get_context("spawn").Pool(COALESCE_PROCESSES) as pool:
        pool.map(_warm, range(COALESCE_PROCESSES), chunksize=1)  # imports done before round 1

        def one(coalesce: bool) -> None:
            r = next(runs)
            start_at = time.time() + 0.5   # both processes connected and waiting by then
            server = _server_cpu_s(store)
            out = pool.starmap(_threads_run, [(bench_redis.url, namespace, f"c{r}p{p}", per_proc,
                                               COALESCE_THREADS, coalesce, start_at)
                                              for p in range(COALESCE_PROCESSES)])
            cpu_us["server", coalesce].append((_server_cpu_s(store) - server) / total * 1e6)
            cpu_us["client", coalesce].append(sum(o[4] for o in out) / total * 1e6)
            rates[coalesce].append(total / (max(o[1] for o in out) - min(o[0] for o in out)))
            if coalesce:
                trips.append(sum(o[2] for o in out) / sum(o[3] for o in out))

        def run() -> None:
            first = len(rates[True]) % 2 == 0   # off first in rounds 1, 3, ...; on first in 2, 4, ...
            one(not first)
            one(first)

        benchmark.pedantic(run, rounds=COALESCE_ROUNDS, iterations=1)
    held = int((10**6 - store.read([f"SKU-{j:06d}" for j in range(20)]).atp).sum())
    # every reservation held its two units, none twice
    assert held == 2 * total * (len(rates[False]) + len(rates[True]))
    off, on = (float(np.median(rates[c])) for c in (False, True))
    ratio = float(np.median([b / a for a, b in zip(rates[False], rates[True], strict=True)]))
    info = {"reservations": total, "processes": COALESCE_PROCESSES, "threads": COALESCE_THREADS,
            "off_per_s": round(off), "on_per_s": round(on), "ratio_on_vs_off": round(ratio, 2),
            "off_rounds_per_s": [round(x) for x in rates[False]],
            "on_rounds_per_s": [round(x) for x in rates[True]],
            "requests_per_round_trip": round(float(np.median(trips)), 2), "target_per_s": 10_000}
    info.update({f"{who}_cpu_us_per_reservation_{'on' if c else 'off'}": round(float(np.median(v)), 1)
                 for (who, c), v in cpu_us.items()})
    results["reserve-threads", False] = (1 / off, rates[False], info)
    results["reserve-threads", True] = (1 / on, rates[True], info)
    benchmark.extra_info.update(info)

    def cpu(who: str, mode: str) -> float:
        return info[f"{who}_cpu_us_per_reservation_{mode}"]

    print(f"\nreserve() from {COALESCE_PROCESSES} processes x {COALESCE_THREADS} threads, {len(trips)} "
          f"round(s): group commit off median {off:,.0f}/s {info['off_rounds_per_s']}, on median "
          f"{on:,.0f}/s {info['on_rounds_per_s']} ({info['requests_per_round_trip']} requests per round "
          f"trip); on/off x{ratio:.2f} (median of per-round ratios). CPU per reservation off / on: "
          f"clients {cpu('client', 'off')} / {cpu('client', 'on')} us, "
          f"redis-server {cpu('server', 'off')} / {cpu('server', 'on')} us")
    store.client.close()


def test_bulk_load_rate(benchmark, bench_redis):
    """load_snapshot of LOAD_ROWS node x SKU rows (100 nodes): validation, numpy blocks, pipelined
    MSET batches and the version switch."""
    store = RedisStore(NET, bench_redis.url, namespace=new_namespace("bench"))
    n_skus = LOAD_ROWS // N_NODES
    skus = np.array([f"SKU-{j:07d}" for j in range(n_skus)], dtype=object)
    nodes = np.repeat(np.array(NET.node_ids, dtype=object), n_skus)
    sku_col = np.tile(skus, N_NODES)
    qty = np.arange(len(nodes), dtype=np.int64) % 50
    version = benchmark.pedantic(lambda: store.load_snapshot(nodes, sku_col, qty), rounds=2, iterations=1)
    assert store.version == version
    assert store.read([skus[-1]]).atp[-1, 0] == qty[-1]
    seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(rows=LOAD_ROWS, seconds=round(seconds, 3),
                                rows_per_s=round(LOAD_ROWS / seconds), target="1M rows <= 10 s")
    store.client.close()
