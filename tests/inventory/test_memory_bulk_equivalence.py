"""MemoryStore's vectorised bulk writes equal a naive reference on random data (hypothesis):
`load_snapshot` (rows scattered into fresh matrices, swapped in) against a per-row load into a dict,
and `apply_deltas` (levels per cell, new SKUs grown once, one scatter) against applying each delta
one at a time; both on a store that already holds SKUs and a reservation, which must survive."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dom_engine.domain import Network, Node, NodeKind, ValidationError
from dom_engine.inventory.base import Allocation, StockDelta
from dom_engine.inventory.memory import MemoryStore

NET = Network(tuple(Node(f"N{i}", NodeKind.WAREHOUSE, 30.0 + i, -90.0 - i) for i in range(4)))
SKU_POOL = [f"S{j}" for j in range(12)]
START = {("N0", "S0"): 9, ("N1", "S1"): 4, ("N3", "S0"): 2}   # S0 and S1 exist before; 2 of S0 held


def _store() -> MemoryStore:
    records = [{"node_id": n, "sku": s, "on_hand": q} for (n, s), q in START.items()]
    store = MemoryStore.from_records(NET, records)
    store.reserve("held", [Allocation("N0", "S0", 2)])
    return store


def _cells(store: MemoryStore) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Every non-zero cell as (node, SKU) -> (on hand, reserved, safety), whatever the column order."""
    skus, on_hand, reserved, safety = store.arrays()
    out = {}
    for i, node in enumerate(NET.node_ids):
        for j, sku in enumerate(skus):
            levels = int(on_hand[i, j]), int(reserved[i, j]), int(safety[i, j])
            if any(levels):
                out[node, sku] = levels
    return out


rows_strategy = st.lists(
    st.tuples(st.sampled_from(NET.node_ids), st.sampled_from(SKU_POOL), st.integers(0, 10**6),
              st.integers(0, 50)),
    max_size=40, unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy)
def test_vectorised_load_equals_a_per_row_load(rows):
    store = _store()
    node_ids = [r[0] for r in rows]
    skus = np.array([r[1] for r in rows], dtype=object)
    store.load_snapshot(node_ids, skus, np.array([r[2] for r in rows], dtype=np.int64),
                        np.array([r[3] for r in rows], dtype=np.int64))
    expected: dict[tuple[str, str], list[int]] = {("N0", "S0"): [0, 2, 0]}   # the hold stays
    for node, sku, on_hand, safety in rows:                                   # naive: one row at a time
        cell = expected.setdefault((node, sku), [0, 0, 0])
        cell[0], cell[2] = on_hand, safety
    assert _cells(store) == {k: tuple(v) for k, v in expected.items() if any(v)}
    assert set(store.skus) == {"S0", "S1"} | {r[1] for r in rows}
    view = store.read(SKU_POOL)
    for j, sku in enumerate(SKU_POOL):                                        # reads see the new columns
        for i, node in enumerate(NET.node_ids):
            on_hand, reserved, safety = expected.get((node, sku), [0, 0, 0])
            assert view.atp[i, j] == max(on_hand - reserved - safety, 0)


deltas_strategy = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(NET.node_ids), st.sampled_from(SKU_POOL),
              st.one_of(st.none(), st.integers(0, 100)), st.integers(-5, 100),
              st.one_of(st.none(), st.integers(0, 10))),
    max_size=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=deltas_strategy)
def test_linear_apply_deltas_equals_one_delta_at_a_time(raw):
    """Event ids repeat (redelivery within the batch); a batch that would leave negative stock
    anywhere is refused whole, as the sequential reference says."""
    deltas = [StockDelta(f"e{e}", node, sku, on_hand=set_to, adjust=adjust, safety_stock=safety)
              for e, node, sku, set_to, adjust, safety in raw]
    store = _store()
    reference = {k: [v[0], v[1], v[2]] for k, v in _cells(store).items()}
    applied, ok, seen = 0, True, set()
    for d in deltas:                                                  # naive: one delta at a time
        if d.event_id in seen:
            continue
        seen.add(d.event_id)
        cell = reference.setdefault((d.node_id, d.sku), [0, 0, 0])
        cell[0] = (cell[0] if d.on_hand is None else d.on_hand) + d.adjust
        if d.safety_stock is not None:
            cell[2] = d.safety_stock
        if cell[0] < 0:
            ok = False
            break
        applied += 1
    before, version = _cells(store), store.version
    if not ok:
        with pytest.raises(ValidationError, match="would leave on hand"):
            store.apply_deltas(deltas)
        assert _cells(store) == before and store.version == version   # nothing applied
        return
    assert store.apply_deltas(deltas) == applied
    assert _cells(store) == {k: tuple(v) for k, v in reference.items() if any(v)}
    assert store.apply_deltas(deltas) == 0                             # every id consumed
