"""The decision log in this process (the memory store's): a capped deque, newest last. Also the
event <-> flat-fields encoding the Redis log shares, and the position ids both logs hand out."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..domain.events import DECISION_KINDS, DEFAULT_LIST, Event

DEFAULT_MAX_EVENTS = 100_000


def id_key(event_id: str) -> tuple[int, int]:
    """"<ms>-<seq>" as a sortable pair (Redis Stream ids have the same form)."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def encode(event: Event) -> dict[str, str]:
    """Flat string fields (a Redis Stream entry)."""
    return {"kind": event.kind, "order_id": event.order_id, "at": event.at.isoformat(),
            "status": event.status, "request_id": event.request_id, "reservation_id": event.reservation_id,
            "total_cost": repr(float(event.total_cost)), "nodes": ",".join(event.nodes),
            "policy": event.policy, "elapsed_ms": repr(float(event.elapsed_ms)),
            "detail": json.dumps(event.detail, separators=(",", ":"), default=str)}


def decode(event_id: str, fields: Mapping[str, str]) -> Event:
    nodes = fields.get("nodes", "")
    return Event(kind=fields["kind"], order_id=fields["order_id"], at=datetime.fromisoformat(fields["at"]),
                 status=fields.get("status", ""), request_id=fields.get("request_id", ""),
                 reservation_id=fields.get("reservation_id", ""),
                 total_cost=float(fields.get("total_cost", "0")),
                 nodes=tuple(nodes.split(",")) if nodes else (),
                 policy=fields.get("policy", ""), elapsed_ms=float(fields.get("elapsed_ms", "0")),
                 detail=json.loads(fields.get("detail") or "{}"), event_id=event_id)


def matches(event: Event, order_id: str, kinds: Sequence[str]) -> bool:
    return (not order_id or event.order_id == order_id) and (not kinds or event.kind in kinds)


class MemoryEventLog:
    """The last `max_events` events of this process (older ones drop off, like a capped stream)."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._events: deque[Event] = deque(maxlen=max_events)
        self._latest: dict[str, Event] = {}       # order id -> its latest decision (GetPlan)
        self._lock = threading.Lock()
        self._last = (0, 0)

    def _next_id(self) -> str:
        ms = int(time.time() * 1000)
        last_ms, seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, seq + 1)
        return f"{self._last[0]}-{self._last[1]}"

    def append(self, event: Event) -> None:
        with self._lock:
            event = replace(event, event_id=self._next_id())
            if len(self._events) == self._events.maxlen:
                dropped = self._events[0]
                if self._latest.get(dropped.order_id) is dropped:
                    del self._latest[dropped.order_id]
            self._events.append(event)
            if event.kind in DECISION_KINDS:
                self._latest[event.order_id] = event

    def flush(self, timeout_s: float = 5.0) -> bool:
        return True

    def read(self, *, after_id: str = "", order_id: str = "", kinds: Sequence[str] = (),
             limit: int = DEFAULT_LIST) -> list[Event]:
        after = id_key(after_id) if after_id else (-1, -1)
        with self._lock:
            found: list[Event] = []
            for event in self._events:
                if id_key(event.event_id) > after and matches(event, order_id, kinds):
                    found.append(event)
                    if len(found) >= limit:
                        break
            return found

    def latest_decision(self, order_id: str) -> Event | None:
        with self._lock:
            return self._latest.get(order_id)

    def close(self) -> None:
        pass


_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
MAX_ID_PART = 2**64 - 1      # Redis Stream ids are two unsigned 64-bit numbers


def check_after_id(after_id: str) -> None:
    """ValueError unless `after_id` is empty or "<ms>-<seq>" with both parts within 64 bits (what
    a Redis Stream accepts: anything else would be the store's error, not the caller's)."""
    if after_id:
        if not _ID.fullmatch(after_id) or max(id_key(after_id)) > MAX_ID_PART:
            raise ValueError(after_id)


def flat(event: Event) -> dict[str, Any]:
    """One row of an export (Parquet): the fields, the detail as JSON text."""
    row: dict[str, Any] = {"event_id": event.event_id, **encode(event)}
    row.update(at=event.at, total_cost=event.total_cost, elapsed_ms=event.elapsed_ms)
    return row
