"""Reading the decision log out: every event in log order, as Parquet rows (`dom events export`),
and the orders of the live decisions as an order stream the what-if simulation replays."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..domain import ConfigError
from ..domain.events import MAX_LIST, Event, EventLog
from ..inventory.event_log import encode, flat, matches

__all__ = ["all_events", "event_dict", "export_orders", "export_parquet", "log_of", "matches"]

# Decisions made for live traffic (a shadow route or a re-route after a rejected shipment is not
# a new order arriving).
ARRIVALS = ("route", "batch")


def log_of(config) -> EventLog:
    """The configured store's decision log, for reading from outside the server (Redis only: the
    in-memory store's log lives in the server process)."""
    if not config.store.shared:
        raise ConfigError("store.backend", "the in-memory store keeps its decision log inside the server "
                          "process: read it there with the DecisionLog ListEvents RPC, or configure "
                          '[store] backend = "redis" to share it')
    return config.events.open(config.store)


def all_events(log: EventLog, *, order_id: str = "", kinds: Sequence[str] = (),
               after_id: str = "") -> Iterator[Event]:
    """Every event after `after_id`, oldest first, read a page at a time."""
    while True:
        page = log.read(after_id=after_id, order_id=order_id, kinds=kinds, limit=MAX_LIST)
        yield from page
        if len(page) < MAX_LIST:
            return
        after_id = page[-1].event_id


def event_dict(event: Event) -> dict:
    """The event as one JSON object (`dom events tail --json`)."""
    return {"event_id": event.event_id, **encode(event), "detail": event.detail}


def export_parquet(events: Sequence[Event], path: str | Path) -> int:
    """One row per event (the detail as JSON text); returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [flat(e) for e in events]
    columns = ("event_id", "at", "kind", "order_id", "request_id", "status", "reservation_id",
               "total_cost", "nodes", "policy", "elapsed_ms", "detail")
    table = pa.table({c: [r[c] for r in rows] for c in columns}) if rows else pa.table(
        {c: pa.array([], type=pa.timestamp("us", tz="UTC") if c == "at" else
                      pa.float64() if c in ("total_cost", "elapsed_ms") else pa.string()) for c in columns})
    pq.write_table(table, path)
    return len(rows)


def export_orders(events: Sequence[Event], path: str | Path) -> int:
    """The orders of the live decisions, first arrival of each order id, in log order, as the
    .jsonl order stream `dom simulate --orders` and `dom batch` read. Returns the orders written."""
    seen: set[str] = set()
    with Path(path).open("w", encoding="utf-8") as out:
        for event in events:
            order = event.detail.get("order")
            if event.kind not in ARRIVALS or order is None or event.order_id in seen:
                continue
            seen.add(event.order_id)
            out.write(json.dumps({"order": order}, separators=(",", ":")) + "\n")
    return len(seen)
