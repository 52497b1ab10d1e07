"""Tuning of the optimizer, one frozen dataclass per component (PyVRP's params idea), grouped under
SolverParams. Defaults are the values measured and chosen so far (the comments say on what); a
`[solver]` table in the config overrides any of them (`[solver.search] fast_search_max_sets = ...`,
loaded by app/config.py). Every value is validated here, naming `solver.<group>.<field>`.

Constants of the model itself (integer scaling of costs for CP-SAT, float tolerances of proofs)
are not tuning and stay next to the code that relies on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..domain import ConfigError

# Fields where 0 is meaningful: it turns the step off.
_ZERO_TURNS_OFF = {"max_vars", "max_enrich_rounds", "cpsat_linearization_level", "cpsat_cut_level",
                   "cpsat_presolve", "cpsat_probing_level", "runner_up_ms"}


def _check(obj: object, group: str) -> None:
    """Every field of `obj` is a finite number > 0 (shares within (0, 1]; seeds >= 0)."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        where = f"solver.{group}.{f.name}"
        if f.name == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(where, f"must be an integer >= 0, got {value!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(where, f"must be a finite number, got {value!r}")
        if f.type == "int" and not isinstance(value, int):
            raise ConfigError(where, f"must be an integer, got {value!r}")
        if value < 0 or (value == 0 and f.name not in _ZERO_TURNS_OFF):
            raise ConfigError(where, f"must be > 0, got {value!r}")
        if f.name.endswith(("share", "whole")) and value > 1:
            raise ConfigError(where, f"must be at most 1, got {value!r}")


@dataclass(frozen=True)
class SearchParams:
    """The single-order optimizer (optimize/single.py): branch and bound, then CP-SAT."""

    # Node sets per search level the numpy fast search (batch pricing) may evaluate before it
    # hands the order over (nearly every order settles far below; see REFERENCES).
    fast_search_max_sets: int = 10_000
    # Share of the budget the branch and bound (compiled_bb.py) may use before CP-SAT takes over
    # from its best plan (on thin-stock and sparse 100-node orders it proves more than CP-SAT
    # does in the same time: at 0.6, 149 of 150 thin-stock orders proven, the last by neither).
    branch_and_bound_share: float = 0.85
    # Below this many milliseconds left, CP-SAT is not started (its start-up alone costs ~1-3 ms).
    min_cpsat_ms: float = 5.0
    # Seconds kept at the end of a budget to turn the solution into a Plan (~1 ms measured).
    plan_seconds: float = 0.001
    # CP-SAT's parameters for the orders the fast search hands over (small models that must be
    # proven within milliseconds). linearization_level (0-2): 2 puts every constraint into the LP
    # relaxation, whose bound does the proving. cut_level (0-1), cp_model_presolve (0-1) and
    # cp_model_probing_level (0-2): off, because on these models they cost more time than they
    # save. Measured with 45 ms per model (130 thin-stock orders / 30 sparse 100-node orders of
    # 5, 10, 20 lines, benchmarks.quality's hard tail): CP-SAT's defaults prove 53 / 8, 0, 0;
    # linearization 2 alone 93 / 15, 0, 0 (no plan at all at 20 lines); all four 121-122 / 30,
    # 14, 3.
    cpsat_linearization_level: int = 2
    cpsat_cut_level: int = 0
    cpsat_presolve: int = 0
    cpsat_probing_level: int = 0
    # Milliseconds during which the search also proves the runner-up (the best plan on another
    # node set, which explains the choice), from its start; after that it proves the best plan
    # only and names the best other node set seen, marked not exact (0: never). CP-SAT's
    # runner-up search, after it proves a plan, gets at most this long too.
    runner_up_ms: float = 5.0

    def __post_init__(self) -> None:
        _check(self, "search")
        for name, top in (("cpsat_linearization_level", 2), ("cpsat_cut_level", 1), ("cpsat_presolve", 1),
                          ("cpsat_probing_level", 2)):
            if getattr(self, name) > top:
                allowed = "0 or 1" if top == 1 else "0, 1 or 2"
                raise ConfigError(f"solver.search.{name}", f"must be {allowed}, got {getattr(self, name)}")

    def cpsat_parameters(self) -> dict[str, int | bool]:
        """The CP-SAT parameters above, by CP-SAT's names."""
        return {"linearization_level": self.cpsat_linearization_level, "cut_level": self.cpsat_cut_level,
                "cp_model_presolve": bool(self.cpsat_presolve),
                "cp_model_probing_level": self.cpsat_probing_level}


@dataclass(frozen=True)
class PricingParams:
    """Solving one order of a batch, alone or at dual prices (optimize/batch/columns.py)."""

    # Sets per level the compiled search may evaluate before the exact path falls back to numpy.
    compiled_max_sets: int = 200_000
    # Sets per level pricing may evaluate before it settles for the compiled search's bound
    # (a few 5-6 item orders with five shipments: up to 0.1 s each at 200k; 5k keeps rounds short).
    pricing_max_sets: int = 5_000
    # Milliseconds for an order the fast search gives up on (CP-SAT; its bound stays valid).
    hard_order_budget_ms: float = 20.0

    def __post_init__(self) -> None:
        _check(self, "pricing")


@dataclass(frozen=True)
class ColumnGenerationParams:
    """Column generation over per-order plans (optimize/batch/solver.py, column_generation.py)."""

    # Plans per order the master starts from: the cheapest its own search evaluated.
    start_columns: int = 4
    # Cheapest option sets an order's first solve reports (its plan, start_columns others, spares).
    candidates_kept: int = 8
    # Share of the budget column generation may use; rounding and local search get the rest.
    cg_share: float = 0.6
    # Column generation stops, and rounding stops improving, this close (relative) to the bound.
    tolerance: float = 1e-4
    # Passes of "add the rows the pools could over-subscribe" per round.
    row_passes: int = 4
    # Weight of the best bound's prices in the next round's prices (Wentges smoothing) at the
    # start; on the 10k wave, pricing at a fifth of the first duals gave 148.1k vs 130.7k at half.
    smoothing: float = 0.8
    # ... lowered after a round that raised the bound, raised after one that did not, up to max.
    smoothing_step: float = 0.1
    smoothing_max_share: float = 0.9
    # Time the first round leaves at least for rounding: max(seconds, share of what is left).
    # (0.5 s: on the 10k wave in 10 s the first round's pricing then completes, bound 144.8k ->
    # 148.1k, and rounding's plans stay at 174.3k; 1.0 s cut that pricing short.)
    finish_min_seconds: float = 0.5
    finish_min_share: float = 0.2

    def __post_init__(self) -> None:
        _check(self, "columns")


@dataclass(frozen=True)
class DualParams:
    """The smoothed dual of the restricted master (optimize/batch/dual.py)."""

    # Temperatures, as shares of the mean cost of an order's cheapest column: smooth first.
    mu_shares: tuple[float, ...] = (0.06, 0.006, 0.0006)
    # L-BFGS-B iterations per temperature (each ~1-4 ms on a 56k-column pool) and its memory.
    stage_iterations: int = 150
    lbfgs_memory: int = 20
    # A stage ends when an iteration improves by less than this share (0.86 s to within 0.4 % of
    # the LP on the captured 10k master, instead of 1.5 s to within 0.2 %).
    stage_tolerance: float = 1e-5

    def __post_init__(self) -> None:
        shares = self.mu_shares
        if not shares or any(isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s <= 1
                             for s in shares):
            raise ConfigError("solver.dual.mu_shares", f"must be numbers in (0, 1], got {shares!r}")
        object.__setattr__(self, "mu_shares", tuple(float(s) for s in shares))
        for name in ("stage_iterations", "lbfgs_memory", "stage_tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ConfigError(f"solver.dual.{name}", f"must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class RoundingParams:
    """Turning the LP into plans: greedy rounding, restricted-master MIP, local search
    (optimize/batch/finish.py, rounding.py)."""

    # An order whose averaged dual solution puts this much weight on one plan counts as decided.
    whole_share: float = 0.99
    # Largest restricted-master MIP in orders (CP-SAT's model is built in Python, ~1 ms per order).
    mip_max_orders: int = 3000
    # Relative gap at which the restricted-master MIP stops.
    mip_relative_gap: float = 1e-4
    # Rounds of shuffled sequential routing after the first rounding (0: none).
    max_enrich_rounds: int = 20
    # Seconds per active order rounding needs (3e-5 measured on the 10k wave; with a margin).
    round_seconds_per_order: float = 6e-5
    # Seed of the shuffled rounds: same seed, same plans.
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self, "rounding")


@dataclass(frozen=True)
class ExactParams:
    """The exact joint model of small batches (optimize/batch/exact.py)."""

    # Largest joint model (variables) that is built at all; 0 never builds one. On the 1k demo
    # wave (17.8k variables) the joint model took 4.7 of 10 s and improved nothing, while the
    # restricted-master MIP it took the time from finds 20,491 instead of 21,058 (bound 20,343).
    max_vars: int = 5_000
    # Seconds per variable to build it (Python, not interruptible: ~35 µs measured).
    build_seconds_per_var: float = 40e-6
    # Share of the time left that rounding gets when the joint model follows it.
    finish_share: float = 0.3

    def __post_init__(self) -> None:
        _check(self, "exact")


@dataclass(frozen=True)
class BatchBudgetParams:
    """How a batch's budget is shared between building, solving and planning
    (optimize/batch/wave.py)."""

    # Seconds per order kept to turn the chosen columns into Plans.
    plan_seconds_per_order: float = 150e-6
    # Seconds per built order kept after the build for the solve and the plans (measured at 50k:
    # ~0.13 ms alone, ~0.1 contest, ~0.05 rounding, ~0.11 plans).
    after_build_seconds_per_order: float = 400e-6
    # Seconds per order to build its problem (optimize/batch/builder.py: ~0.3 ms measured at 10k).
    build_seconds_per_order: float = 300e-6
    # Seconds per order the build never reached (a NO_PLAN_FOUND plan each).
    unreached_seconds_per_order: float = 8e-6

    def __post_init__(self) -> None:
        _check(self, "budget")


@dataclass(frozen=True)
class SolverParams:
    """Every tuning knob of the optimizer; `SolverParams()` is today's defaults."""

    search: SearchParams = field(default_factory=SearchParams)
    pricing: PricingParams = field(default_factory=PricingParams)
    columns: ColumnGenerationParams = field(default_factory=ColumnGenerationParams)
    dual: DualParams = field(default_factory=DualParams)
    rounding: RoundingParams = field(default_factory=RoundingParams)
    exact: ExactParams = field(default_factory=ExactParams)
    budget: BatchBudgetParams = field(default_factory=BatchBudgetParams)
