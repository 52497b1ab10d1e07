"""[store]: backend selection, Redis settings, hold TTL, and errors naming the key."""

from __future__ import annotations

import pytest

from dom_engine.app.bootstrap import build_engine
from dom_engine.app.config import load_config
from dom_engine.domain import ConfigError
from dom_engine.inventory.memory import MemoryStore

REDIS = '[store]\nbackend = "redis"\nurl = "redis://127.0.0.1:1/0"\n'


def _write(tmp_path, text: str):
    path = tmp_path / "dom.toml"
    path.write_text(text)
    return path


def test_default_store_is_memory_with_the_default_hold_ttl():
    config = load_config(None, env={})
    assert config.store.backend == "memory" and config.store.hold_ttl_s == 900


def test_redis_settings_parse(tmp_path):
    config = load_config(_write(tmp_path, '[store]\nbackend = "redis"\nurl = "redis://10.0.0.5:6380/2"\n'
                                          'cluster = true\nnamespace = "eu"\nhold_ttl_s = 120\n'
                                          'attempt_lease_s = 8\n'), env={})
    s = config.store
    assert (s.backend, s.url, s.cluster, s.namespace, s.hold_ttl_s, s.attempt_lease_s) == (
        "redis", "redis://10.0.0.5:6380/2", True, "eu", 120, 8)


def test_environment_selects_redis(tmp_path):
    config = load_config(None, env={"DOM_STORE_BACKEND": "redis", "DOM_REDIS_URL": "redis://127.0.0.1:1/0",
                                    "DOM_HOLD_TTL_S": "30"})
    assert config.store.backend == "redis" and config.store.hold_ttl_s == 30.0


@pytest.mark.parametrize("text, key", [
    ('[store]\nbackend = "etcd"\n', "store.backend"),
    ('[store]\nbackend = "redis"\n', "store.url"),
    ('[store]\nbackend = "redis"\nurl = "http://x"\n', "store.url"),
    ('[store]\nhold_ttl_s = 0\n', "store.hold_ttl_s"),
    (REDIS + 'attempt_lease_s = -1\n', "store.attempt_lease_s"),
    (REDIS + 'namespace = ""\n', "store.namespace"),
    ('[store]\nshards = 3\n', "store.shards"),
    (REDIS + 'shards = 3\n', "store.shards"),
    (REDIS + 'degraded_staleness_s = 0.5\n', "store.degraded_staleness_s"),
    ('[store]\ncluster = "yes"\n', "store.cluster"),   # a redis key on memory: still type-checked
])
def test_bad_store_settings_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text), env={})
    assert err.value.field == key


def test_memory_store_gets_the_configured_hold_ttl(tmp_path):
    engine = build_engine(load_config(_write(tmp_path, "[store]\nhold_ttl_s = 5\n"), env={}))
    assert isinstance(engine.store, MemoryStore)
    assert engine.store._hold_ttl_s == 5


@pytest.mark.parametrize("target", ["redis_server", "redis_cluster"])
def test_redis_backend_builds_a_shared_store(tmp_path, request, target):
    """build_engine over [store] backend = "redis" talks to a real server or cluster: a snapshot
    loaded through one engine is read by another built from the same config."""
    import numpy as np

    from dom_engine.inventory.redis_store import RedisStore
    from tests.redis_servers import new_namespace

    server = request.getfixturevalue(target)
    cluster = "true" if target == "redis_cluster" else "false"
    path = _write(tmp_path, f'[store]\nbackend = "redis"\nurl = "{server.url}"\ncluster = {cluster}\n'
                            f'namespace = "{new_namespace("cfg")}"\nhold_ttl_s = 30\n')
    first = build_engine(load_config(path, env={}))
    assert isinstance(first.store, RedisStore)
    assert first.store._ops.attempt_lease_s == 5.0  # the [store] default reaches the store
    first.store.load_snapshot(["IND1"], ["SKU-00001"], np.array([7]))
    second = build_engine(load_config(path, env={}))
    view = second.store.read(["SKU-00001"])
    assert int(view.atp[second.network.index_of("IND1"), 0]) == 7


def test_unknown_skus_are_found_by_the_stock_read(tmp_path, redis_server):
    """The engine checks SKUs with the order's own read (no catalogue kept per process): a SKU the
    Redis snapshot does not have is reported on its line, a loaded one routes."""
    import numpy as np

    from dom_engine.domain import Destination, Line, NotFoundError, Order
    from tests.redis_servers import new_namespace

    path = _write(tmp_path, f'[store]\nbackend = "redis"\nurl = "{redis_server.url}"\n'
                            f'namespace = "{new_namespace("sku")}"\n')
    engine = build_engine(load_config(path, env={}))
    engine.store.load_snapshot(["IND1"], ["SKU-00001"], np.array([7]))
    order = Order("U-1", (Line("L1", "SKU-00001", 1), Line("L2", "SKU-99999", 1)), Destination(40.0, -86.0))
    with pytest.raises(NotFoundError) as err:
        engine.route(order)
    assert err.value.field == "lines[1].sku"
    assert engine.route(Order("U-2", order.lines[:1], order.destination)).shipments[0].node_id == "IND1"


def test_each_backend_owns_its_config_and_ignores_the_others_keys(tmp_path):
    """A memory store with Redis keys set (e.g. DOM_REDIS_URL in a shared environment) keeps its
    own config; switching the backend picks them up."""
    from dom_engine.inventory.memory_config import MemoryStoreConfig
    from dom_engine.inventory.redis_config import RedisStoreConfig

    env = {"DOM_REDIS_URL": "redis://127.0.0.1:1/0", "DOM_HOLD_TTL_S": "30"}
    memory = load_config(None, env=env).store
    assert memory == MemoryStoreConfig(hold_ttl_s=30.0) and not memory.shared
    redis = load_config(None, env={**env, "DOM_STORE_BACKEND": "redis"}).store
    assert redis == RedisStoreConfig(url="redis://127.0.0.1:1/0", hold_ttl_s=30.0) and redis.shared
