"""Return routing (optimize/returns.py) against brute force on random small instances: the same
net cost, every unit received once, one package per site (lines consolidated), recovery only
from dispositions the site gives and the condition allows; and the refusals that name the field."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from dom_engine.domain import Destination, PlanStatus, PreconditionError, ValidationError
from dom_engine.domain.rates import DISTANCE_UNITS
from dom_engine.domain.returns import (
    ALLOWED,
    Condition,
    Disposition,
    RecoveryValues,
    ReturnLine,
    ReturnOptions,
    ReturnRequest,
    ReturnSite,
)
from dom_engine.domain.stop import Deadline
from dom_engine.network.geo import haversine_km
from dom_engine.optimize.cpsat import solve_cpsat
from dom_engine.optimize.returns import (
    ReturnSetup,
    build_return_problem,
    plan_of,
    return_options,
    route_return,
)
from dom_engine.testing import FIXED_NOW
from dom_engine.testing.builders import banded_rate_card, random_network


def _instance(seed: int):
    rng = np.random.default_rng([seed, 15])
    network = random_network(rng, 6)
    sites = {}
    for node in network.nodes:
        if rng.random() < 0.7:
            conditions = frozenset(c for c in Condition if rng.random() < 0.8) or frozenset({Condition.NEW})
            dispositions = frozenset(d for d in Disposition if rng.random() < 0.7) or frozenset(Disposition)
            own_threshold = int(rng.integers(0, 5)) if rng.random() < 0.5 else None
            sites[node.node_id] = ReturnSite(node.node_id, conditions, dispositions,
                                             float(rng.uniform(0.2, 3.0)), bool(rng.random() < 0.5),
                                             own_threshold)
    if not sites:
        sites[network.nodes[0].node_id] = ReturnSite(network.nodes[0].node_id)
    recovery = RecoveryValues(per_sku={"S1": {(Condition.NEW, Disposition.RESTOCK): 40.0}},
                              short_below=int(rng.integers(0, 4)), short_bonus=float(rng.uniform(0, 15)))
    conditions = list(Condition)
    lines = tuple(ReturnLine(f"L{k}", f"S{int(rng.integers(0, 4))}", int(rng.integers(1, 4)),
                             conditions[int(rng.integers(0, 3))]) for k in range(int(rng.integers(1, 5))))
    origin = Destination(float(rng.uniform(28, 46)), float(rng.uniform(-120, -75)))
    options = ReturnOptions(pickup_allowed=bool(rng.random() < 0.9), dropoff_allowed=True,
                            dropoff_radius_km=float(rng.choice([0.0, 800.0, 5000.0])))
    request = ReturnRequest(f"R-{seed}", lines, origin, options=options, created_at=FIXED_NOW)
    return network, ReturnSetup(sites, recovery), request


def _scarcity(seed: int, n_nodes: int):
    """Stock per SKU and node (raising restock recovery below short_below) and, on every other
    instance, opportunity prices for some SKUs (which replace that bonus)."""
    rng = np.random.default_rng([seed, 16])
    stock_of = {f"S{j}": rng.integers(0, 5, n_nodes) for j in range(4)}
    prices_of = {f"S{j}": rng.uniform(0, 20, n_nodes) for j in range(4) if rng.random() < 0.5}
    return stock_of, prices_of if seed % 2 else None


def _bonus(setup, stock_of, prices_of, sku: str, site, node: int) -> float:
    """Restock's extra worth at `site` (node index `node`): the price, else the shortage bonus
    below the site's own threshold (or the global one)."""
    if prices_of is not None and sku in prices_of:
        return float(prices_of[sku][node])
    below = setup.recovery.short_below if site.short_below is None else site.short_below
    return setup.recovery.short_bonus if stock_of[sku][node] < below else 0.0


def _brute_force(network, setup, request, options, stock_of, prices_of) -> float:
    """Every choice of at most one route per site; each line's units to the cheapest chosen route
    that takes them (recovery worked out here from the values and the sites, not the options)."""
    by_node: dict[int, list] = {}
    for o in options:
        by_node.setdefault(o.node, []).append(o)
    best = np.inf
    for pick in product(*[[None, *opts] for opts in by_node.values()]):
        chosen = [o for o in pick if o is not None]
        total = sum(o.package for o in chosen)
        for i, line in enumerate(request.lines):
            unit = np.inf
            for o in chosen:
                site = setup.sites[network.nodes[o.node].node_id]
                if line.condition not in site.conditions:
                    continue
                values = []
                for d in site.dispositions & ALLOWED[line.condition]:
                    value = setup.recovery.value(line.sku, line.condition, d)
                    if value is not None and d is Disposition.RESTOCK:
                        value += _bonus(setup, stock_of, prices_of, line.sku, site, o.node)
                    if value is not None:
                        values.append(value)
                if values:
                    unit = min(unit, o.carrier_unit[i] + site.handling_per_unit - max(values))
            total += line.quantity * unit
        best = min(best, total)
    return best


def _transit_days(rate_card, network, request, option) -> int:
    """The days of the first band of the option's service that reaches the customer (0 for a drop-off)."""
    if option.route == "dropoff":
        return 0
    node = network.nodes[option.node]
    km = haversine_km(request.origin.latitude, request.origin.longitude, node.latitude, node.longitude)
    service = next(s for s in rate_card.services if s.name == option.route)
    distance = km / DISTANCE_UNITS[service.distance_unit]
    return next(b.transit_days for b in service.bands if distance <= b.max_distance)


