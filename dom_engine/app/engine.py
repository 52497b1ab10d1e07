"""The Engine: the three use cases (order routing, batch routing, stock administration) wired over
one network, rate card, policy set and store. Front ends (gRPC service, CLI) and users' code hold
an Engine and call its methods or its use cases; neither touches solvers or stores directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain import Limits, Network, Order, Plan, PolicyProfile, RateCard
from ..domain.batch import BatchResult, BatchSettings
from ..domain.events import EventLog
from ..domain.opportunity import Forecast
from ..domain.returns import ReturnPlan, ReturnReceipt, ReturnRequest
from ..domain.stop import Deadline
from ..inventory.base import SnapshotStore
from ..inventory.event_log import MemoryEventLog
from ..optimize.params import SolverParams
from .decisions import Decisions, shadow_of
from .opportunity import OpportunityPricing, Refresh
from .opportunity_config import OpportunityConfig
from .returns import ReturnRouting
from .returns_config import ReturnsConfig
from .routing import OrderRouting, utc_now
from .stock_admin import StockAdmin
from .tracing import span

if TYPE_CHECKING:
    from .batch_routing import BatchProgress, BatchRouting


@dataclass
class Engine:
    """Everything routing needs, wired once at start-up (app/bootstrap.py builds it from a config).

    `routing`, `batch_routing` and `stock` are the use cases; the methods below are their entry
    points for callers that hold only the Engine."""

    network: Network
    rate_card: RateCard
    store: SnapshotStore
    policies: Mapping[str, PolicyProfile] = field(default_factory=lambda: {"default": PolicyProfile()})
    default_policy: str = "default"
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], datetime] = utc_now
    batch: BatchSettings = field(default_factory=BatchSettings)
    solver: SolverParams = field(default_factory=SolverParams)
    events: EventLog = field(default_factory=MemoryEventLog, repr=False, compare=False)
    shadow_policy: str | None = None      # [shadow] policy: live orders routed with it too, logged
    log_decisions: bool = True            # [events] enabled
    opportunity_config: OpportunityConfig = field(default_factory=OpportunityConfig)   # [opportunity]
    returns_config: ReturnsConfig = field(default_factory=ReturnsConfig)   # [returns]
    routing: OrderRouting = field(init=False, repr=False, compare=False)
    decisions: Decisions = field(init=False, repr=False, compare=False)
    stock: StockAdmin = field(init=False, repr=False, compare=False)
    _batch_routing: BatchRouting | None = field(init=False, default=None, repr=False, compare=False)
    opportunity: OpportunityPricing = field(init=False, repr=False, compare=False)
    _returns: ReturnRouting | None = field(init=False, default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.routing = OrderRouting(self.network, self.rate_card, self.store, self.policies,
                                    self.default_policy, self.limits, self.clock, self.solver,
                                    self.opportunity_config.max_age_s)
        self.opportunity = OpportunityPricing(self.network, self.rate_card, self.store, self.policies,
                                              self.default_policy, self.opportunity_config, self.clock,
                                              self.solver)
        # A forecast from the order stream needs the orders: kept only when some policy uses prices.
        self._remember = self.opportunity_config.forecast is None and self.uses_prices
        self.stock = StockAdmin(self.store)
        shadow = self.shadow_policy
        self.decisions = Decisions(
            self.events, self.clock, shadow_policy=shadow or "", enabled=self.log_decisions,
            route_shadow=None if shadow is None else
            (lambda order: self.routing.route(shadow_of(order, shadow), reserve=False)))

    @property
    def batch_routing(self) -> BatchRouting:
        """The batch use case, made on first use: its modules import scipy.optimize (~0.4 s),
        which `dom route` and single-order callers never need (servers load it in warm_up)."""
        if self._batch_routing is None:
            from .batch_routing import BatchRouting

            self._batch_routing = BatchRouting(self.routing, self.batch)
        return self._batch_routing

    def policy_for(self, order: Order) -> PolicyProfile:
        return self.routing.policy_for(order)

    def validate(self, order: Order) -> None:
        """Every check routing makes, SKUs included (which costs one stock read)."""
        self.routing.validate(order)

    def route(self, order: Order, *, reserve: bool = False, time_budget_ms: float | None = None,
              stop: Deadline | None = None) -> Plan:
        """One order: see OrderRouting.route."""
        _load_kernels()   # before the budget starts (a no-op once loaded)
        plan = self.routing.route(order, reserve=reserve, time_budget_ms=time_budget_ms, stop=stop)
        if self._remember:
            self.opportunity.recent.add(order)
        return plan

    def route_return(self, request: ReturnRequest, *, time_budget_ms: float | None = None,
                     stop: Deadline | None = None) -> ReturnPlan:
        """Where a return goes: see app/returns.py (errors name the field). `stop`: the caller's
        deadline and cancellation (else `time_budget_ms`, default [limits] time_budget_ms)."""
        _load_kernels()
        stop = stop or Deadline.after_ms(time_budget_ms or self.limits.time_budget_ms)
        return self._return_routing().route(request, stop)

    def commit_return(self, return_id: str, received: Sequence[ReturnReceipt]) -> tuple[int, int]:
        """Restock the units of a return received at their sites (idempotent): see app/returns.py."""
        return self._return_routing().commit(return_id, received)

    def _return_routing(self) -> ReturnRouting:
        if self._returns is None:
            self._returns = ReturnRouting(self.network, self.rate_card, self.store, self.returns_config,
                                          self.clock, self.opportunity_config.max_age_s)
        return self._returns

    @property
    def uses_prices(self) -> bool:
        """Some policy routes on opportunity prices."""
        return any(p.inventory_aware for p in self.policies.values())

    def prices_wanted(self) -> bool:
        """Some policy is inventory-aware and a forecast file says what to expect: then a snapshot
        load (a server's start, `dom inventory load`) computes prices at once."""
        return self.opportunity_config.forecast is not None and self.uses_prices

    def ensure_prices(self) -> Refresh | None:
        """Compute and publish prices when wanted (prices_wanted) and the store has none fresh;
        None when nothing was computed."""
        if not self.prices_wanted():
            return None
        current = self.store.current_prices()
        if current is not None and current.is_fresh(self.clock(), self.opportunity_config.max_age_s,
                                                    self.store.version):
            return None
        return self.refresh_prices()

    def refresh_prices(self, forecast: Forecast | None = None, time_budget_s: float | None = None) -> Refresh:
        """Compute inventory-aware routing's opportunity prices from `forecast` (default: the
        [opportunity] forecast file, else the orders routed lately) on the stock now, and publish
        them through the store for every process (see app/opportunity.py)."""
        self.warm_up()
        stop = None if time_budget_s is None else Deadline.after_ms(time_budget_s * 1000)
        return self.opportunity.refresh(forecast, stop)

    def reject(self, order: Order, node_id: str, *, time_budget_ms: float | None = None,
               stop: Deadline | None = None) -> Plan:
        """A node refused its shipment of a reserved order: see OrderRouting.reject."""
        return self.routing.reject(order, node_id, time_budget_ms=time_budget_ms, stop=stop)

    def route_batch(self, orders: Sequence[Order], *, reserve: bool = False,
                    time_budget_ms: float | None = None,
                    progress: BatchProgress | None = None, stop: Deadline | None = None) -> BatchResult:
        """Allocate `orders` jointly over shared stock and node capacities (optimize.batch) and
        return one plan per order in request order, with the batch's bound, gap and KPIs.

        Validates the batch (not empty, within [batch] max_orders, unique ids) and every order as
        `route` does, errors naming `orders[k].<field>`; reads the stock of every SKU of the batch
        once; answers within `time_budget_ms` ([batch] time_budget_ms by default; every phase counts,
        from validation to reserving) or by `stop` (the caller's deadline and cancellation), with
        the best plans found by then (see optimize.batch.solve_batch). Node unit caps
        (`daily_unit_capacity`) cap the units of this batch: the stores do not count units.
        `progress(phase, done, total)` reports the phases build, solve, improve (and reserve).

        With `reserve`, each plan with shipments is held all or nothing through the store, in one
        `reserve_many` call. An order that already holds a reservation (a retried batch) is not
        solved again: it gets the plan of its held units, never a second hold. An order whose hold
        hits a ReservationConflict (stock moved since the read) is re-routed alone with
        `route(reserve=True)` in what is left of the budget; if that keeps losing the race its plan
        is NO_PLAN_FOUND, holding nothing. Held and re-routed plans enter the objective as they
        are (held ones in the lower bound too), and the KPIs describe the plans returned."""
        # Before the budget starts: a fresh process (`dom batch`, a library call) would otherwise
        # spend its budget compiling or loading the kernels and plan nothing. Servers did it already.
        self.warm_up()
        with span("batch", orders=len(orders), reserve=reserve):
            return self.batch_routing.route_batch(orders, reserve=reserve, time_budget_ms=time_budget_ms,
                                                  progress=progress, stop=stop)

    def expire_holds(self) -> int:
        """Give back every hold whose time is up (expiry is otherwise lazy: a Redis read does not
        sweep) and log each as an "expired" event. Servers run this every second; with several
        processes on one store, each expiry is logged once. Returns how many were logged."""
        self.store.sweep()
        expired = self.store.take_expired()
        for held in expired:
            self.decisions.reservation("expired", held)
        return len(expired)

    def warm_up(self) -> None:
        """Load what the first call would otherwise pay for inside its budget: the batch half (it
        imports scipy.optimize, ~0.4 s) and the compiled search kernels (loaded from numba's
        cache, ~0.3 s; compiled once per installation). Servers call this before they listen."""
        _ = self.batch_routing   # made (its modules imported) now rather than inside a call
        from ..optimize.batch.compiled_pricing import warm_up_batch

        warm_up_batch()    # the single-order kernels and the batch's pricing kernel


def _load_kernels() -> None:
    """The optimizer's compiled kernels (numba), loaded once per process: imported here, not at
    the top, so commands that never optimize do not import numba."""
    from ..optimize.compiled_search import warm_up

    warm_up()
