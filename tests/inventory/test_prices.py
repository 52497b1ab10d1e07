"""Opportunity prices kept by the stores: encoded without pickle, kept in process by the memory
store, shared by every process of a Redis store (a second process reads what the first
published), re-read once per publication, and answered from the last read while Redis is down."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from dom_engine.domain import ValidationError
from dom_engine.domain.opportunity import OpportunityPrices
from dom_engine.inventory.memory import MemoryStore
from dom_engine.inventory.prices import decode, encode
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import abc_network
from tests.redis_servers import client_url, new_namespace

WHEN = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _prices(seed: int = 0, version: int = 3) -> OpportunityPrices:
    rng = np.random.default_rng(seed)
    return OpportunityPrices(("A", "B", "C"), ("X", "Y"), rng.uniform(0, 5, (3, 2)), version, WHEN, 7.0,
                             1234.5)


def _same(a: OpportunityPrices, b: OpportunityPrices) -> bool:
    return (a.node_ids == b.node_ids and a.skus == b.skus and np.array_equal(a.values, b.values)
            and a.snapshot_version == b.snapshot_version and a.computed_at == b.computed_at
            and a.horizon_days == b.horizon_days and a.bound == b.bound)


def test_encoding_round_trips_and_refuses_other_bytes():
    p = _prices()
    assert _same(decode(encode(p)), p)
    with pytest.raises(ValidationError, match="opportunity_prices"):
        decode(b"not prices")


def test_prices_refuse_negative_or_misshaped_values():
    with pytest.raises(ValidationError, match="values"):
        OpportunityPrices(("A",), ("X",), np.array([[-1.0]]), 1, WHEN, 1.0)
    with pytest.raises(ValidationError, match="nodes x skus"):
        OpportunityPrices(("A", "B"), ("X",), np.zeros((1, 1)), 1, WHEN, 1.0)


def test_memory_store_keeps_the_last_published_prices():
    store = MemoryStore.from_records(abc_network(), [{"node_id": "A", "sku": "X", "on_hand": 1}])
    assert store.current_prices() is None
    store.publish_prices(_prices(1))
    store.publish_prices(_prices(2))
    assert _same(store.current_prices(), _prices(2))


def test_redis_prices_are_shared_by_another_process(redis_server):
    namespace = new_namespace()
    url = client_url(redis_server)
    store = RedisStore(abc_network(), url, namespace=namespace)
    assert store.current_prices() is None
    store.publish_prices(_prices(5))
    script = f"""
import numpy as np
from dom_engine.inventory.redis_store import RedisStore
from dom_engine.testing.networks import abc_network
p = RedisStore(abc_network(), {url!r}, namespace={namespace!r}).current_prices()
print(p.snapshot_version, repr(p.values.tobytes().hex()), p.bound)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    expected = _prices(5)
    assert out == [str(expected.snapshot_version), repr(expected.values.tobytes().hex()), str(expected.bound)]


def test_redis_readers_see_a_new_publication_after_their_check_interval(redis_server):
    namespace, url = new_namespace(), client_url(redis_server)
    now = [0.0]
    reader = RedisStore(abc_network(), url, namespace=namespace, cache_staleness_s=1.0,
                        monotonic=lambda: now[0])
    writer = RedisStore(abc_network(), url, namespace=namespace)
    writer.publish_prices(_prices(1))
    assert _same(reader.current_prices(), _prices(1))
    writer.publish_prices(_prices(2, version=4))
    assert _same(reader.current_prices(), _prices(1))      # checked less than a second ago
    now[0] = 1.5
    assert _same(reader.current_prices(), _prices(2, version=4))


def test_redis_outage_answers_the_last_prices_read(private_redis):
    server = private_redis()
    now = [0.0]
    store = RedisStore(abc_network(), server.url, namespace=new_namespace(), cache_staleness_s=0.5,
                       monotonic=lambda: now[0])
    store.publish_prices(_prices(3))
    server.stop()
    now[0] = 10.0
    assert _same(store.current_prices(), _prices(3))


def test_redis_cluster_shares_prices_between_stores(redis_cluster):
    namespace, url = new_namespace(), client_url(redis_cluster)
    RedisStore(abc_network(), url, namespace=namespace).publish_prices(_prices(7))
    assert _same(RedisStore(abc_network(), url, namespace=namespace).current_prices(), _prices(7))
