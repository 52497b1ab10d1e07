"""The bootstrap: the one place a configuration becomes components (network, store, rate card,
policies) and an Engine. Front ends (cli, service workers) call `build_engine` and nothing below it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from ..domain import ConfigError, Network, PolicyProfile, RateCard
from ..inventory.base import SnapshotStore
from ..inventory.memory import MemoryStore
from ..inventory.redis_config import RedisStoreConfig
from ..io.demo import demo_inventory, demo_network, demo_rate_card
from ..io.stock_files import load_inventory, read_inventory
from ..io.tables import load_network, load_rate_card
from .config import EngineConfig
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

    def local_stock(**store_kwargs: Any) -> SnapshotStore:
        """The stock [data] names (a file, or the demo's) as an in-process store."""
        if config.inventory is not None:
            return load_inventory(config.inventory, network, **store_kwargs)
        return demo_inventory(network, config.demo_seed, **store_kwargs)

    store = config.store.open(network, local_stock)
    rate_card = load_rate_card(config.rates) if config.rates else demo_rate_card()
    return Components(network, store, rate_card, config.policies)


def build_engine(config: EngineConfig | None = None) -> Engine:
    """Load everything `config` names (default: the demo) and wire an Engine."""
    config = config if config is not None else EngineConfig()
    c = load_components(config)
    return Engine(network=c.network, rate_card=c.rate_card, store=c.store, policies=dict(c.policies),
                  default_policy=config.default_policy, limits=config.limits, batch=config.batch,
                  solver=config.solver, events=config.events.open(config.store),
                  shadow_policy=config.events.shadow_policy, log_decisions=config.events.enabled,
                  opportunity_config=config.opportunity, returns_config=config.returns)


def network_of(config: EngineConfig) -> Network:
    """The network `config` names (the demo network by default)."""
    return load_network(config.network) if config.network else demo_network(config.demo_seed)


def load_stock_file(config: EngineConfig, path: str | Path, *, redis_url: str | None = None,
                    cluster: bool = False, progress: Callable[[int, int], None] | None = None
                    ) -> tuple[int, int]:
    """`dom inventory load`: check every row of a stock file against the configured network, then
    load it into the shared Redis store as a new snapshot. (rows loaded, snapshot version)."""
    store_cfg = config.store
    if redis_url:
        if isinstance(store_cfg, RedisStoreConfig):
            store_cfg = replace(store_cfg, url=redis_url, cluster=cluster)
        else:
            store_cfg = RedisStoreConfig(url=redis_url, cluster=cluster)
    if not store_cfg.shared:
        raise ConfigError("store.backend", "dom inventory load writes to a shared Redis store: pass "
                          '--redis URL or set [store] backend = "redis" in the config')
    network = network_of(config)
    node_ids, skus, on_hand, safety, where = read_inventory(path)
    MemoryStore.from_columns(network, node_ids, skus, on_hand, safety, where=where)  # checks every row
    store = store_cfg.open(network)
    version = StockAdmin(store).load_snapshot(node_ids, skus, on_hand, safety, progress=progress)
    if config.opportunity.forecast is not None:   # new stock: new prices for every server
        engine = build_engine(replace(config, store=store_cfg))
        if engine.prices_wanted():
            engine.refresh_prices()
    return len(node_ids), version
