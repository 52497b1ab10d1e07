"""The decision log's record: one Event per decision or reservation change, and the EventLog
port its stores implement (in process: inventory/event_log.py; Redis Streams: redis_events.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

# Decisions (a plan was made) and reservation changes, as written to the log.
DECISION_KINDS = ("route", "reject", "batch")
KINDS = (*DECISION_KINDS, "shadow", "held", "extended", "committed", "released", "expired")
MAX_LIST = 1000
DEFAULT_LIST = 100


@dataclass(frozen=True)
class Event:
    """What was decided for one order (or done to its reservation), when, and why (`detail`: the
    order as routed and the plan, JSON-ready). `event_id` is the log's position, set on append."""

    kind: str
    order_id: str
    at: datetime
    status: str = ""
    request_id: str = ""
    reservation_id: str = ""
    total_cost: float = 0.0
    nodes: tuple[str, ...] = ()
    policy: str = ""
    elapsed_ms: float = 0.0
    detail: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = ""


class EventLog(Protocol):
    """Where events go. `append` never blocks on the store (events are buffered and written in
    the background; `flush` waits for them); reads see what has been written."""

    def append(self, event: Event) -> None: ...

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Write what is buffered; False if it could not be written within `timeout_s`."""
        ...

    def read(self, *, after_id: str = "", order_id: str = "", kinds: Sequence[str] = (),
             limit: int = DEFAULT_LIST) -> list[Event]:
        """Events after `after_id` (exclusive), oldest first, filtered by order and kinds."""
        ...

    def latest_decision(self, order_id: str) -> Event | None:
        """The order's most recent route, reject or batch event, or None."""
        ...

    def close(self) -> None: ...
