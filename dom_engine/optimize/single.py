"""One entry point for one order: `solve_order(OrderProblem(...), stop, params) -> Plan`.

Path: build the numeric problem (numpy pruning) -> exact branch and bound -> OR-Tools CP-SAT only
when the branch and bound does not apply or runs out of time. Whatever path runs, the plan says
which, with its status, objective and proven lower bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..domain import Explanation, Network, Order, Plan, PlanStatus, PolicyProfile, RateCard
from ..domain.stock import StockView
from ..domain.stop import Deadline
from .bb_search import branch_and_bound
from .coverage import max_coverage, options_of
from .cpsat import solve_cpsat
from .params import SearchParams
from .plan_builder import alternative_of, build_plan, infeasible_plan
from .problem import Problem, build_problem
from .search import greedy, improve
from .solution import Solution

DEFAULT_SEARCH = SearchParams()


@dataclass(frozen=True)
class OrderProblem:
    """One order to route: the order, the stock it may use (a read of its SKUs), the network, the
    rate card, the policy it is routed under, and the clock (`now`: promise dates and cut-offs)."""

    order: Order
    stock: StockView
    network: Network
    rate_card: RateCard
    policy: PolicyProfile
    now: datetime
    # Inventory-aware routing: money per unit of each (node, stock SKU) added to what it costs to
    # ship it (opportunity prices x the policy's weight); None routes on shipping cost alone.
    opportunity: np.ndarray | None = None


def solve_order(problem: OrderProblem, stop: Deadline | None = None,
                params: SearchParams = DEFAULT_SEARCH) -> Plan:
    """The minimum-objective plan (OPTIMAL), or the best found before `stop` (FEASIBLE, with a
    lower bound), or INFEASIBLE with the reason. `stop` covers building the problem and the plan
    too (None: no limit); a cancelled stop ends every step early."""
    started = time.perf_counter()
    stop = stop or Deadline()
    order, stock, network, rate_card = problem.order, problem.stock, problem.network, problem.rate_card
    p = build_problem(order, stock, network, rate_card, problem.policy, problem.now,
                      opportunity=problem.opportunity)

    def elapsed_ms() -> float:
        return (time.perf_counter() - started) * 1000

    if p.infeasible_reason:
        return infeasible_plan(p, stock, p.infeasible_reason, elapsed_ms(), "presolve",
                               explain(p, None, network))
    # Turning the solution into a Plan takes a little time too: leave it that (about 1 ms).
    sol = solve(p, stop.within(max(0.0, stop.remaining_s() - params.plan_seconds)), params)
    if not np.isfinite(sol.objective):
        if sol.proven_optimal:
            reason = f"no plan within max_shipments={p.max_shipments}"
            return infeasible_plan(p, stock, reason, elapsed_ms(), sol.solver, explain(p, sol, network))
        why = "cancelled" if stop.cancelled else f"within the time budget of {elapsed_ms():.0f} ms"
        reason = f"no plan found {why} (not proven infeasible)"
        return infeasible_plan(p, stock, reason, elapsed_ms(), sol.solver, explain(p, sol, network),
                               status=PlanStatus.NO_PLAN_FOUND)
    return build_plan(p, sol, network, rate_card, stock, elapsed_ms(), explain(p, sol, network))


def solve(p: Problem, stop: Deadline, params: SearchParams = DEFAULT_SEARCH,
          explain: bool = True) -> Solution:
    """Exact solution of `p` when time allows, else the best plan found with a proven bound.
    `stop` is a Deadline (or a budget in milliseconds from now, as older callers pass). Without
    `explain` the runner-up is not proven (batch pricing needs the plan and its bound only).

    The compiled branch and bound (compiled_bb.py) settles nearly every order. When it runs out
    of its share of the time, CP-SAT gets what is left, starting from its best plan (or a greedy
    one), and the better plan and the better bound of both are kept. Orders with a SKU on several items
    go to CP-SAT directly: the set evaluation behind the search and the incumbents does not model
    their shared stock. A cancelled stop ends every step early.
    """
    incumbent = None
    bound = -np.inf
    if not p.shared_skus:
        sol = branch_and_bound(p, stop.within(params.branch_and_bound_share * stop.remaining_s()),
                               prove_alternative_s=params.runner_up_ms / 1000 if explain else 0.0)
        if sol.proven_optimal:
            return sol
        # The least bound of the subtrees left: valid for whatever CP-SAT finds next.
        bound = sol.lower_bound
        incumbent = sol if np.isfinite(sol.objective) else greedy(p)
        if incumbent is not None and not np.isfinite(incumbent.objective):
            incumbent = None
    if not p.allow_backorder and (p.shared_skus or incumbent is None):
        settled, incumbent = _feasibility(p, stop)
        if settled is not None:
            return settled
    left_ms = stop.remaining_ms()
    # Building the CP-SAT model costs time too (a Python loop over the allocation variables).
    build_ms = 1.0 + 0.01 * int(np.count_nonzero(p.A))  # measured: ~10 µs per variable
    if incumbent is not None and left_ms < build_ms + params.min_cpsat_ms:
        incumbent.lower_bound = min(incumbent.objective, bound)
        return incumbent
    cp = solve_cpsat(p, hint=incumbent, stop=stop, parameters=params.cpsat_parameters())
    sol = cp
    if not cp.proven_optimal:
        if incumbent is not None and incumbent.objective < cp.objective:
            sol = incumbent
            sol.solver = f"{incumbent.solver}+cp-sat"
        sol.lower_bound = min(sol.objective, max(bound, cp.lower_bound))
    left_ms = stop.remaining_ms()
    room = left_ms >= build_ms + params.min_cpsat_ms
    if explain and sol.proven_optimal and np.isfinite(sol.objective) and room:
        # Up to runner_up_ms of what is left looks for the runner-up, to explain the choice.
        nodes = tuple(sorted(int(n) for n in p.opt_node[sol.options[sol.x.sum(axis=1) > 0]]))
        runner = solve_cpsat(p, forbid_node_sets=(nodes,), stop=stop.within(params.runner_up_ms / 1000),
                             parameters=params.cpsat_parameters())
        if runner.proven_optimal and np.isfinite(runner.objective):
            runner_nodes = tuple(sorted(int(n) for n in p.opt_node[runner.options]))
            sol.alternative = (runner_nodes, runner.objective)
    return sol


def _feasibility(p: Problem, stop: Deadline) -> tuple[Solution | None, Solution | None]:
    """A no-backorder order without a plan yet: can max_shipments nodes fill it at all (coverage.py,
    half of what is left of the time)? (proven INFEASIBLE, None) when they cannot; otherwise
    (None, a plan on the nodes found, improved by local search, or None) for CP-SAT to start from.
    With a SKU on several items the nodes' shared stock is not modelled: only the proof is used."""
    cover = max_coverage(p, stop.within(stop.remaining_s() / 2))
    if cover is None:
        return None, None
    if cover.proven and not cover.covers(p):
        return Solution(np.zeros(0, dtype=np.int64), np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy(),
                        np.inf, np.inf, True, "coverage"), None
    if not cover.covers(p) or p.shared_skus:
        return None, None
    start = improve(p, options_of(p, cover.nodes), "coverage")
    return None, start if start is not None and np.isfinite(start.objective) else None


