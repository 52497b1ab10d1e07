"""One master of a Redis Cluster killed (SIGKILL) and restarted while threads reserve and release
orders through one RedisStore: calls fail with StoreUnavailable or succeed, never anything else;
after the restart the same store object recovers by itself, and the ledger reconciles exactly.

The cluster is private (the session cluster is never disturbed), durable (fsync-always append-only
files, so an acknowledged write survives the kill) and runs with cluster-require-full-coverage no,
so while the master is down the others keep serving: orders on their shards still succeed, and
orders spanning a live and the dead shard exercise the per-shard compensation. Clients behave like
an OMS: an order (or release) that failed with StoreUnavailable is retried later with the same
order id and allocations until it gets a definite answer.

Multi-shard orders use plentiful SKUs (they never conflict); the scarce SKU is ordered alone. That
is deliberate: a Cluster reservation cut short by the kill may leave its first shards held, and a
retry completes it; a retry that ends in a conflict instead would leave those shards held until the
hold's TTL (documented in redis_store.py), which an exact ledger cannot tell from a leak.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from dom_engine.domain import NotFoundError
from dom_engine.inventory.base import Allocation, Reservation, ReservationConflict, StoreUnavailable
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import row_network
from tests.redis_servers import client_url

NET = row_network(4)
PLENTY = [f"P{j}" for j in range(12)]
SCARCE = "SCARCE"
SKUS = [*PLENTY, SCARCE]
PLENTY_ON_HAND, SCARCE_ON_HAND, SCARCE_SAFETY = 10_000, 3, 1
THREADS = 4
DEADLINE_S = 30.0  # a hard bound for the polls below; the test takes about 5 s


@dataclass
class Op:
    """One client request: reserve `order` with `allocations`, or release it; `failed` counts
    the attempts that ended in StoreUnavailable (retried later, like an OMS would)."""

    kind: str
    order: str
    allocations: tuple[Allocation, ...] = ()
    failed: int = 0


@dataclass
class Ledger:
    """What the clients were told: live reservations, released and conflicted orders, and each
    success with the phase it happened in and whether it touched the killed master."""

    live: dict[str, Reservation] = field(default_factory=dict)
    released: set[str] = field(default_factory=set)
    releasing: set[str] = field(default_factory=set)
    conflicts: set[str] = field(default_factory=set)
    successes: list[tuple[str, bool]] = field(default_factory=list)
    unavailable: list[int] = field(default_factory=lambda: [0] * THREADS)
    errors: list[tuple[Op, BaseException]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, phase: str, victim: bool | None = None) -> int:
        with self.lock:
            return sum(1 for p, v in self.successes if p == phase and (victim is None or v == victim))


def _order_allocations(t: int, k: int) -> tuple[Allocation, ...]:
    """Every 4th order takes one unit of the scarce SKU alone; the others two plentiful SKUs."""
    node = f"N{(t + k) % len(NET)}"
    if k % 4 == 3:
        return (Allocation(node, SCARCE, 1),)
    first, second = PLENTY[(5 * t + k) % 12], PLENTY[(5 * t + 7 * k + 3) % 12]
    if first == second:
        second = PLENTY[(PLENTY.index(first) + 1) % 12]
    return Allocation(node, first, 1 + k % 2), Allocation(f"N{(t + k + 1) % len(NET)}", second, 1)


def _load(store: RedisStore) -> np.ndarray:
    """Load the stock; returns on hand - safety as [nodes, SKUS]."""
    node_ids = [n.node_id for n in NET.nodes for _ in SKUS]
    skus = [s for _ in NET.nodes for s in SKUS]
    on_hand = np.array([SCARCE_ON_HAND if s == SCARCE else PLENTY_ON_HAND for s in skus])
    safety = np.array([SCARCE_SAFETY if s == SCARCE else 0 for s in skus])
    store.load_snapshot(node_ids, skus, on_hand, safety)
    return (on_hand - safety).reshape(len(NET), len(SKUS))


def test_cluster_master_killed_and_restarted_during_reservations(private_redis_cluster):
    cluster = private_redis_cluster(durable=True, full_coverage=False)
    store = RedisStore(NET, client_url(cluster), namespace="restart", cache_staleness_s=0.0)
    available = _load(store)

    def master_of(sku: str) -> int:
        key = store.keys.reserved(store.keys.shard_of(sku))
        return cluster.index_of_port(store.client.get_node_from_key(key).port)

    victim = master_of(SCARCE)
    victim_skus = {s for s in SKUS if master_of(s) == victim}
    assert {master_of(s) for s in PLENTY} == {0, 1, 2}  # orders span every master
    victim_id = cluster.node_id(victim)

    ledger = Ledger()
    phase = ["before"]
    stop = threading.Event()
    hard_deadline = time.monotonic() + DEADLINE_S

    def run(t: int, op: Op, pending: deque[Op]) -> None:
        if op.kind == "release":
            try:
                assert store.release(f"res-{op.order}") is None
            except NotFoundError:
                if not op.failed:  # only an attempt cut short may have released it already
                    raise
            with ledger.lock:
                del ledger.live[op.order]
                ledger.released.add(op.order)
            return
        try:
            res = store.reserve(op.order, op.allocations)
        except ReservationConflict:
            with ledger.lock:
                ledger.conflicts.add(op.order)
            return
        assert res.reservation_id == f"res-{op.order}" and res.allocations == op.allocations, res
        with ledger.lock:
            ledger.live[op.order] = res
            ledger.successes.append((phase[0], any(a.sku in victim_skus for a in op.allocations)))
            mine = [o for o in ledger.live if o.startswith(f"t{t}-") and o not in ledger.releasing]
            if int(op.order.split("-")[1]) % 3 == 2 and len(mine) > 1:
                ledger.releasing.add(mine[0])
                pending.appendleft(Op("release", mine[0]))

    def client(t: int) -> None:
        pending: deque[Op] = deque()
        k = turn = 0
        while not stop.is_set() or pending:
            if time.monotonic() > hard_deadline:
                ledger.errors.append((Op("deadline", f"t{t}"), TimeoutError(f"{len(pending)} left")))
                return
            turn += 1
            if pending and (stop.is_set() or turn % 2 == 0):
                op = pending.popleft()
            else:
                op, k = Op("reserve", f"t{t}-{k}", _order_allocations(t, k)), k + 1
            try:
                run(t, op, pending)
            except StoreUnavailable:
                op.failed += 1
                ledger.unavailable[t] += 1
                pending.append(op)
                time.sleep(0.002)
            except BaseException as exc:  # noqa: BLE001 - anything else fails the test below
                ledger.errors.append((op, exc))
                return

    def wait_for(condition, what: str) -> None:
        while not condition():
            assert not ledger.errors, ledger.errors
            assert time.monotonic() < hard_deadline, f"timed out waiting for {what}"
            time.sleep(0.005)

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: ledger.count("before") >= 40, "reservations before the kill")
        phase[0] = "outage"
        cluster.kill(victim)
        # every client hits the dead master, and orders on the live masters keep succeeding
        wait_for(lambda: min(ledger.unavailable) >= 1 and ledger.count("outage", victim=False) >= 10,
                 "failures and successes during the outage")
        cluster.restart(victim)  # same port and nodes.conf; returns once cluster_state:ok everywhere
        phase[0] = "after"
        wait_for(lambda: ledger.count("after", victim=True) >= 20, "reservations on the restarted master")
    finally:
        stop.set()
        for thread in threads:
            thread.join(DEADLINE_S)
    assert not ledger.errors, ledger.errors
    assert cluster.node_id(victim) == victim_id

    # retried after the outage, every order gets the same reservation or a clean conflict
    for order, res in list(ledger.live.items()):
        again = store.reserve(order, res.allocations)
        assert (again.reservation_id, again.allocations) == (res.reservation_id, res.allocations)
    for order in ledger.conflicts - ledger.released:
        assert store.reservation_for_order(order) is None, order  # a conflict held nothing
        t, k = (int(x) for x in order[1:].split("-"))
        try:
            ledger.live[order] = store.reserve(order, _order_allocations(t, k))
        except ReservationConflict:
            assert store.reservation_for_order(order) is None, order
    for order in ledger.released:
        assert store.reservation_for_order(order) is None, order

    # the ledger: Redis holds exactly the live reservations, unit for unit, never oversold
    held_ids = {rid.decode() for shard in range(store.keys.shards)
                for rid in store.client.hkeys(store.keys.holds(shard))}
    assert held_ids == {f"res-{o}" for o in ledger.live}
    expected = np.zeros((len(NET), len(SKUS)), dtype=np.int64)
    for order, res in ledger.live.items():
        assert store.reservation_for_order(order).allocations == res.allocations, order
        for a in res.allocations:
            expected[NET.index_of(a.node_id), SKUS.index(a.sku)] += a.quantity
    for j, sku in enumerate(SKUS):
        raw = store.client.hget(store.keys.reserved(store.keys.shard_of(sku)), sku)
        reserved = np.zeros(len(NET), dtype=np.int64) if raw is None else np.frombuffer(raw, dtype="<i8")
        np.testing.assert_array_equal(reserved, expected[:, j], err_msg=sku)
    assert (available - expected >= 0).all(), "oversold"
    assert expected[:, SKUS.index(SCARCE)].sum() > 0 and ledger.conflicts  # the scarce SKU did bind
    np.testing.assert_array_equal(store.read(SKUS).atp, available - expected)  # on hand - held = ATP
    store.client.close()
