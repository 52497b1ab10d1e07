"""The wave builder (optimize/batch/builder.py) against build_problem, order by order: every field
of every Problem equal, bit for bit, on random waves (kits, shared SKUs, buffers, channels,
excluded nodes, capacities, promise dates, modes) and on demo orders."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from dom_engine.domain import Mode, NodeKind, Penalties, PolicyProfile
from dom_engine.domain.stock import StockView
from dom_engine.network.geo import haversine_km
from dom_engine.network.pricing import ServicePrices
from dom_engine.optimize.batch.builder import build_problems
from dom_engine.optimize.problem import Problem, build_problem
from dom_engine.testing.builders import BatchInstance, random_batch


def _policies() -> tuple[PolicyProfile, ...]:
    return (
        PolicyProfile(name="cost", penalties=Penalties(per_order=30.0, per_unit=15.0)),
        PolicyProfile(name="buffered", penalties=Penalties(per_order=10.0, per_unit=5.0,
                                                           per_unit_per_max_distance=0.01),
                      min_stock_buffer={NodeKind.STORE.value: 1},
                      channel_node_kinds={"marketplace": frozenset({NodeKind.WAREHOUSE.value})}),
        PolicyProfile(name="fast", mode=Mode.FASTEST, penalties=Penalties(per_order=5.0, per_unit=20.0)),
    )


def _one_by_one(inst: BatchInstance, k: int) -> Problem:
    """What prepare_batch built before the wave builder: the order on its SKUs' view."""
    order = inst.orders[k]
    skus = sorted({line.sku for line in order.lines}, key=inst.stock.skus.index)
    view = replace(inst.stock.narrowed(skus), skus=tuple(skus))
    dest = order.destination
    dist = haversine_km(dest.latitude, dest.longitude, inst.network.latitudes, inst.network.longitudes)
    return build_problem(order, view, inst.network, inst.rate_card, inst.policies[k], inst.now, dist)


def assert_same_problem(got: Problem, want: Problem) -> None:
    for f in fields(Problem):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, ServicePrices):
            for g in fields(ServicePrices):
                x, y = getattr(a, g.name), getattr(b, g.name)
                assert x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y), (f.name, g.name)
        elif isinstance(b, np.ndarray):
            assert a.shape == b.shape and a.dtype == b.dtype, (f.name, a.shape, b.shape, a.dtype, b.dtype)
            assert np.array_equal(a, b), (f.name, a, b)
        else:
            assert a == b, (f.name, a, b)


def _check(inst: BatchInstance) -> int:
    dests = np.array([(o.destination.latitude, o.destination.longitude) for o in inst.orders])
    dist = haversine_km(dests[:, :1], dests[:, 1:], inst.network.latitudes[None, :],
                        inst.network.longitudes[None, :])
    built = build_problems(inst.orders, inst.policies, inst.stock, inst.network, inst.rate_card, inst.now,
                           dist)
    fast = 0
    for k, problem in enumerate(built):
        if problem is None:
            continue
        fast += 1
        assert_same_problem(problem, _one_by_one(inst, k))
    return fast


@pytest.mark.parametrize("seed", range(12))
def test_equals_build_problem_on_random_waves(seed: int) -> None:
    inst = random_batch(seed, n_orders=40, n_nodes=9, n_skus=8, max_lines=4, kit_probability=0.2,
                        duplicate_sku_probability=0.1, promise_probability=0.6, exclude_probability=0.3,
                        channels=("", "marketplace"), policies=_policies(), store_buffer=1)
    assert _check(inst) >= 20     # most orders take the wave path (kits and shared SKUs do not)


def test_unbuffered_negative_stock_and_no_capacity_read() -> None:
    inst = random_batch(3, n_orders=30, n_nodes=7, n_skus=6, kit_probability=0.0)
    atp = inst.stock.atp.copy()
    atp[0, :] = -2      # a node oversold in the snapshot: build_problem does not clip it
    stock = StockView(1, inst.stock.skus, atp)
    assert _check(replace(inst, stock=stock)) == 30


def test_orders_it_leaves_to_build_problem() -> None:
    inst = random_batch(5, n_orders=40, n_nodes=6, n_skus=6, kit_probability=0.6,
                        duplicate_sku_probability=0.5)
    dist = np.zeros((len(inst.orders), len(inst.network)))
    built = build_problems(inst.orders, inst.policies, inst.stock, inst.network, inst.rate_card, inst.now,
                           dist)
    for order, problem in zip(inst.orders, built, strict=True):
        kit = any(line.ship_group for line in order.lines)
        repeated = len({line.sku for line in order.lines}) < len(order.lines)
        if kit:
            assert problem is None
        if problem is None:
            assert kit or repeated
