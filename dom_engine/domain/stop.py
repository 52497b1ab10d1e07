"""When to stop: a deadline on the monotonic clock plus a cancellation flag, one object per call.

Every phase of a call (parsing, building problems, solving, building plans, reserving) asks the
same `Deadline` whether to go on, so the budget covers the whole call and a cancelled call (the
gRPC client gave up: `context.add_callback(stop.cancel)`) stops within one loop iteration.

Loops ask `stop.expired()`; budgets are split with `within(seconds)` / `until(end)`, and
`remaining_s()` tells what is left. Solvers that run outside Python (CP-SAT) register
`stop.on_cancel(solver.stop_search)` (see optimize/stop.py).

A value type with no dependencies, so every layer (service included) can make and pass one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class StoppingCriterion(Protocol):
    """What solvers ask while they work (PyVRP's stopping-criterion idea): whether to stop now and
    how long is left. `Deadline` is the implementation every call uses; tests may pass others."""

    def expired(self) -> bool: ...

    def remaining_s(self) -> float: ...


class Stopped(Exception):
    """A call's deadline passed or its client cancelled before any answer could be had."""

    def __init__(self, message: str, cancelled: bool = False) -> None:
        super().__init__(message)
        self.cancelled = cancelled


class _Flag:
    """The cancellation shared by a deadline and every deadline derived from it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.lock = threading.Lock()
        self.hooks: list[Callable[[], None]] = []


class Deadline:
    """A stopping criterion: the end of the time allowed (a `time.perf_counter()` value, inf for
    none) and a cancellation flag. `within(seconds)` derives a sooner deadline for one phase that
    shares the flag, so cancelling the call stops every phase."""

    __slots__ = ("end", "started", "_flag")

    def __init__(self, end: float = math.inf, _flag: _Flag | None = None) -> None:
        self.end = float(end)
        self.started = time.perf_counter()   # when this deadline was made (budgets count from it)
        self._flag = _flag or _Flag()

    @classmethod
    def after_ms(cls, ms: float | None, parent: Deadline | None = None) -> Deadline:
        """`ms` milliseconds from now (None: no limit), never later than `parent` and sharing its
        cancellation."""
        end = math.inf if ms is None else time.perf_counter() + max(0.0, ms) / 1000.0
        if parent is None:
            return cls(end)
        return parent.within(math.inf if ms is None else max(0.0, ms) / 1000.0)

    def within(self, seconds: float) -> Deadline:
        """A deadline `seconds` from now or this one, whichever is sooner, cancelled with it."""
        return Deadline(min(self.end, time.perf_counter() + max(0.0, seconds)), self._flag)

    def until(self, end: float) -> Deadline:
        """A deadline at `end` (a perf_counter value) or this one, whichever is sooner."""
        return Deadline(min(self.end, end), self._flag)

    # ---- asking ----------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._flag.event.is_set()

    def expired(self) -> bool:
        """True once the end has passed or the call was cancelled."""
        return self._flag.event.is_set() or time.perf_counter() >= self.end

    def remaining_s(self) -> float:
        """Seconds left (0 once expired or cancelled; inf without a limit)."""
        if self._flag.event.is_set():
            return 0.0
        return max(0.0, self.end - time.perf_counter())

    def remaining_ms(self) -> float:
        return self.remaining_s() * 1000.0

    # ---- cancelling ------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop every phase of the call now (thread-safe; runs the registered hooks once)."""
        with self._flag.lock:
            if self._flag.event.is_set():
                return
            self._flag.event.set()
            hooks, self._flag.hooks = self._flag.hooks, []
        for hook in hooks:
            hook()

    def on_cancel(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run `hook` when the call is cancelled (at once if it is already). Returns a function
        that unregisters it (call it when the work the hook stops is over)."""
        with self._flag.lock:
            if not self._flag.event.is_set():
                self._flag.hooks.append(hook)
                return lambda: self._forget(hook)
        hook()
        return lambda: None

    def _forget(self, hook: Callable[[], None]) -> None:
        with self._flag.lock:
            if hook in self._flag.hooks:
                self._flag.hooks.remove(hook)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else f"{self.remaining_ms():.1f} ms left"
        return f"Deadline({state})"