def explain(p: Problem, sol: Solution | None, network: Network) -> Explanation:
    """Which filters and limits shaped the choice, in words an OMS operator can act on."""
    s = p.stats
    binding: list[str] = []
    labels = {
        "disabled": "nodes disabled",
        "excluded": "nodes excluded by the order",
        "channel": f"nodes not allowed for channel {p.order.channel!r}",
        "capacity": "nodes at daily shipment capacity",
        "no_stock": "nodes without stock of any line",
        "too_slow": "node/service pairs too slow for the promise date",
        "no_service": "nodes with no carrier service meeting the promise date",
    }
    for key, label in labels.items():
        if s.get(key):
            binding.append(f"{s[key]} {label}")
    if sol is not None and np.isfinite(sol.objective):
        shipped = int((sol.x.sum(axis=1) > 0).sum())
        if shipped == p.max_shipments and p.max_shipments < p.n_items:
            binding.append(f"max_shipments={p.max_shipments} reached")
        if (sol.unfilled > 0).any():
            binding.append("stock short: some units backordered")
        if p.opportunity is not None:
            binding.append("inventory-aware: units priced at what they are worth to later orders")
        summary = (f"{shipped} shipment(s) chosen from {p.n_options} eligible node/service options "
                   f"by {sol.solver}")
    else:
        summary = "no feasible plan"
    pruned = s.get("nodes", 0) - len(set(p.opt_node.tolist()))
    return Explanation(
        summary=summary,
        alternative=alternative_of(sol, network) if sol is not None else None,
        binding=tuple(binding),
        candidates_considered=p.n_options,
        candidates_pruned=pruned,
    )
