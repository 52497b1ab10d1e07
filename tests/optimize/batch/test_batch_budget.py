"""Phases of a wave that must look at the clock: on 50k / 100k waves the contest phase and the
restricted-master MIP's model build ran past the budget (32.1 s of 30, 65.4 s of 60)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from dom_engine.domain.batch import BatchSettings
from dom_engine.domain.stop import Deadline
from dom_engine.optimize.batch import BatchProblem, prepare_batch
from dom_engine.optimize.batch import finish as batch_finish
from dom_engine.optimize.batch.column_generation import OVER_EPS, ColumnGeneration
from dom_engine.optimize.batch.router import WaveRouter
from dom_engine.optimize.batch.solver import _alone_then_in_turn, usage_of
from dom_engine.testing import random_batch


@pytest.fixture
def contested() -> Iterator[tuple[ColumnGeneration, np.ndarray]]:
    """Column generation over a scarce wave, before its first contest (and the resources to contest)."""
    inst = random_batch(7, n_orders=60, n_nodes=8, n_skus=6, max_lines=3, supply_ratio=0.6,
                        kit_probability=0.0, ship_capacity_probability=0.0, unit_capacity_probability=0.0)
    batch = prepare_batch(BatchProblem(inst.orders, inst.stock, inst.network, inst.rate_card, inst.policies,
                                       BatchSettings(), inst.now, inst.unit_capacity_left))
    router = WaveRouter(batch.entries, batch.layout)
    chosen, _, starts, lb0, *_ = _alone_then_in_turn(batch.entries, batch.layout, batch.cap, Deadline(),
                                                    batch.points, lambda *a: None, router)
    usage = usage_of(chosen, batch.layout.size)
    over = np.flatnonzero(usage > batch.cap + OVER_EPS)
    assert len(over)
    cg = ColumnGeneration(batch.entries, batch.layout, batch.cap, chosen, lb0, starts, usage,
                          batch.entries[0].params, router)
    yield cg, over
    router.close()


def test_contest_out_of_time_gives_each_order_only_its_plan_and_shipping_nothing(contested) -> None:
    cg, over = contested
    cg.contest(over, Deadline.after_ms(0))
    assert cg.active
    for o in cg.active:
        assert len(cg.pools[o]) == 2
        assert cg.pools[o][0] is cg.chosen[o] and not len(cg.pools[o][1].res)


def test_contest_with_time_adds_start_and_escape_plans(contested) -> None:
    cg, over = contested
    cg.contest(over, Deadline())
    assert any(len(cg.pools[o]) > 2 for o in cg.active)


def test_the_mip_is_not_built_when_building_it_would_eat_the_time_left(contested) -> None:
    cg, over = contested
    cg.contest(over, Deadline())
    left = cg.cap - cg.free_usage
    group = list(cg.active)
    # Plans dearer than the bound (the gap is open): only the time decides.
    chosen = [cg.entries[k].empty_column() if cg.is_active[k] else c for k, c in enumerate(cg.chosen)]
    short = Deadline.after_ms(1000 * len(group) * batch_finish.MIP_BUILD_SECONDS_PER_ORDER)
    assert batch_finish._MipThread(cg, chosen, group, left, short).thread is None
    started = batch_finish._MipThread(cg, chosen, group, left, Deadline.after_ms(2000))
    assert started.thread is not None
    started.wait()
