"""Python side of the compiled Lagrangian branch and bound (compiled_bb.py): one order's Problem
in, a Solution out, honouring a stopping criterion (its deadline, and cancellation of a Deadline)."""

from __future__ import annotations

import time

import numpy as np

from ..domain.stop import Deadline, StoppingCriterion
from .compiled_bb import BEST_PROVEN, PROVEN, _branch_and_bound
from .compiled_search import allocation_of
from .problem import Problem
from .solution import Solution


def branch_and_bound(p: Problem, stop: StoppingCriterion, incumbent: Solution | None = None,
                     prove_alternative_s: float = 0.0) -> Solution:
    """The exact plan of `p` (no SKU shared by items) found before `stop`: proven_optimal when the
    search finished (or its open subtrees cannot beat the plan), else the best plan found
    (objective inf if none) with the least bound of the subtrees left. `incumbent` is a known plan
    to beat, and its alternative (if any) a plan on another node set to beat for the runner-up.
    The alternative is the best plan seen on another node set; for the first `prove_alternative_s`
    seconds the search proves it too (alternative_exact tells whether it was)."""
    width = max(1, min(int(p.max_shipments), p.n_options))
    start = np.full(width, -1, dtype=np.int64)
    start_cost = np.inf
    if incumbent is not None and np.isfinite(incumbent.objective) and len(incumbent.options):
        start[:len(incumbent.options)] = incumbent.options
        start_cost = float(incumbent.objective)
    runner_start = np.full(width, -1, dtype=np.int64)
    runner_cost = np.inf
    if incumbent is not None and incumbent.alternative is not None:
        runner_cost = float(incumbent.alternative[1])
        runner_start[:len(incumbent.alternative[0])] = sorted(incumbent.alternative[0])
    cancel = np.zeros(1, dtype=np.bool_)
    # The kernel releases the GIL: a cancelling thread sets the flag it looks at between subtrees.
    forget = stop.on_cancel(lambda: cancel.__setitem__(0, True)) if isinstance(stop, Deadline) else None
    try:
        status, best, best_set, lower, runner, runner_nodes, _, runner_exact = _branch_and_bound(
            p.A, p.C, p.f, float(p.split_credit), p.Q, p.P, float(p.P0), bool(p.allow_backorder),
            int(p.max_shipments), p.opt_node, start_cost, start, runner_cost, runner_start,
            time.perf_counter() + prove_alternative_s if prove_alternative_s > 0 else 0.0,
            time.perf_counter() + stop.remaining_s(), cancel)
    finally:
        if forget is not None:
            forget()
    options = best_set[best_set >= 0]
    # In fixed-cost order (ties by index), as the set searches list them: plans list shipments so.
    options = options[np.lexsort((options, p.f[options]))]
    if np.isfinite(best) and len(options):
        x, short, _ = allocation_of(p, options)
    else:
        x, short = np.zeros((0, p.n_items), dtype=np.int64), p.Q.copy()
        options = options[:0]
    proven = status in (PROVEN, BEST_PROVEN)
    sol = Solution(options, x, short, float(best), float(best) if proven else min(float(best), float(lower)),
                   proven, "lagrangian-bb")
    if np.isfinite(runner) and proven:
        sol.alternative = (tuple(int(n) for n in runner_nodes if n >= 0), float(runner))
    sol.alternative_exact = bool(runner_exact)
    return sol
