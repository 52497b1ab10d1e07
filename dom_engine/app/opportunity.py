"""Inventory-aware routing's prices, the use case behind `dom prices refresh` and a server's refresh
schedule: read the stock of the forecast's SKUs, solve the fluid LP of the forecast on it
(optimize/opportunity), and publish the stock rows' duals through the store, where every
process's routing finds them (OrderRouting.opportunity_for).

The forecast is a file ([opportunity] forecast) or, without one, the orders this process routed
lately: each counts as horizon / (the time they span) orders expected over the horizon.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from ..domain import Network, Order, PolicyProfile, PreconditionError, RateCard
from ..domain.opportunity import Forecast, OpportunityPrices, aggregated, zone_of
from ..domain.stop import Deadline
from ..inventory.base import SnapshotStore
from ..io.forecast_file import read_forecast
from ..optimize.params import SolverParams
from .opportunity_config import OpportunityConfig

if TYPE_CHECKING:   # the solver's modules load scipy (~0.4 s): only a refresh needs them
    from ..optimize.opportunity import FluidModel, FluidResult

# A stream forecast needs orders spanning at least this long (seconds) to estimate a rate.
MIN_SPAN_S = 60.0


class RecentOrders:
    """The last `size` orders routed (thread-safe), as a forecast of the next `horizon_days`."""

    def __init__(self, size: int) -> None:
        self._orders: deque[Order] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, order: Order) -> None:
        with self._lock:
            self._orders.append(order)

    def forecast(self, horizon_days: float, now: datetime) -> Forecast | None:
        """None while fewer than two orders or a span under MIN_SPAN_S are known."""
        with self._lock:
            orders = tuple(self._orders)
        if len(orders) < 2:
            return None
        span_s = (now - min(o.created_at for o in orders)).total_seconds()
        if span_s < MIN_SPAN_S:
            return None
        each = horizon_days * 86_400.0 / span_s
        return Forecast(orders, np.full(len(orders), each), horizon_days)


@dataclass(frozen=True)
class Refresh:
    """One computation: the prices published and what the fluid LP said."""

    prices: OpportunityPrices
    fluid: FluidResult
    prototypes: int   # in the forecast, with SKUs the store knows (merged by zone for the LP)
    skipped: int      # prototypes naming a SKU the store does not know


class OpportunityPricing:
    """Computes and publishes opportunity prices for one engine's network and store."""

    def __init__(self, network: Network, rate_card: RateCard, store: SnapshotStore,
                 policies: Mapping[str, PolicyProfile], default_policy: str, config: OpportunityConfig,
                 clock: Callable[[], datetime], solver: SolverParams) -> None:
        self.network, self.rate_card, self.store = network, rate_card, store
        self.policy = policies[config.policy or default_policy]
        self.config, self.clock, self.solver = config, clock, solver
        self.recent = RecentOrders(config.recent_orders)
        self._lock = threading.Lock()       # one computation at a time per process
        self._model: tuple[Forecast, FluidModel] | None = None
        self._file: tuple[float, Forecast] | None = None   # the forecast file as last read (mtime)

    def forecast(self) -> Forecast:
        """The forecast file's prototypes, else the recent orders (PreconditionError when neither
        gives one yet)."""
        path = self.config.forecast
        if path is not None:
            mtime = path.stat().st_mtime if path.exists() else -1.0
            if self._file is None or self._file[0] != mtime:   # unchanged: the same object, model kept
                self._file = (mtime, read_forecast(path, self.config.horizon_days))
            return self._file[1]
        got = self.recent.forecast(self.config.horizon_days, self.clock())
        if got is None:
            raise PreconditionError("opportunity.forecast", "no forecast file, and too few orders routed yet "
                                    f"(need two, spanning {MIN_SPAN_S:.0f} s) to forecast from")
        return got

    def refresh(self, forecast: Forecast | None = None, stop: Deadline | None = None) -> Refresh:
        """Solve the fluid LP of `forecast` (default: `self.forecast()`) on the stock now and
        publish its prices. Prototypes naming unknown SKUs are left out (counted in `skipped`)."""
        forecast = forecast if forecast is not None else self.forecast()
        stop = stop or Deadline.after_ms(self.config.time_budget_s * 1000)
        with self._lock:
            skus = list(dict.fromkeys(line.sku for order in forecast.prototypes for line in order.lines))
            stock = self.store.read(skus)
            known = [k for k, o in enumerate(forecast.prototypes)
                     if not any(line.sku in stock.unknown for line in o.lines)]
            if not known:
                raise PreconditionError("opportunity.forecast",
                                        "no prototype names only SKUs the store knows")
            usable = aggregated(Forecast(tuple(forecast.prototypes[k] for k in known), forecast.counts[known],
                                         forecast.horizon_days), self.config.zoning)
            model = self._model_for(forecast, usable, stock, stop)
            result = model.solve(stock.atp, stop=stop)
            prices = OpportunityPrices(tuple(self.network.node_ids), stock.skus, result.prices, stock.version,
                                       self.clock(), forecast.horizon_days, result.objective)
            self.store.publish_prices(prices)
        return Refresh(prices, result, len(known), len(forecast.prototypes) - len(known))

    def _model_for(self, forecast: Forecast, usable: Forecast, stock, stop: Deadline) -> FluidModel:
        """The last model when the forecast is the same and its sources still cover the stock (a
        re-solve then starts from its plans), else a new one."""
        if self._model is not None:
            last, model = self._model
            if last is forecast and model.covers(stock.atp):
                return model
            model.close()
        from ..optimize.opportunity import FluidModel

        model = FluidModel(usable, stock, self.network, self.rate_card, self.policy, self.clock(),
                           self.solver, stop)
        self._model = (forecast, model)
        return model

    def fractions(self) -> dict[tuple[str, str], np.ndarray]:
        """(zone, SKU) -> the share of units each node ships (the last: unfilled) in the last
        solution, over the prototypes of that zone weighted by their counts (empty before a
        refresh). Zones are [opportunity] zoning's. What dilated rounding rounds."""
        if self._model is None:
            return {}
        model = self._model[1]
        out: dict[tuple[str, str], np.ndarray] = {}
        for order, weight, flows in zip(model.prototypes, model.weights, model.sku_flows(), strict=True):
            zone = zone_of(order.destination, self.config.zoning)
            for sku, flow in flows.items():
                key = (zone, sku)
                out[key] = out.get(key, 0.0) + weight * flow
        for flow in out.values():
            flow /= max(flow.sum(), 1e-300)
        return out

    def close(self) -> None:
        if self._model is not None:
            self._model[1].close()
            self._model = None


def refresh_every(engine_refresh: Callable[[], Refresh], every_s: float, stop: threading.Event,
                  log: Callable[..., None]) -> None:
    """Until `stop`: refresh prices now and every `every_s` seconds (a server's schedule). A
    refresh that cannot run (no forecast yet, store unreachable, a bad forecast file) is logged
    and tried again at the next turn; routing meanwhile uses the last prices while they are fresh."""
    while True:
        try:
            got = engine_refresh()
            log("opportunity prices refreshed: %d prototypes, fluid LP %.2f (%s) in %.1f s",
                got.prototypes, got.fluid.objective, "converged" if got.fluid.converged else "budget",
                got.fluid.seconds)
        except Exception as exc:  # noqa: BLE001 - a schedule must outlive one bad turn
            log("opportunity prices not refreshed: %s: %s", type(exc).__name__, exc)
        if stop.wait(every_s):
            return
