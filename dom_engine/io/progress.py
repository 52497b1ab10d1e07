"""Progress bars on stderr for the command line (tqdm; hidden when stderr is not a terminal)."""

from __future__ import annotations

import sys


def scenario_bar():
    """A context manager yielding progress(scenario, replication, done, total) that drives one tqdm
    bar on stderr, started over for each scenario and replication."""
    from contextlib import contextmanager

    from tqdm import tqdm

    @contextmanager
    def bar():
        with tqdm(total=0, unit="orders", file=sys.stderr, disable=None, leave=False) as t:
            current = [("", -1)]

            def update(scenario: str, replication: int, done: int, total: int) -> None:
                if current[0] != (scenario, replication):
                    current[0] = (scenario, replication)
                    t.set_description(f"{scenario} #{replication + 1}", refresh=False)
                    t.reset(total=total)
                t.update(done - t.n)

            yield update

    return bar()


def phase_bar():
    """A context manager yielding progress(phase, done, total) for Engine.route_batch: one tqdm bar
    on stderr that starts over, labelled, at each phase (build, solve, improve, reserve)."""
    from contextlib import contextmanager

    from tqdm import tqdm

    @contextmanager
    def bar():
        with tqdm(total=0, file=sys.stderr, disable=None, leave=False) as t:
            phase = [""]

            def update(name: str, done: int, total: int) -> None:
                if name != phase[0]:
                    phase[0] = name
                    t.set_description(name, refresh=False)
                    t.reset(total=total)
                elif total != t.total:
                    t.total = total
                t.update(done - t.n)

            yield update

    return bar()


def progress_bar(unit: str):
    """A context manager yielding progress(done, total) that drives a tqdm bar on stderr (the total
    is learnt from the first call: the file is read inside the use case)."""
    from contextlib import contextmanager

    from tqdm import tqdm

    @contextmanager
    def bar():
        with tqdm(total=0, unit=unit, unit_scale=True, file=sys.stderr, disable=None) as t:
            def update(done: int, total: int) -> None:
                if total != t.total:
                    t.total = total
                t.update(done - t.n)

            yield update

    return bar()
