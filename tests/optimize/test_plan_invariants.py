"""Invariants every plan from route() must satisfy, whatever the instance (helpers.check_plan):
units conserved, ATP respected after policy buffers, promise dates met, shipment caps, kits whole
and from one node, excluded / channel-restricted / capacity-exhausted nodes unused, money adds up;
plus a cost breakdown recomputed by hand from the published US rate card."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from dom_engine.domain import (
    Destination,
    Line,
    Mode,
    Network,
    Node,
    NodeKind,
    Order,
    PolicyProfile,
    us_network_rate_card,
)
from dom_engine.domain.stop import Deadline
from dom_engine.inventory.base import StockView
from dom_engine.io.demo import demo_inventory, demo_network, demo_policies, demo_rate_card, random_order
from dom_engine.optimize import OrderProblem, solve_order
from dom_engine.testing import FIXED_NOW

from .helpers import Scenario, check_plan, scenario, single_option_order

MODES = [Mode.COST, Mode.COST, Mode.FEWEST_SHIPMENTS, Mode.FASTEST]


def _route(sc: Scenario, budget_ms: float = 5_000):
    return solve_order(OrderProblem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now),
                       Deadline.after_ms(budget_ms))


@pytest.mark.parametrize("seed", range(60))
def test_random_plans_satisfy_invariants(seed):
    """Varied random instances (kits, buffers, channels, exclusions, promises, backorder, modes)."""
    rng = np.random.default_rng(seed)
    sc = scenario(
        seed, n_nodes=int(rng.integers(5, 30)), n_lines=int(rng.integers(1, 7)),
        kit_probability=0.7, backorder=bool(seed % 2), promise_days=[None, 2, 4][seed % 3],
        max_shipments=[None, 1, 2, 3][seed % 4], mode=MODES[(seed // 2) % 4],
        store_buffer=int(rng.integers(0, 3)), channel=["", "web"][(seed // 3) % 2],
        store_only_channel=seed % 5 == 0, excluded=int(rng.integers(0, 4)),
        density=[None, 0.35][(seed // 2) % 2], depth=3,
    )
    plan = _route(sc)
    if plan.status.has_plan:
        check_plan(plan, sc)
    else:
        assert plan.infeasible_reason
        assert not plan.shipments


@pytest.mark.parametrize("seed", range(30))
def test_ship_complete_gives_one_shipment(seed):
    """ship_complete caps the plan at one shipment (or backorders / fails), never two."""
    sc = scenario(seed, n_nodes=20, n_lines=4, backorder=seed % 2 == 1, density=0.6)
    sc = replace(sc, order=single_option_order(sc.order, ship_complete=True, max_shipments=4))
    plan = _route(sc)
    if plan.status.has_plan:
        check_plan(plan, sc)
        assert len(plan.shipments) <= 1


@pytest.mark.parametrize("seed", range(20))
def test_nodes_without_capacity_are_never_used(seed):
    """Zeroing the daily capacity of the nodes a plan used moves the order elsewhere (or makes it
    infeasible); it never ships from a node with capacity_left 0."""
    sc = scenario(seed, n_nodes=25, n_lines=3, density=0.6)
    first = _route(sc)
    if not first.shipments:
        return
    cap = np.full(len(sc.network), 3, dtype=np.int64)
    for s in first.shipments:
        cap[sc.network.index_of(s.node_id)] = 0
    stock = StockView(sc.stock.version, sc.stock.skus, sc.stock.atp, capacity_left=cap)
    sc2 = replace(sc, stock=stock)
    plan = _route(sc2)
    if plan.status.has_plan:
        check_plan(plan, sc2)
        assert not {s.node_id for s in plan.shipments} & {s.node_id for s in first.shipments}


def test_demo_orders_respect_policies():
    """The realistic demo (stores keep 1 unit, marketplace ships from warehouses only, three modes)."""
    network = demo_network()
    store, policies, rates = demo_inventory(network), demo_policies(), demo_rate_card()
    rng = np.random.default_rng(3)
    planned = 0
    for k in range(45):
        policy = list(policies.values())[k % 3]
        order = random_order(rng, int(rng.integers(1, 7)), deliver_in_days=[None, 2, 5][k % 3],
                             channel=["", "marketplace"][k % 2], created_at=FIXED_NOW,
                             max_quantity=4)
        stock = store.read([line.sku for line in order.lines])
        sc = Scenario(order, stock, network, rates, policy, FIXED_NOW, {})
        plan = _route(sc)
        if plan.status.has_plan:
            planned += 1
            check_plan(plan, sc)
    assert planned >= 30


# --------------------------------------------------------------------------- hand-priced costs
def _haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance written out independently of network.geo."""
    r = 6371.0088
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@pytest.mark.parametrize("lon, transit", [(-77.0, 1), (-86.0, 3), (-104.0, 4), (-118.0, 5)])
def test_ground_cost_breakdown_by_hand(lon, transit):
    """One ground shipment from a single warehouse to New York, priced by hand from the published
    card: 8.759 per package, (0.423 + 0.000541 x miles) per unit, node handling per shipment and
    per unit; CO2e 0.000162 kg per kg per mile; transit days by distance band (1/3/4/5)."""
    node = Node("DC", NodeKind.WAREHOUSE, 40.0, lon, handling_per_shipment=1.25, handling_per_unit=0.4)
    network = Network((node,))
    dest = Destination(40.71, -74.01)
    order = Order("O-hand", (Line("L1", "X", 3, unit_weight_kg=2.0), Line("L2", "Y", 2)), dest,
                  created_at=FIXED_NOW)
    stock = StockView(1, ("X", "Y"), np.array([[10, 10]], dtype=np.int64))
    plan = solve_order(OrderProblem(order, stock, network, us_network_rate_card(), PolicyProfile(),
                                    FIXED_NOW), Deadline.after_ms(5_000))
    assert plan.status.name == "OPTIMAL"
    (s,) = plan.shipments
    assert s.service == "ground"
    km = _haversine_km(40.0, lon, 40.71, -74.01)
    miles, units, kg = km / 1.609344, 5, 3 * 2.0 + 2 * 1.0
    assert s.distance_km == pytest.approx(km, rel=1e-9)
    assert s.cost.package == pytest.approx(8.759)
    assert s.cost.units == pytest.approx(0.423 * units)
    assert s.cost.distance == pytest.approx(0.000541 * miles * units, rel=1e-9)
    assert s.cost.handling == pytest.approx(1.25 + 0.4 * units)
    assert s.cost.co2e_kg == pytest.approx(0.000162 * miles * kg, rel=1e-9)
    total = 8.759 + 0.423 * units + 0.000541 * miles * units + 1.25 + 0.4 * units
    assert plan.total_cost == pytest.approx(total, rel=1e-9)
    assert plan.objective == pytest.approx(total, rel=1e-9)  # COST mode, cost_weight 1, one shipment
    assert s.ship_date == FIXED_NOW.date()
    assert s.delivery_date == FIXED_NOW.date() + timedelta(days=transit)


