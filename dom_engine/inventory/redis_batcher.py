"""Group commit for RedisStore.reserve: concurrent callers of one process share a round trip.

Under load the gRPC server threads of a process each call `reserve` for their own order; one Lua
call per order makes the network round trip, not Redis, the limit (about 4k/s from one client).
A `Coalescer` turns the callers that arrive while a round trip is in flight into one pipelined
round trip, without asking anybody to batch and without timers:

- a caller that finds no round trip in flight leads: it sends at once (a batch of one, so a lone
  caller waits for nothing but its own round trip);
- callers that arrive meanwhile queue up; when the round trip ends, the leader hands each of its
  batch its own outcome and passes the lead to the oldest queued caller, which sends the queue
  (up to `max_batch` requests) in one round trip;
- when the send function raises, every caller of that batch gets the exception (a copy each,
  when the exception can be copied) and the next batch goes out as usual.

The coalescer is generic: `send(requests) -> outcomes` (one outcome per request, in order) is the
only thing it knows about Redis. It holds no lock while sending, and a caller never waits for a
batch it is not in, so a send function may itself call into the store (not into the same
coalescer from inside `send`, which would wait for itself).
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Coalescer", "CoalescerStats", "MAX_BATCH"]

Req = TypeVar("Req")
Out = TypeVar("Out")

MAX_BATCH = 128  # requests per round trip: bounds one pipeline's size and its leader's wait


@dataclass(frozen=True)
class CoalescerStats:
    """Counters since the coalescer was made: `requests` submitted and answered, `round_trips`
    (send calls), the `largest` batch, and how many round trips carried more than one request."""

    requests: int = 0
    round_trips: int = 0
    largest: int = 0
    coalesced_round_trips: int = 0

    @property
    def per_round_trip(self) -> float:
        """Mean requests per round trip (1.0 when nothing was coalesced)."""
        return self.requests / self.round_trips if self.round_trips else 0.0


class _Slot:
    """One waiting caller: its request, then its outcome or error. `wake` is held until the
    caller may go on (its outcome is in, or it now leads the next batch)."""

    __slots__ = ("request", "outcome", "error", "lead", "wake")

    def __init__(self, request) -> None:
        self.request = request
        self.outcome = None
        self.error: BaseException | None = None
        self.lead = False
        # a plain lock as a one-shot signal: cheaper than an Event, and only the leader releases it
        self.wake = threading.Lock()
        self.wake.acquire()


class Coalescer(Generic[Req, Out]):
    """Leader/follower batching of `send` calls from many threads (see the module docstring)."""

    def __init__(self, send: Callable[[Sequence[Req]], Sequence[Out]], max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._send = send
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[_Slot] = deque()
        self._busy = False          # a round trip is in flight (or its leader is handing off)
        self._counts = [0, 0, 0, 0]  # CoalescerStats' fields, bumped under _lock

    def stats(self) -> CoalescerStats:
        """A snapshot of the counters (tests and benchmarks check that coalescing happened)."""
        with self._lock:
            return CoalescerStats(*self._counts)

    @property
    def in_flight(self) -> bool:
        """Whether a round trip is under way (a caller arriving now queues for the next one)."""
        with self._lock:
            return self._busy

    @property
    def queued(self) -> int:
        """Callers waiting for the next round trip."""
        with self._lock:
            return len(self._queue)

    def submit(self, request: Req) -> Out:
        """Send `request` (alone, or with the requests of other threads waiting at the same time)
        and return its outcome; raise what `send` raised for its batch."""
        slot = _Slot(request)
        with self._lock:
            if self._busy:
                self._queue.append(slot)
            else:
                self._busy = True
                slot.lead = True
        if not slot.lead:
            slot.wake.acquire()  # released by a leader: with an outcome, or to lead the next batch
            if not slot.lead:
                return self._result(slot)
        self._lead(slot)
        return self._result(slot)

    def _lead(self, first: _Slot) -> None:
        """Send `first` and the queued requests behind it (up to max_batch), hand out outcomes,
        then pass the lead on (or mark the coalescer idle)."""
        with self._lock:
            batch = [first]
            while self._queue and len(batch) < self.max_batch:
                batch.append(self._queue.popleft())
        try:
            outcomes = list(self._send([s.request for s in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"send returned {len(outcomes)} outcomes for {len(batch)} requests")
            for s, outcome in zip(batch, outcomes, strict=True):
                s.outcome = outcome
        except BaseException as exc:  # every caller of the batch must hear of it, even of a bug
            first.error = exc
            for s in batch[1:]:
                s.error = _copy_of(exc)
        finally:
            with self._lock:
                counts = self._counts
                counts[0] += len(batch)
                counts[1] += 1
                counts[2] = max(counts[2], len(batch))
                counts[3] += len(batch) > 1
                successor = self._queue.popleft() if self._queue else None
                if successor is None:
                    self._busy = False
                else:
                    successor.lead = True
            # the next round trip first: it is what the queued callers wait for
            if successor is not None:
                successor.wake.release()
            for s in batch[1:]:
                s.wake.release()

    @staticmethod
    def _result(slot: _Slot):
        if slot.error is not None:
            raise slot.error
        return slot.outcome


def _copy_of(exc: BaseException) -> BaseException:
    """A copy of `exc` (same type, message, cause and traceback so far) for one more caller to
    raise: one exception object raised by several threads at once would mix their tracebacks.
    The original when it cannot be copied (an __init__ that does not take its own args)."""
    try:
        dup = copy.copy(exc)
    except Exception:
        return exc
    if type(dup) is not type(exc) or dup.args != exc.args:
        return exc
    dup.__cause__, dup.__context__ = exc.__cause__, exc.__context__
    dup.__suppress_context__ = exc.__suppress_context__
    return dup.with_traceback(exc.__traceback__)
