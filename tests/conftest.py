"""Session fixtures that start real Redis servers (standalone and a 3-master Cluster) on free
loopback ports; see tests/redis_servers.py. Tests skip only when redis-server is not installed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.redis_servers import REDIS_CLI, REDIS_SERVER, RedisClusterServers, RedisServer


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels() -> None:
    """Load (or, on a fresh checkout, compile: ~40 s once) the optimizer's numba kernels before
    any test starts a budget: tests that time a batch or an order would otherwise pay for it."""
    from dom_engine.optimize.batch.compiled_pricing import warm_up_batch

    warm_up_batch()


def _require_redis() -> None:
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server / redis-cli not installed (CI installs them)")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One standalone redis-server (`--port <free> --save "" --appendonly no`) for the whole
    session; tests keep apart by using their own key namespace. Killed at session end."""
    _require_redis()
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """A 3-master Redis Cluster (three `--cluster-enabled yes` servers joined with
    `redis-cli --cluster create --cluster-replicas 0`), ready once cluster_state:ok. Killed at
    session end."""
    _require_redis()
    cluster = RedisClusterServers().start()
    yield cluster
    cluster.close()


@pytest.fixture
def private_redis() -> Iterator[Callable[..., RedisServer]]:
    """Factory for extra standalone servers a test may kill and restart (outage tests);
    `make(durable=True)` keeps acknowledged writes across a kill. Every server it made is killed
    at the end of the test."""
    _require_redis()
    made: list[RedisServer] = []

    def make(durable: bool = False) -> RedisServer:
        server = RedisServer(durable=durable).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def private_redis_cluster() -> Iterator[Callable[..., RedisClusterServers]]:
    """Factory for an extra 3-master Cluster a test may kill masters of (outage tests), so the
    session cluster is never disturbed: `make(durable=True)` gives every master an fsync-always
    append-only file; `make(full_coverage=False)` keeps the other masters serving while one is
    down. `cluster.kill(i)` / `cluster.restart(i)` stop a master and bring it back on its port
    with its nodes.conf. Every cluster it made is killed at the end of the test."""
    _require_redis()
    made: list[RedisClusterServers] = []

    def make(durable: bool = False, full_coverage: bool = True) -> RedisClusterServers:
        cluster = RedisClusterServers(durable=durable, full_coverage=full_coverage)
        made.append(cluster)  # before start: a failed start still gets closed
        return cluster.start()

    yield make
    for cluster in made:
        cluster.close()
