"""Quantities at the edge, over a real loopback gRPC server, on the memory store and on RedisStore
over a real redis-server (standalone and Cluster): every quantity a client sends (and the on-hand
level a delta would leave) is bounded by MAX_QUANTITY, answered INVALID_ARGUMENT naming the field
and the limit; a rejected batch applies nothing and consumes no event id. A duplicate (node, SKU)
row in a snapshot is bad input too: INVALID_ARGUMENT naming the row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import grpc
import numpy as np
import pytest

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.inventory.rows import MAX_QUANTITY, MAX_SKU_LENGTH
from dom_engine.service.errors import ERROR_FIELD_KEY
from dom_engine.service.server import build_server
from tests.redis_servers import client_url, new_namespace

INT64_MAX = 2**63 - 1
LIMIT_TEXT = f"{MAX_QUANTITY:,}"


@pytest.fixture(params=["memory", "redis", "cluster"])
def live(request: pytest.FixtureRequest, make_engine) -> Iterator[tuple]:
    """(engine, InventoryService stub) on a fresh engine whose store is the parametrized backend,
    behind its own server."""
    engine = make_engine()
    store = None
    if request.param != "memory":
        target = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")
        store = RedisStore(engine.network, client_url(target), namespace=new_namespace("lim"),
                           cache_staleness_s=0.0, clock=engine.clock)
        skus, on_hand, _, safety = engine.store.arrays()
        rows, cols = np.nonzero(on_hand)
        node_ids, sku_ids = np.array(engine.network.node_ids, dtype=object), np.array(skus, dtype=object)
        store.load_snapshot(node_ids[rows], sku_ids[cols], on_hand[rows, cols], safety[rows, cols])
        engine = replace(engine, store=store)
    server, port = build_server(engine, "127.0.0.1:0", max_workers=2)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            yield engine, inventory_grpc_pb.InventoryServiceStub(ch)
    finally:
        server.stop(None)
        if store is not None:
            store.client.close()


def _deltas(*deltas: inventory_pb.StockDelta) -> inventory_pb.UpsertInventoryRequest:
    return inventory_pb.UpsertInventoryRequest(deltas=inventory_pb.StockDeltas(deltas=list(deltas)))


def _snapshot(*rows: tuple) -> inventory_pb.UpsertInventoryRequest:
    return inventory_pb.UpsertInventoryRequest(snapshot=inventory_pb.StockSnapshot(rows=[
        inventory_pb.StockRow(node_id=n, sku=s, on_hand=q, safety_stock=saf) for n, s, q, saf in rows]))


def _on_hand(engine, node: str, sku: str) -> int:
    """On hand + ... read as ATP (no holds, no safety stock on these cells)."""
    return int(engine.store.read([sku]).atp[engine.network.index_of(node), 0])


def _refused(inventory, request, field: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        inventory.UpsertInventory(request, timeout=30)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert dict(err.value.trailing_metadata())[ERROR_FIELD_KEY] == field
    return err.value


def test_the_issue_overflow_is_invalid_argument_and_changes_nothing(live):
    """The reported sequence: on_hand 2^63-1, then adjust +1. The first is over the limit already;
    at the limit, +1 would leave more than the limit on hand: both refused naming the field."""
    engine, inventory = live
    version = engine.store.version
    err = _refused(inventory, _deltas(inventory_pb.StockDelta(
        event_id="big", node_id="EAST", sku="SKU-B", on_hand=INT64_MAX)), "deltas.deltas[0].on_hand")
    assert LIMIT_TEXT in err.details()
    assert engine.store.version == version and _on_hand(engine, "EAST", "SKU-B") == 0

    at_limit = _deltas(inventory_pb.StockDelta(event_id="max", node_id="EAST", sku="SKU-B",
                                               on_hand=MAX_QUANTITY))
    assert inventory.UpsertInventory(at_limit, timeout=30).applied == 1
    err = _refused(inventory, _deltas(inventory_pb.StockDelta(
        event_id="plus1", node_id="EAST", sku="SKU-B", adjust=1)), "deltas.deltas[0].adjust")
    assert LIMIT_TEXT in err.details()
    assert _on_hand(engine, "EAST", "SKU-B") == MAX_QUANTITY


@pytest.mark.parametrize("delta, field", [
    (dict(adjust=INT64_MAX), "adjust"),
    (dict(adjust=-INT64_MAX - 1), "adjust"),
    (dict(adjust=MAX_QUANTITY + 1), "adjust"),
    (dict(on_hand=MAX_QUANTITY + 1), "on_hand"),
    (dict(safety_stock=INT64_MAX), "safety_stock"),
], ids=["adjust-int64-max", "adjust-int64-min", "adjust-over", "on-hand-over", "safety-int64-max"])
def test_a_batch_with_one_quantity_out_of_range_applies_nothing(live, delta, field):
    """The bad delta is the second of the batch: the first (valid) one is not applied either and
    its event id is not consumed, so the corrected batch applies both."""
    engine, inventory = live
    version = engine.store.version
    good = inventory_pb.StockDelta(event_id="good", node_id="EAST", sku="SKU-A", adjust=5)
    bad = inventory_pb.StockDelta(event_id="bad", node_id="EAST", sku="SKU-A", **delta)
    err = _refused(inventory, _deltas(good, bad), f"deltas.deltas[1].{field}")
    assert LIMIT_TEXT in err.details()
    assert engine.store.version == version and _on_hand(engine, "EAST", "SKU-A") == 1000
    fixed = inventory_pb.StockDelta(event_id="bad", node_id="EAST", sku="SKU-A", adjust=-3)
    assert inventory.UpsertInventory(_deltas(good, fixed), timeout=30).applied == 2
    assert _on_hand(engine, "EAST", "SKU-A") == 1002


def test_adjusts_adding_up_past_the_limit_are_refused_whole(live):
    """Each adjust is within the limit, their sum on one cell is not: the batch is refused."""
    engine, inventory = live
    half = MAX_QUANTITY // 2 + 1
    err = _refused(inventory, _deltas(
        inventory_pb.StockDelta(event_id="h1", node_id="WEST", sku="SKU-C", adjust=half),
        inventory_pb.StockDelta(event_id="h2", node_id="WEST", sku="SKU-C", adjust=half)),
        "deltas.deltas[1].adjust")
    assert LIMIT_TEXT in err.details()
    assert _on_hand(engine, "WEST", "SKU-C") == 2000


def test_snapshot_quantities_over_the_limit_are_invalid_argument(live):
    engine, inventory = live
    version = engine.store.version
    for rows, field in [
        ((("EAST", "SKU-A", 5, 0), ("WEST", "SKU-A", MAX_QUANTITY + 1, 0)), "snapshot.rows[1].on_hand"),
        ((("EAST", "SKU-A", 5, INT64_MAX),), "snapshot.rows[0].safety_stock"),
    ]:
        err = _refused(inventory, _snapshot(*rows), field)
        assert LIMIT_TEXT in err.details()
    assert engine.store.version == version and _on_hand(engine, "EAST", "SKU-A") == 1000
    done = inventory.UpsertInventory(_snapshot(("EAST", "SKU-A", MAX_QUANTITY, 0)), timeout=30)
    assert done.applied == 1 and _on_hand(engine, "EAST", "SKU-A") == MAX_QUANTITY


def test_a_duplicate_snapshot_row_is_invalid_argument_naming_the_row(live):
    """Item 4 of issue 9: it was FAILED_PRECONDITION (a ConfigError), as if the server were
    misconfigured; it is the client's input."""
    engine, inventory = live
    version = engine.store.version
    err = _refused(inventory, _snapshot(("EAST", "SKU-A", 1, 0), ("WEST", "SKU-A", 2, 0),
                                        ("EAST", "SKU-A", 3, 0)), "snapshot.rows[2]")
    assert "duplicate" in err.details() and "rows[0]" in err.details()
    assert engine.store.version == version and _on_hand(engine, "EAST", "SKU-A") == 1000