@pytest.mark.parametrize("seed", range(40))
def test_net_cost_equals_brute_force(seed):
    network, setup, request = _instance(seed)
    rate_card = banded_rate_card()
    stock_of, prices_of = _scarcity(seed, len(network))
    options = return_options(request, network, rate_card, setup, stock_of, prices_of)
    assert all(o.transit_days == _transit_days(rate_card, network, request, o) for o in options)
    try:
        rp = build_return_problem(request, options, network, FIXED_NOW)
    except PreconditionError as err:   # some line no site takes: brute force agrees
        assert err.field.startswith("lines[") and err.field.endswith("].condition")
        assert not np.isfinite(_brute_force(network, setup, request, options, stock_of, prices_of))
        return
    plan = route_return(rp, network, Deadline.after_ms(5000))
    assert plan.status is PlanStatus.OPTIMAL
    expected = _brute_force(network, setup, request, options, stock_of, prices_of)
    assert plan.net_cost == pytest.approx(expected, abs=1e-6)
    assert plan.lower_bound == pytest.approx(plan.net_cost, abs=1e-6)
    assert plan.net_cost == pytest.approx(sum(p.net_cost for p in plan.packages), abs=1e-6)
    nodes = [p.node_id for p in plan.packages]
    assert len(nodes) == len(set(nodes))                   # one package per site: lines consolidated
    received = {}
    for p in plan.packages:
        site = setup.sites[p.node_id]
        route = next(o for o in options if network.nodes[o.node].node_id == p.node_id and o.route == p.route)
        assert p.transit_days == route.transit_days and (p.route != "dropoff" or p.transit_days == 0)
        for a in p.lines:
            received[a.line_id] = received.get(a.line_id, 0) + a.quantity
            line = next(ln for ln in request.lines if ln.line_id == a.line_id)
            assert line.condition in site.conditions and a.disposition in site.dispositions
            assert a.disposition in ALLOWED[line.condition]
    assert received == {ln.line_id: ln.quantity for ln in request.lines}
    if plan.runner_up is not None:
        assert plan.runner_up[1] >= plan.net_cost - 1e-6


def test_two_lines_share_a_package_when_that_is_cheaper():
    network, setup, _ = _instance(3)
    site = next(iter(setup.sites))
    only = ReturnSetup({site: ReturnSite(site, handling_per_unit=0.5)})
    request = ReturnRequest("R", (ReturnLine("a", "S0", 1), ReturnLine("b", "S2", 2)),
                            Destination(40.0, -90.0), options=ReturnOptions(dropoff_allowed=False))
    options = return_options(request, network, banded_rate_card(), only)
    rp = build_return_problem(request, options, network, FIXED_NOW)
    plan = route_return(rp, network, Deadline.after_ms(2000))
    assert len(plan.packages) == 1 and len(plan.packages[0].lines) == 2


def test_a_damaged_unit_is_never_restocked_and_no_site_for_it_names_the_line():
    network, _, _ = _instance(5)
    node = network.nodes[0].node_id
    setup = ReturnSetup({node: ReturnSite(node, conditions=frozenset({Condition.NEW, Condition.OPENED}))})
    request = ReturnRequest("R", (ReturnLine("a", "S0", 1), ReturnLine("b", "S1", 1, Condition.DAMAGED)),
                            Destination(40.0, -90.0))
    options = return_options(request, network, banded_rate_card(), setup)
    with pytest.raises(PreconditionError, match="damaged") as err:
        build_return_problem(request, options, network, FIXED_NOW)
    assert err.value.field == "lines[1].condition"
    assert RecoveryValues().value("S1", Condition.DAMAGED, Disposition.RESTOCK) is None


def test_bad_requests_name_the_field():
    with pytest.raises(ValidationError, match=r"lines\[0\]\.quantity"):
        ReturnRequest("R", (ReturnLine("a", "S0", 0),), Destination(40.0, -90.0))
    with pytest.raises(ValidationError, match="options"):
        ReturnRequest("R", (ReturnLine("a", "S0", 1),), Destination(40.0, -90.0),
                      options=ReturnOptions(pickup_allowed=False, dropoff_allowed=False))
    with pytest.raises(ValidationError, match=r"lines\[1\]\.line_id"):
        ReturnRequest("R", (ReturnLine("a", "S0", 1), ReturnLine("a", "S1", 1)), Destination(40.0, -90.0))


@pytest.mark.parametrize("seed", range(0, 40, 4))
def test_cp_sat_where_the_search_gives_up_finds_the_same_net_cost(seed):
    """Returns take the outbound fallback too (single.solve hands CP-SAT what the branch and bound
    leaves): CP-SAT alone solves the return's Problem to the brute-force optimum."""
    network, setup, request = _instance(seed)
    stock_of, prices_of = _scarcity(seed, len(network))
    options = return_options(request, network, banded_rate_card(), setup, stock_of, prices_of)
    try:
        rp = build_return_problem(request, options, network, FIXED_NOW)
    except PreconditionError:
        return
    sol = solve_cpsat(rp.problem, stop=Deadline.after_ms(5000))
    assert sol.proven_optimal
    plan = plan_of(rp, sol, network, 0.0)
    assert plan.net_cost == pytest.approx(_brute_force(network, setup, request, options, stock_of, prices_of),
                                          abs=1e-6)
