"""The decision log use case: record what the service decided (plans and reservation changes) as
events, route live orders with the shadow policy, and answer GetPlan / ListEvents.

Recording never fails or slows a call: events go to the log's buffer (a Redis log writes in the
background), shadow routes run on one background thread with a bounded queue (orders beyond it
are skipped and counted), and an error while recording is logged, not raised."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..domain import NotFoundError, Order, Plan, ValidationError
from ..domain.events import DEFAULT_LIST, KINDS, MAX_LIST, Event, EventLog
from ..domain.reservation import Reservation
from ..inventory.event_log import check_after_id
from ..io.order_json import order_to_dict
from ..io.render import plan_to_dict, tidy

log = logging.getLogger("dom_engine.events")

SHADOW_QUEUE = 1000
RECORD_QUEUE = 200_000      # events waiting to be built (20 RouteBatches of 10,000 orders)


class Decisions:
    """Records into `log`; `route_shadow(order)` routes with the shadow policy (None: no shadow)."""

    def __init__(self, log: EventLog, clock: Callable[[], datetime],
                 route_shadow: Callable[[Order], Plan] | None = None, shadow_policy: str = "",
                 enabled: bool = True) -> None:
        self.log, self.clock, self.enabled = log, clock, enabled
        self.shadow_policy = shadow_policy
        self._route_shadow = route_shadow
        self.shadow_skipped = 0
        self.dropped = 0
        self._shadow_queue: queue.Queue[tuple[Order, str]] | None = None
        if route_shadow is not None and enabled:
            self._shadow_queue = queue.Queue(SHADOW_QUEUE)
            threading.Thread(target=self._shadow_loop, name="dom-shadow", daemon=True).start()
        # Events are built (order and plan to dicts: ~35 us each, 10,000 for a big RouteBatch) on
        # a recorder thread, so an answer is never held up by its log entry. Started on first use:
        # engines made for simulations never record.
        self._records: queue.Queue[Callable[[], Event]] = queue.Queue(RECORD_QUEUE)
        self._recorder: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # ----------------------------------------------------------------- recording
    def planned(self, kind: str, order: Order, plan: Plan, *, policy: str, request_id: str = "",
                elapsed_ms: float = 0.0, shadow: bool = True, note: Mapping[str, Any] | None = None) -> None:
        """A plan was answered for `order` (kind "route", "reject", "batch" or "shadow"); `note`
        joins the event's detail (a reject's node and reason)."""
        at = self.clock()
        self._append(lambda: _plan_event(kind, order, plan, policy, request_id, elapsed_ms, at, note))
        if plan.reservation_id and plan.shipments and kind != "shadow":
            # the units this answer holds: a new hold, or (after a rejected shipment) more of one
            hold = "extended" if kind == "reject" else "held"
            self._append(lambda: _hold_event(hold, plan, request_id, at))
        if shadow and self._shadow_queue is not None and kind == "route":
            try:
                self._shadow_queue.put_nowait((order, request_id))
            except queue.Full:
                self.shadow_skipped += 1

    def reservation(self, kind: str, held: Reservation, request_id: str = "") -> None:
        """A reservation was "held", "extended", "committed", "released" or "expired" (then
        `held.allocations` are the units its expiry gave back)."""
        at = self.clock()
        status = "expired" if kind == "expired" else "committed" if held.committed else "held"

        def event() -> Event:
            nodes = tuple(dict.fromkeys(a.node_id for a in held.allocations))
            units = [{"node_id": a.node_id, "sku": a.sku, "quantity": a.quantity} for a in held.allocations]
            expires = None if held.expires_at is None else held.expires_at.isoformat()
            return Event(kind, held.order_id, at, status=status,
                         request_id=request_id, reservation_id=held.reservation_id, nodes=nodes,
                         detail={"allocations": units, "rejected_nodes": list(held.rejected_nodes),
                                 "expires_at": expires})
        self._append(event)

    def _append(self, make: Callable[[], Event]) -> None:
        if not self.enabled:
            return
        if self._recorder is None:
            with self._start_lock:
                if self._recorder is None:
                    recorder = threading.Thread(target=self._record_loop, name="dom-record", daemon=True)
                    recorder.start()
                    self._recorder = recorder
        try:
            self._records.put_nowait(make)
        except queue.Full:
            self.dropped += 1
            if self.dropped % 10_000 == 1:
                log.warning("decision log: recorder behind, %d events dropped so far", self.dropped)

    def _record_loop(self) -> None:
        while True:
            make = self._records.get()
            try:
                self.log.append(make())
            except Exception:   # the log must never cost a caller its answer
                log.exception("decision log: could not record an event")
            finally:
                self._records.task_done()

    def _shadow_loop(self) -> None:
        assert self._shadow_queue is not None and self._route_shadow is not None
        while True:
            order, request_id = self._shadow_queue.get()
            try:
                started = self.clock()
                plan = self._route_shadow(order)
                elapsed = (self.clock() - started).total_seconds() * 1000.0
                self.planned("shadow", order, plan, policy=self.shadow_policy, request_id=request_id,
                             elapsed_ms=elapsed, shadow=False)
            except Exception as exc:   # a shadow that fails is logged and skipped, never raised
                log.warning("shadow policy %s could not route order %s: %s", self.shadow_policy,
                            order.order_id, exc)
            finally:
                self._shadow_queue.task_done()

    def drain(self, timeout_s: float = 5.0) -> bool:
        """Wait for queued shadow routes and events, then write what the log buffers (a server
        stopping; tests before they read). False if that did not finish within `timeout_s`."""
        end = time.monotonic() + timeout_s
        queues = (self._records, self._shadow_queue, self._records)    # shadows add events: twice
        done = all(_joined(q, end) for q in queues if q is not None)
        return self.log.flush(max(0.0, end - time.monotonic())) and done

    # ----------------------------------------------------------------- reading
    def get_plan(self, order_id: str) -> Event:
        if not order_id:
            raise ValidationError("order_id", "required")
        if len(order_id) > 128:
            raise ValidationError("order_id", f"at most 128 characters, got {len(order_id)}")
        event = self.log.latest_decision(order_id)
        if event is None:
            raise NotFoundError("order_id", f"no decision logged for order {order_id!r}")
        return event

    def list(self, *, after_id: str = "", order_id: str = "", kinds: Sequence[str] = (),
             limit: int = 0) -> list[Event]:
        if not 0 <= limit <= MAX_LIST:
            raise ValidationError("limit", f"must be within [1, {MAX_LIST}] (0: {DEFAULT_LIST}), got {limit}")
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValidationError("kinds", f"unknown kind {unknown[0]!r}; kinds: {list(KINDS)}")
        if len(order_id) > 128:
            raise ValidationError("order_id", f"at most 128 characters, got {len(order_id)}")
        try:
            check_after_id(after_id)
        except ValueError:
            raise ValidationError("after_id", "must be an event id like 1700000000000-0, got "
                                  f"{after_id[:64]!r}") from None
        return self.log.read(after_id=after_id, order_id=order_id, kinds=tuple(kinds),
                             limit=limit or DEFAULT_LIST)


def _joined(pending: queue.Queue, end: float) -> bool:
    """Whether every item put on `pending` was processed before the monotonic time `end`."""
    done = threading.Event()

    def wait() -> None:
        pending.join()
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    return done.wait(max(0.0, end - time.monotonic()))


def _plan_event(kind: str, order: Order, plan: Plan, policy: str, request_id: str, elapsed_ms: float,
                at: datetime, note: Mapping[str, Any] | None = None) -> Event:
    nodes = tuple(dict.fromkeys(s.node_id for s in plan.shipments))
    detail: dict[str, Any] = {**(note or {}), "order": order_to_dict(order), "plan": tidy(plan_to_dict(plan))}
    return Event(kind, order.order_id, at, status=plan.status.name, request_id=request_id,
                 reservation_id=plan.reservation_id or "", total_cost=plan.total_cost, nodes=nodes,
                 policy=policy, elapsed_ms=elapsed_ms, detail=detail)


def _hold_event(kind: str, plan: Plan, request_id: str, at: datetime) -> Event:
    units = [{"node_id": s.node_id, "sku": ln.sku, "quantity": ln.quantity} for s in plan.shipments
             for ln in s.lines]
    return Event(kind, plan.order_id, at, status="held", request_id=request_id,
                 reservation_id=plan.reservation_id or "",
                 nodes=tuple(dict.fromkeys(s.node_id for s in plan.shipments)), detail={"allocations": units})


def shadow_of(order: Order, policy: str) -> Order:
    """`order` routed by `policy` instead of its own."""
    return replace(order, options=replace(order.options, policy=policy))