def test_cutoff_and_processing_days_shift_dates():
    """An order placed after a node's cutoff leaves the next day, plus its processing days; the
    promise filter uses that date (a 1-day promise cannot be met from such a node by ground)."""
    late = Node("DC", NodeKind.WAREHOUSE, 40.0, -77.0, processing_days=1, cutoff_hour=12.0)
    network = Network((late,))
    order = Order("O-late", (Line("L1", "X", 1),), Destination(40.71, -74.01), created_at=FIXED_NOW)
    stock = StockView(1, ("X",), np.array([[5]], dtype=np.int64))
    plan = solve_order(OrderProblem(order, stock, network, us_network_rate_card(), PolicyProfile(),
                                    FIXED_NOW), Deadline.after_ms(5_000))
    (s,) = plan.shipments
    assert s.ship_date == FIXED_NOW.date() + timedelta(days=2)       # 15:00 > 12:00 cutoff, +1 processing
    assert s.delivery_date == s.ship_date + timedelta(days=1)
    tight = replace(order, deliver_by=FIXED_NOW.date() + timedelta(days=2))
    plan = solve_order(OrderProblem(tight, stock, network, us_network_rate_card(), PolicyProfile(),
                                    FIXED_NOW), Deadline.after_ms(5_000))
    assert plan.status.name == "INFEASIBLE"
