"""OR-Tools glue for the stopping criterion (domain/stop.py): cancel a running CP-SAT search."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..domain.stop import Deadline


@contextmanager
def stopping(solver: Any, deadline: Deadline) -> Iterator[None]:
    """While the block runs, cancelling `deadline` stops `solver`'s search (a CP-SAT CpSolver:
    `stop_search` is safe from another thread). Wrap `solver.solve(model)`."""
    forget = deadline.on_cancel(solver.stop_search)
    try:
        yield
    finally:
        forget()