def test_oversized_sku_ids_and_unknown_nodes_are_invalid_argument(live):
    """A 1 MB SKU id in a delta was stored as a new SKU on the memory store; in a snapshot it was
    accepted too. SKU ids are bounded (MAX_SKU_LENGTH); an unknown node is the client's input as
    well. Nothing is applied."""
    engine, inventory = live
    version = engine.store.version
    huge = "S" * (1 << 20)
    err = _refused(inventory, _deltas(
        inventory_pb.StockDelta(event_id="ok", node_id="EAST", sku="SKU-A", adjust=1),
        inventory_pb.StockDelta(event_id="huge", node_id="EAST", sku=huge, adjust=1)),
        "deltas.deltas[1].sku")
    assert str(MAX_SKU_LENGTH) in err.details() and len(err.details()) < 2000
    _refused(inventory, _snapshot(("EAST", "SKU-A", 1, 0), ("WEST", huge, 2, 0)), "snapshot.rows[1].sku")
    _refused(inventory, _snapshot(("EAST", "SKU-A", 1, 0), ("NOWHERE", "SKU-A", 2, 0)),
             "snapshot.rows[1].node_id")
    assert engine.store.version == version and _on_hand(engine, "EAST", "SKU-A") == 1000
    assert huge not in engine.store.known_skus()
