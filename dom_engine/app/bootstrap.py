"""The bootstrap: the one place a configuration becomes components (network, store, rate card,
policies) and an Engine. Front ends (cli, service workers) call `build_engine` and nothing below it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from ..domain import ConfigError, Network, PolicyProfile, RateCard
from ..inventory.base import SnapshotStore
from ..inventory.memory import MemoryStore
from ..io.demo import demo_inventory, demo_network, demo_rate_card
from ..io.stock_files import load_inventory, read_inventory
from ..io.tables import load_network, load_rate_card
from .config import EngineConfig, StoreConfig
from .engine import Engine
from .stock_admin import StockAdmin


class Components(NamedTuple):
    """Everything an Engine is built from, loaded and validated."""

    network: Network
    store: SnapshotStore
    rate_card: RateCard
    policies: Mapping[str, PolicyProfile]


def load_components(config: EngineConfig) -> Components:
    """Load network, stock, rate card and policies named by `config` (all files are read here)."""
    network = network_of(config)
    if config.store.backend == "redis":
        store: SnapshotStore = open_redis_store(config.store, network)
    elif config.inventory is not None:
        store = load_inventory(config.inventory, network, hold_ttl_s=config.store.hold_ttl_s)
    else:
        store = demo_inventory(network, config.demo_seed, hold_ttl_s=config.store.hold_ttl_s)
    rate_card = load_rate_card(config.rates) if config.rates else demo_rate_card()
    return Components(network, store, rate_card, config.policies)


def build_engine(config: EngineConfig | None = None) -> Engine:
    """Load everything `config` names (default: the demo) and wire an Engine."""
    config = config if config is not None else EngineConfig()
    c = load_components(config)
    return Engine(network=c.network, rate_card=c.rate_card, store=c.store, policies=dict(c.policies),
                  default_policy=config.default_policy, limits=config.limits, batch=config.batch,
                  solver=config.solver)


def network_of(config: EngineConfig) -> Network:
    """The network `config` names (the demo network by default)."""
    return load_network(config.network) if config.network else demo_network(config.demo_seed)


def open_redis_store(cfg: StoreConfig, network: Network) -> SnapshotStore:
    """The shared Redis store named by [store] (stock is loaded into it by `dom inventory load`).
    The store opens its own client from the URL, with short timeouts so an outage surfaces fast."""
    from ..inventory.redis_store import RedisStore  # lazy: only the redis backend needs it

    url = cfg.url.replace("://", "+cluster://", 1) if cfg.cluster else cfg.url
    return RedisStore(network, url, namespace=cfg.namespace, cache_staleness_s=cfg.cache_staleness_s,
                      degraded_staleness_s=cfg.degraded_staleness_s, hold_ttl_s=cfg.hold_ttl_s,
                      coalesce_reserves=cfg.coalesce_reserves, attempt_lease_s=cfg.attempt_lease_s)


def load_stock_file(config: EngineConfig, path: str | Path, *, redis_url: str | None = None,
                    cluster: bool = False, progress: Callable[[int, int], None] | None = None
                    ) -> tuple[int, int]:
    """`dom inventory load`: check every row of a stock file against the configured network, then
    load it into the shared Redis store as a new snapshot. (rows loaded, snapshot version)."""
    store_cfg = config.store
    if redis_url:
        store_cfg = replace(store_cfg, backend="redis", url=redis_url, cluster=cluster)
    if store_cfg.backend != "redis":
        raise ConfigError("store.backend", "dom inventory load writes to a shared Redis store: pass "
                          '--redis URL or set [store] backend = "redis" in the config')
    network = network_of(config)
    node_ids, skus, on_hand, safety, where = read_inventory(path)
    MemoryStore.from_columns(network, node_ids, skus, on_hand, safety, where=where)  # checks every row
    store = open_redis_store(store_cfg, network)
    version = StockAdmin(store).load_snapshot(node_ids, skus, on_hand, safety, progress=progress)
    return len(node_ids), version
