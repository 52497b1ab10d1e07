"""Return routing, the use case behind `dom route-return` (and RouteReturn, to come): check a return
against the catalogue and, when it names its original order, against what that order's
reservation holds; then pick the receiving sites with the exact optimizer (optimize/returns.py).
Recovery values are raised at sites short of the SKU: by the site's opportunity price when fresh
prices are published (inventory-aware routing), else by [returns.recovery] short_bonus below
short_below units."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..domain import Network, NotFoundError, PreconditionError, RateCard, ValidationError
from ..domain.reservation import StockDelta
from ..domain.returns import Disposition, ReturnPlan, ReturnReceipt, ReturnRequest
from ..domain.stop import Deadline
from ..inventory.base import SnapshotStore
from ..optimize.returns import ReturnSetup, build_return_problem, return_options, route_return
from .returns_config import ReturnsConfig

MAX_UNITS = 1_000_000    # per receipt


@dataclass(frozen=True)
class ReturnRouting:
    network: Network
    rate_card: RateCard
    store: SnapshotStore
    config: ReturnsConfig
    clock: Callable[[], datetime]
    prices_max_age_s: float = 86_400.0
    setup: ReturnSetup = field(init=False)

    def __post_init__(self) -> None:   # the sites checked and indexed once, not per return
        object.__setattr__(self, "setup", ReturnSetup(self.config.sites_of(self.network),
                                                      self.config.recovery))

    def route(self, request: ReturnRequest, stop: Deadline) -> ReturnPlan:
        skus = list(dict.fromkeys(line.sku for line in request.lines))
        stock = self.store.read(skus)
        for i, line in enumerate(request.lines):
            if line.sku in stock.unknown:
                raise NotFoundError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}")
        if request.order_id:
            self._check_against_order(request)
        stock_of = {sku: stock.atp[:, k] for k, sku in enumerate(stock.skus)}
        prices = self.store.current_prices()
        prices_of = None
        if prices is not None and prices.is_fresh(self.clock(), self.prices_max_age_s, stock.version):
            per = prices.for_stock(self.network.node_ids, stock.skus)
            prices_of = {sku: per[:, k] for k, sku in enumerate(stock.skus)}
        options = return_options(request, self.network, self.rate_card, self.setup, stock_of, prices_of)
        problem = build_return_problem(request, options, self.network, self.clock())
        return route_return(problem, self.network, stop)

    def commit(self, return_id: str, received: Sequence[ReturnReceipt]) -> tuple[int, int]:
        """Add restocked units to their sites' on-hand stock, once per (return, line, site): each
        receipt is an event whose id names them, and stores apply an event id once. Other
        dispositions change no stock. Returns (receipts applied, units restocked) by this call."""
        if not return_id:
            raise ValidationError("return_id", "must not be empty")
        known = self.store.known_skus()
        deltas = []
        for i, r in enumerate(received):
            where = f"received[{i}]"
            if not r.line_id:
                raise ValidationError(f"{where}.line_id", "must not be empty")
            if not self.network.has(r.node_id):
                raise ValidationError(f"{where}.node_id", f"unknown node {r.node_id!r}")
            if r.sku not in known:
                raise ValidationError(f"{where}.sku", f"unknown SKU {r.sku!r}")
            q = r.quantity
            if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= MAX_UNITS:
                raise ValidationError(f"{where}.quantity", f"must be within [1, {MAX_UNITS}], got {q!r}")
            if r.disposition is Disposition.RESTOCK:
                deltas.append(StockDelta(f"return:{return_id}:{r.line_id}:{r.node_id}", r.node_id, r.sku,
                                         adjust=r.quantity))
        applied = units = 0
        for delta in deltas:     # one by one: the answer says what this call added
            if self.store.apply_deltas([delta]):
                applied += 1
                units += delta.adjust
        return applied, units

    def _check_against_order(self, request: ReturnRequest) -> None:
        """Each line's SKU was held (and committed) for the original order, and no more units come
        back than it took."""
        held = self.store.reservation_for_order(request.order_id)
        if held is None:
            raise PreconditionError("order_id", f"order {request.order_id!r} holds no reservation to return "
                                                "units against")
        if not held.committed:
            raise PreconditionError("order_id", f"order {request.order_id!r} has not shipped (its "
                                                "reservation is not committed)")
        shipped: dict[str, int] = {}
        for a in held.allocations:
            shipped[a.sku] = shipped.get(a.sku, 0) + a.quantity
        back: dict[str, int] = {}
        for i, line in enumerate(request.lines):
            if line.sku not in shipped:
                raise ValidationError(f"lines[{i}].sku",
                                      f"{line.sku!r} was not in order {request.order_id!r}")
            back[line.sku] = back.get(line.sku, 0) + line.quantity
            if back[line.sku] > shipped[line.sku]:
                raise ValidationError(f"lines[{i}].quantity", f"{back[line.sku]} units of {line.sku!r} "
                                      f"returned, {shipped[line.sku]} shipped")
