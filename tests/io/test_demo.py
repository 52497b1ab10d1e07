"""The bundled demo: size, realism, determinism, order generator, export round trip."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from dom_engine.app.bootstrap import load_components
from dom_engine.app.config import load_config
from dom_engine.domain import Limits, Mode, NodeKind, PlanStatus, validate_order
from dom_engine.io.demo import (
    DEMO_SEED,
    demo_catalogue,
    demo_inventory,
    demo_network,
    demo_policies,
    demo_stock,
    export_demo,
    load_cities,
    order_stream,
    random_order,
)
from dom_engine.testing import demo_engine

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_network_shape():
    net = demo_network()
    kinds = [n.kind for n in net.nodes]
    assert len(net) == 100
    assert kinds.count(NodeKind.WAREHOUSE) == 10 and kinds.count(NodeKind.STORE) == 90
    assert {"IND1", "DFW7", "OAK4"} <= set(net.node_ids)
    assert "ST-NEW-YORK" in net.node_ids
    stores = [n for n in net.nodes if n.kind is NodeKind.STORE]
    warehouses = [n for n in net.nodes if n.kind is NodeKind.WAREHOUSE]
    assert min(s.handling_per_unit for s in stores) > max(w.handling_per_unit for w in warehouses)
    capped = [s for s in stores if s.daily_shipment_capacity is not None]
    assert 0 < len(capped) < len(stores)
    assert all(w.daily_shipment_capacity is None for w in warehouses)


def test_same_seed_same_arrays_different_seed_different():
    net = demo_network()
    skus_a, on_hand_a, safety_a = demo_stock(net, DEMO_SEED)
    skus_b, on_hand_b, safety_b = demo_stock(demo_network(), DEMO_SEED)
    assert skus_a == skus_b
    np.testing.assert_array_equal(on_hand_a, on_hand_b)
    np.testing.assert_array_equal(safety_a, safety_b)
    assert demo_network() == net
    _, on_hand_c, _ = demo_stock(net, DEMO_SEED + 1)
    assert not np.array_equal(on_hand_a, on_hand_c)


def test_stock_is_realistic():
    net = demo_network()
    skus, on_hand, safety = demo_stock(net)
    assert len(skus) == 5000 and skus[0] == "SKU-00001" and skus[-1] == "SKU-05000"
    assert on_hand.shape == (100, 5000) and on_hand.dtype == np.int64
    assert (safety <= on_hand).all() and (on_hand >= 0).all()
    wh = net.kinds == NodeKind.WAREHOUSE.value
    assert (on_hand[wh] > 0).mean() > 0.75                      # warehouses hold most SKUs
    assert (on_hand[~wh] > 0).mean() < 0.2                       # stores a subset
    assert on_hand[wh].mean() > 10 * on_hand[~wh].mean()         # deep vs. thin
    held = (on_hand[~wh] > 0).mean(axis=0)
    assert held[:50].mean() > 5 * held[-1000:].mean()            # popular SKUs on more shelves
    assert on_hand[wh][:, 0].mean() > on_hand[wh][:, -1].mean()  # and deeper in warehouses


def test_catalogue_weights_and_popularity():
    cat = demo_catalogue()
    assert len(cat.skus) == 5000 and cat.unit_weight_kg.shape == (5000,)
    assert (cat.unit_weight_kg > 0).all()
    assert cat.popularity.sum() == pytest.approx(1.0)
    assert (np.diff(cat.popularity) <= 0).all()


def test_demo_inventory_store_matches_stock():
    net = demo_network()
    store = demo_inventory(net)
    skus, on_hand, _, safety = store.arrays()
    _, expected, expected_safety = demo_stock(net)
    np.testing.assert_array_equal(on_hand, expected)
    np.testing.assert_array_equal(safety, expected_safety)
    assert store.capacity_left() is not None


def test_policies():
    policies = demo_policies()
    assert {p.mode for p in policies.values()} == {Mode.COST, Mode.FEWEST_SHIPMENTS, Mode.FASTEST}
    assert policies["default"].mode is Mode.COST
    for p in policies.values():
        assert "store" not in p.channel_node_kinds["marketplace"]


def test_random_orders_are_valid_and_reproducible():
    net = demo_network()
    skus = frozenset(demo_catalogue().skus)
    a = random_order(np.random.default_rng(5), 4, created_at=NOW, deliver_in_days=3)
    b = random_order(np.random.default_rng(5), 4, created_at=NOW, deliver_in_days=3)
    assert a == b
    assert len(a.lines) == 4 and len({ln.sku for ln in a.lines}) == 4
    assert a.deliver_by == date(2026, 6, 4)
    validate_order(a, Limits(), net, skus, NOW)


def test_order_stream_destinations_follow_cities():
    orders = list(order_stream(seed=3, n_orders=300, created_at=NOW))
    assert orders == list(order_stream(seed=3, n_orders=300, created_at=NOW))
    assert [o.order_id for o in orders[:2]] == ["ORD-000001", "ORD-000002"]
    assert all(1 <= len(o.lines) <= 6 for o in orders)
    cities = load_cities()
    lat = np.array([o.destination.latitude for o in orders])
    lon = np.array([o.destination.longitude for o in orders])
    nearest = np.hypot(lat[:, None] - cities.latitudes, lon[:, None] - cities.longitudes).min(axis=1)
    assert np.median(nearest) < 0.6                               # jittered around a city
    ny = np.hypot(lat - cities.latitudes[0], lon - cities.longitudes[0]) < 1.5
    assert ny.mean() > 0.05                                       # the largest metro gets its share


def test_export_round_trips_to_the_same_data(tmp_path):
    paths = export_demo(tmp_path)
    assert sorted(p.name for p in paths) == ["dom.toml", "inventory.csv", "nodes.csv", "orders-batch.jsonl",
                                             "rates.toml"]
    config = load_config(tmp_path / "dom.toml", env={})
    parts = load_components(config)
    net = demo_network()
    assert parts.network == net
    skus, on_hand, _, safety = parts.store.arrays()
    exp_skus, exp_on_hand, exp_safety = demo_stock(net)
    # the export writes only non-empty cells, so SKU columns may be a subset; compare by name
    cols = [exp_skus.index(s) for s in skus]
    np.testing.assert_array_equal(on_hand, exp_on_hand[:, cols])
    np.testing.assert_array_equal(safety, exp_safety[:, cols])
    assert exp_on_hand[:, [j for j in range(len(exp_skus)) if exp_skus[j] not in set(skus)]].sum() == 0
    assert dict(parts.policies) == demo_policies()


def test_demo_engine_routes_generated_orders_consistently():
    """Whatever the solver decides, plans conserve units and never ship more than ATP."""
    engine = demo_engine()
    for order in order_stream(seed=9, n_orders=15, created_at=datetime.now(UTC)):
        stock = engine.store.read(sorted({ln.sku for ln in order.lines}))
        plan = engine.route(order)
        assert plan.status in (PlanStatus.OPTIMAL, PlanStatus.FEASIBLE)
        assert plan.units_shipped + plan.units_backordered == order.total_units
        shipped: dict[tuple[str, str], int] = {}
        for s in plan.shipments:
            for ln in s.lines:
                shipped[s.node_id, ln.sku] = shipped.get((s.node_id, ln.sku), 0) + ln.quantity
        for (node_id, sku), qty in shipped.items():
            assert qty <= stock.column(sku)[engine.network.index_of(node_id)]
        assert plan.snapshot_version == engine.store.version
