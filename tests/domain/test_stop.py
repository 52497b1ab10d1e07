"""The stopping criterion every layer passes (domain/stop.py): a monotonic deadline with a
cancellation shared by every deadline derived from it."""

from __future__ import annotations

import math
import time

from dom_engine.domain.stop import Deadline, StoppingCriterion


def test_no_limit_until_cancelled():
    stop = Deadline()
    assert isinstance(stop, StoppingCriterion)
    assert not stop.expired() and math.isinf(stop.remaining_s())
    stop.cancel()
    assert stop.expired() and stop.cancelled and stop.remaining_s() == 0.0


def test_a_budget_expires():
    stop = Deadline.after_ms(5)
    assert 0 < stop.remaining_s() <= 0.005
    time.sleep(0.01)
    assert stop.expired() and stop.remaining_s() == 0.0
    assert Deadline.after_ms(-5).expired()


def test_derived_deadlines_are_never_later_and_share_the_cancellation():
    parent = Deadline.after_ms(1_000)
    child = parent.within(60.0)
    assert child.end == parent.end                      # never later than the parent
    sooner = parent.within(0.001)
    assert sooner.end < parent.end
    assert Deadline.after_ms(None, parent).end == parent.end
    parent.cancel()
    assert child.expired() and sooner.cancelled


def test_cancel_hooks_run_once_and_can_be_forgotten():
    stop = Deadline()
    calls: list[str] = []
    stop.on_cancel(lambda: calls.append("a"))
    forget = stop.on_cancel(lambda: calls.append("b"))
    forget()
    stop.cancel()
    stop.cancel()
    assert calls == ["a"]
    stop.on_cancel(lambda: calls.append("late"))         # already cancelled: runs at once
    assert calls == ["a", "late"]
