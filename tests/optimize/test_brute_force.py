"""An independent brute force for tiny orders (<= 6 nodes, <= 3 lines, no kits, no shared SKUs).

It never touches optimize/problem.py: prices come straight from network.pricing.price, filters,
buffers, ship days and the objective are re-derived here from the domain objects. If the item
transformation (Problem arrays, service dominance, penalties, split credit) had a modelling bug,
fast search and CP-SAT would agree with each other and still be wrong; this catches that.

Enumeration: every assignment of "no shipment" or one usable service to each eligible node, with at
most max_shipments shipments; for each such set, every integer split of each line's units over its
shipments (plus an unfilled remainder when backorder is allowed). Lines are independent given the
set except for the once-per-order penalty P0, so the set's optimum is
    min( sum_j full_j ,  P0 + sum_j partial_j )
where full_j is line j's cheapest complete split and partial_j its cheapest split with any
remainder at the per-unit penalty (the second term over-charges P0 only when nothing is short, a
case the first term already covers). A set with an idle shipment costs more than the same set
without it, which is also enumerated, so idle members never change the minimum.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dom_engine.domain import Mode, Penalties, PenaltyOverride
from dom_engine.domain.policy import DOMINANT_WEIGHT
from dom_engine.domain.stop import Deadline
from dom_engine.network.pricing import price
from dom_engine.optimize import OrderProblem, solve_order

from .helpers import (
    Scenario,
    check_plan,
    close,
    effective_atp,
    max_shipments_of,
    scenario,
    single_option_order,
)


def _weights(policy):
    w = policy.weights
    split, days = w.split_penalty, w.delivery_day_weight
    if policy.mode is Mode.FEWEST_SHIPMENTS:
        split += DOMINANT_WEIGHT
    elif policy.mode is Mode.FASTEST:
        days += DOMINANT_WEIGHT
    return w.cost_weight, split, days, w.co2e_price


class Model:
    """Per (node, service) objective terms of a scenario, derived without optimize/."""

    def __init__(self, sc: Scenario) -> None:
        order, net, pol, card = sc.order, sc.network, sc.policy, sc.rate_card
        self.sc = sc
        cw, split, days_w, co2 = _weights(pol)
        self.cw, self.split = cw, split
        weights = np.array([card.default_unit_weight_kg if ln.unit_weight_kg is None else ln.unit_weight_kg
                            for ln in order.lines])
        n = len(net)
        pr = price(card, net, np.arange(n), order.destination.latitude, order.destination.longitude, weights)
        self.pr = pr
        hour = sc.now.hour + sc.now.minute / 60
        ship_off = np.array([(hour >= nd.cutoff_hour) + nd.processing_days for nd in net.nodes])
        self.delivery = ship_off[:, None] + pr.transit_days
        self.fixed = cw * pr.fixed + split + days_w * self.delivery                       # (N, S)
        self.unit = cw * pr.per_unit + co2 * pr.co2e_unit                                 # (N, S, L)
        allowed_kinds = pol.channel_node_kinds.get(order.channel)
        cap = sc.stock.capacity_left
        self.eligible = [
            k for k, nd in enumerate(net.nodes)
            if nd.enabled and nd.node_id not in order.options.excluded_nodes
            and (allowed_kinds is None or nd.kind.value in allowed_kinds)
            and (cap is None or cap[k] > 0)
        ]
        usable = pr.available.copy()
        if order.deliver_by is not None:
            usable &= self.delivery <= (order.deliver_by - sc.now.date()).days
        self.usable = usable
        atp = effective_atp(sc)
        self.stock = np.array([[atp[k, sc.stock.skus.index(ln.sku)] for ln in order.lines] for k in range(n)])
        ov = order.options.penalty
        self.P0 = cw * (pol.penalties.per_order if ov.per_order is None else ov.per_order)
        self.P = cw * (pol.penalties.per_unit if ov.per_unit is None else ov.per_unit)
        self.qty = [ln.quantity for ln in order.lines]
        # Modes that rank by shipments or speed price a missing unit above their dearest shipment.
        horizon = 30 if order.deliver_by is None else (order.deliver_by - sc.now.date()).days
        extras = {Mode.FEWEST_SHIPMENTS: DOMINANT_WEIGHT, Mode.FASTEST: DOMINANT_WEIGHT * horizon}
        worst = extras.get(pol.mode, 0.0)
        self.P0 += worst
        self.P += worst

    def line_cost(self, j: int, chosen: list[tuple[int, int]], allow_short: bool) -> float:
        q, best = self.qty[j], math.inf
        caps = [int(self.stock[k, j]) for k, _ in chosen]
        for split in itertools.product(*(range(min(c, q) + 1) for c in caps)):
            t = sum(split)
            if t > q or (t < q and not allow_short):
                continue
            cost = sum(u * self.unit[k, s, j] for u, (k, s) in zip(split, chosen, strict=True))
            best = min(best, cost + (q - t) * self.P)
        return best

    def brute_force(self) -> float:
        backorder = self.sc.order.options.allow_backorder
        cap = max_shipments_of(self.sc.order, self.sc.policy)
        choices = [[None] + [(k, s) for s in np.flatnonzero(self.usable[k])] for k in self.eligible]
        best = self.P0 + self.P * sum(self.qty) if backorder else math.inf
        for combo in itertools.product(*choices):
            chosen = [c for c in combo if c is not None]
            if not chosen or len(chosen) > cap:
                continue
            fixed = sum(self.fixed[k, s] for k, s in chosen) - self.split
            full = sum(self.line_cost(j, chosen, False) for j in range(len(self.qty)))
            total = fixed + full
            if backorder:
                total = min(total, fixed + self.P0 + sum(self.line_cost(j, chosen, True)
                                                         for j in range(len(self.qty))))
            best = min(best, total)
        return best

    def plan_objective(self, plan) -> float:
        """The objective of a returned plan, re-priced from its shipments alone."""
        net, card, lines = self.sc.network, self.sc.rate_card, self.sc.order.lines
        index = {ln.line_id: j for j, ln in enumerate(lines)}
        total = -self.split if plan.shipments else 0.0
        for sh in plan.shipments:
            k, s = net.index_of(sh.node_id), [sv.name for sv in card.services].index(sh.service)
            units = sum(sl.quantity * self.unit[k, s, index[sl.line_id]] for sl in sh.lines)
            total += self.fixed[k, s] + units
        short = sum(b.quantity for b in plan.backordered)
        return total + (self.P0 + self.P * short if short else 0.0)


def _cases() -> list:
    modes = [Mode.COST, Mode.COST, Mode.FEWEST_SHIPMENTS, Mode.FASTEST]
    cases = []
    for seed in range(48):
        cases.append(pytest.param(dict(
            seed=seed, n_nodes=5 + seed % 2, n_lines=1 + seed % 3, backorder=seed % 3 == 1,
            promise_days=[None, 3, 6, 2][seed % 4], max_shipments=1 + seed % 3, mode=modes[seed % 4],
            split_penalty=[0.0, 3.0][seed % 2], co2e_price=[0.0, 0.4][(seed // 2) % 2],
            delivery_day_weight=[0.0, 1.0][(seed // 3) % 2], store_buffer=(seed // 4) % 2,
            channel=["", "web"][(seed // 5) % 2], store_only_channel=seed % 3 != 0,
            excluded=(seed // 6) % 2, density=0.7, depth=2 + seed % 3,
        ), id=f"seed{seed}"))
    return cases


@pytest.mark.parametrize("knobs", _cases())
def test_route_matches_brute_force(knobs):
    """route()'s objective equals the brute-force minimum; INFEASIBLE exactly when brute force finds
    no plan; and the returned plan re-prices (from its shipments alone) to its stated objective."""
    knobs = dict(knobs)
    sc = scenario(knobs.pop("seed"), **knobs)
    model = Model(sc)
    expected = model.brute_force()
    plan = solve_order(OrderProblem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now),
                       Deadline.after_ms(5_000))
    if not math.isfinite(expected):
        assert plan.status.name == "INFEASIBLE", (plan.status, plan.objective)
        return
    assert plan.status.name == "OPTIMAL", plan.infeasible_reason
    assert close(plan.objective, expected), (plan.objective, expected)
    assert close(model.plan_objective(plan), plan.objective)
    check_plan(plan, sc)


@pytest.mark.parametrize("seed", range(8))
def test_brute_force_with_penalty_override_and_ship_complete(seed):
    """Per-order penalty overrides and ship_complete go through the same independent check."""
    sc = scenario(seed, n_nodes=5, n_lines=2, backorder=True, density=0.4, depth=2,
                  penalties=Penalties(per_order=500.0, per_unit=300.0))
    opts = dict(penalty=PenaltyOverride(per_order=5.0, per_unit=float(2 + 3 * seed)),
                ship_complete=seed % 2 == 0)
    sc = Scenario(single_option_order(sc.order, **opts), sc.stock, sc.network, sc.rate_card, sc.policy,
                  sc.now, sc.knobs)
    model = Model(sc)
    plan = solve_order(OrderProblem(sc.order, sc.stock, sc.network, sc.rate_card, sc.policy, sc.now),
                       Deadline.after_ms(5_000))
    assert close(plan.objective, model.brute_force())
    assert close(model.plan_objective(plan), plan.objective)
    check_plan(plan, sc)
