"""The decision log in Redis: one capped Stream per namespace, shared by every server process.

`append` only queues the event; a writer thread sends what has queued in pipelined round trips
(XADD with an approximate MAXLEN, and for decisions a per-order key naming the entry, for
GetPlan), so routing never waits for the log. While Redis is down the writer keeps up to
`max_buffer` events and retries; beyond that the oldest are dropped and counted (`dropped`).
`flush` (a server draining) waits until the queue is written.

Keys: <ns>:events (the stream), <ns>:events:plan:<order id> (the id of its latest decision,
expiring after `retention_s`)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence

from ..domain.events import DECISION_KINDS, DEFAULT_LIST, Event
from .base import StoreUnavailable
from .event_log import DEFAULT_MAX_EVENTS, MAX_ID_PART, decode, encode, id_key, matches
from .redis_connection import DOWN, connect, text, unavailable

log = logging.getLogger("dom_engine.events")

DEFAULT_MAX_BUFFER = 10_000
DEFAULT_RETENTION_S = 7 * 86400.0
SEND_BATCH = 256
LINGER_S = 0.02              # how long the writer lets events gather before a round trip
SCAN_CHUNK = 1000
MAX_SCANNED = 100_000    # entries one filtered read may look at (bounds a read on a busy log)


class RedisEventLog:
    def __init__(self, url_or_client, namespace: str = "dom", *, max_events: int = DEFAULT_MAX_EVENTS,
                 retention_s: float = DEFAULT_RETENTION_S, max_buffer: int = DEFAULT_MAX_BUFFER,
                 writer: bool = True) -> None:
        self.r = connect(url_or_client)
        self.stream = f"{namespace}:events"
        self.plan_prefix = f"{namespace}:events:plan:"
        self.max_events, self.retention_s, self.max_buffer = max_events, retention_s, max_buffer
        self.dropped = 0
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._sending = 0           # events taken off the queue, not yet written
        self._closed = False
        self._flushing = 0          # callers waiting in flush(): the writer does not linger
        self._thread = None
        if writer:
            self._thread = threading.Thread(target=self._write_loop, name="dom-events", daemon=True)
            self._thread.start()

    # ----------------------------------------------------------------- writing
    def append(self, event: Event) -> None:
        with self._cond:
            if len(self._queue) >= self.max_buffer:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            if len(self._queue) == 1 or len(self._queue) >= SEND_BATCH:   # the writer may be asleep
                self._cond.notify()

    def flush(self, timeout_s: float = 5.0) -> bool:
        end = time.monotonic() + timeout_s
        with self._cond:
            self._flushing += 1
            try:
                while self._queue or self._sending:
                    left = end - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.notify_all()
                    self._cond.wait(min(left, 0.05))
            finally:
                self._flushing -= 1
        return True

    def _write_loop(self) -> None:
        pause = 0.05
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                # Linger: let events gather into one pipelined round trip instead of waking this
                # thread (and taking the GIL from the routing threads) once per event.
                if len(self._queue) < SEND_BATCH and not self._closed and not self._flushing:
                    self._cond.wait(LINGER_S)
                batch = [self._queue.popleft() for _ in range(min(SEND_BATCH, len(self._queue)))]
                self._sending = len(batch)
            try:
                self.write(batch)
                pause = 0.05
            except DOWN as exc:
                with self._cond:     # back in front, in order, within the buffer's bound
                    room = max(0, self.max_buffer - len(self._queue))
                    self.dropped += len(batch) - min(room, len(batch))
                    self._queue.extendleft(reversed(batch[len(batch) - min(room, len(batch)):]))
                log.warning("decision log: Redis unreachable, %d events buffered (%s)", len(self._queue), exc)
                if self._closed:
                    return
                time.sleep(pause)
                pause = min(2 * pause, 1.0)
            finally:
                with self._cond:
                    self._sending = 0
                    self._cond.notify_all()

    def write(self, events: Sequence[Event]) -> list[str]:
        """Write `events` now (two pipelined round trips); their stream ids."""
        pipe = self.r.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.stream, encode(event), maxlen=self.max_events, approximate=True)
        ids = [text(i) for i in pipe.execute()]
        decisions = [(e, i) for e, i in zip(events, ids, strict=True) if e.kind in DECISION_KINDS]
        if decisions:
            pipe = self.r.pipeline(transaction=False)
            for event, event_id in decisions:
                pipe.set(self.plan_prefix + event.order_id, event_id, ex=max(1, int(self.retention_s)))
            pipe.execute()
        return ids

    # ----------------------------------------------------------------- reading
    def read(self, *, after_id: str = "", order_id: str = "", kinds: Sequence[str] = (),
             limit: int = DEFAULT_LIST) -> list[Event]:
        found: list[Event] = []
        if after_id and id_key(after_id) == (MAX_ID_PART, MAX_ID_PART):
            return found            # nothing can follow the last possible id (Redis refuses the range)
        start = f"({after_id}" if after_id else "-"
        scanned = 0
        with unavailable("read the decision log"):
            while len(found) < limit and scanned < MAX_SCANNED:
                chunk = self.r.xrange(self.stream, min=start, max="+", count=SCAN_CHUNK)
                if not chunk:
                    break
                scanned += len(chunk)
                for raw_id, fields in chunk:
                    event = _entry(raw_id, fields)
                    if matches(event, order_id, kinds):
                        found.append(event)
                        if len(found) >= limit:
                            break
                start = f"({text(chunk[-1][0])}"
        return found

    def follow(self, after_id: str, block_ms: int) -> list[Event]:
        """Events after `after_id` ("$": from now), waiting up to `block_ms` for the first."""
        with unavailable("read the decision log"):
            out = self.r.xread({self.stream: after_id}, count=SCAN_CHUNK, block=block_ms)
        return [_entry(i, f) for _, entries in out or [] for i, f in entries]

    def latest_decision(self, order_id: str) -> Event | None:
        with unavailable("read the decision log"):
            event_id = self.r.get(self.plan_prefix + order_id)
            if event_id is None:
                return None
            entries = self.r.xrange(self.stream, min=text(event_id), max=text(event_id))
        if not entries:
            return None      # trimmed off the capped stream
        return _entry(*entries[0])

    def close(self) -> None:
        self.flush(2.0)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


def _entry(raw_id, fields) -> Event:
    """A stream entry (id and field map, as redis-py returns them) as an Event."""
    return decode(text(raw_id), {text(k): text(v) for k, v in fields.items()})


__all__ = ["RedisEventLog", "StoreUnavailable"]
