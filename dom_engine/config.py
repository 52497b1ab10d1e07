"""Engine configuration: the one place that documents every setting.

A configuration is a TOML file (examples/dom.toml is the annotated reference). Every section and
key is optional; an empty file (or no file at all) runs the bundled demo. Unknown keys are errors,
so a typo fails at start-up naming the key. Relative paths are relative to the config file.

[data]
  network      nodes file (.toml with [[nodes]], or .csv) or "demo"       default "demo"
  inventory    stock file (.csv, .json, .parquet) or "demo"               default "demo" if the
               network is the demo, else required ("demo" = synthetic stock for any network)
  rates        rate-card TOML or "demo" (= us_network_rate_card())        default "demo"
  policies     optional TOML of [policies.NAME] tables (instead of inline [policies])
[demo]
  seed         seed of the demo network / stock                           default 2026
[limits]       request limits, each bounds work one request can cause (domain.Limits)
  max_lines 200, max_quantity 1000000, max_units 10000000, max_excluded_nodes 10000,
  max_id_length 128, max_promise_days 365, time_budget_ms 50.0
[routing]
  default_policy   profile used when an order names none                  default "default"
[policies.NAME]    one sourcing profile (domain.PolicyProfile); none given = the demo profiles
  mode             "cost" | "fewest_shipments" | "fastest"                default "cost"
  max_shipments    default cap on shipments per order                     default 5
  [policies.NAME.weights]   cost_weight 1, split_penalty 0, delivery_day_weight 0, co2e_price 0
  [policies.NAME.penalties] per_order 50, per_unit 25, per_unit_per_max_distance 0, distance_unit "km"
  [policies.NAME.channel_node_kinds]  CHANNEL = ["warehouse", ...]  kinds allowed to ship a channel
  [policies.NAME.min_stock_buffer]    KIND = N  units per SKU kept untouched at nodes of a kind
[server]
  address      HOST:PORT the gRPC server listens on                      default "127.0.0.1:50051"
  max_workers  gRPC worker threads                                        default 8
  workers      server processes sharing the port (needs the redis store)  default 1
[store]        where stock and reservations live
  backend      "memory" (in this process, loaded from [data] inventory) or "redis" (shared by
               every server process; load stock with `dom inventory load`) default "memory"
  url          redis://HOST:PORT/DB (rediss:// for TLS), backend "redis" only
  cluster      true for a Redis Cluster (url names any node)              default false
  namespace    key prefix in Redis                                        default "dom"
  cache_staleness_s  how old cached stock may be for quotes               default 1.0
  degraded_staleness_s  how old cached stock may be while Redis is down   default 60.0
  hold_ttl_s   seconds an uncommitted reservation is held                 default 900
  coalesce_reserves  threads of one process reserving at the same time share one pipelined
               round trip (group commit; standalone Redis only, a lone reserve still goes out
               at once); false = one round trip per reservation          default true

Environment overrides (applied over the file; values are parsed like the TOML key they replace):
  DOM_CONFIG              config file used by `dom` when --config is not given
  DOM_NETWORK             [data] network          DOM_INVENTORY      [data] inventory
  DOM_RATES               [data] rates            DOM_POLICIES       [data] policies
  DOM_DEMO_SEED           [demo] seed             DOM_DEFAULT_POLICY [routing] default_policy
  DOM_TIME_BUDGET_MS      [limits] time_budget_ms DOM_MAX_LINES      [limits] max_lines
  DOM_MAX_QUANTITY        [limits] max_quantity   DOM_MAX_UNITS      [limits] max_units
  DOM_SERVER_ADDRESS      [server] address        DOM_SERVER_MAX_WORKERS [server] max_workers
  DOM_STORE_BACKEND       [store] backend         DOM_REDIS_URL      [store] url
  DOM_SERVER_WORKERS      [server] workers
  DOM_HOLD_TTL_S          [store] hold_ttl_s
  DOM_STORE_COALESCE_RESERVES [store] coalesce_reserves (true/false, 1/0, yes/no, on/off)
Paths given in the environment are relative to the current directory.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .demo import DEMO_SEED, demo_inventory, demo_network, demo_policies, demo_rate_card
from .domain import ConfigError, Limits, Network, PolicyProfile, RateCard
from .inventory.base import SnapshotStore
from .inventory.loaders import load_inventory
from .tables import Table, load_network, load_policies, load_rate_card, policies_from_table, read_toml

if TYPE_CHECKING:
    from .engine import Engine

DEMO = "demo"

# env var -> (section, key, type). Order matters only for documentation.
ENV_OVERRIDES: dict[str, tuple[str, str, type]] = {
    "DOM_NETWORK": ("data", "network", Path),
    "DOM_INVENTORY": ("data", "inventory", Path),
    "DOM_RATES": ("data", "rates", Path),
    "DOM_POLICIES": ("data", "policies", Path),
    "DOM_DEMO_SEED": ("demo", "seed", int),
    "DOM_DEFAULT_POLICY": ("routing", "default_policy", str),
    "DOM_TIME_BUDGET_MS": ("limits", "time_budget_ms", float),
    "DOM_MAX_LINES": ("limits", "max_lines", int),
    "DOM_MAX_QUANTITY": ("limits", "max_quantity", int),
    "DOM_MAX_UNITS": ("limits", "max_units", int),
    "DOM_SERVER_ADDRESS": ("server", "address", str),
    "DOM_SERVER_MAX_WORKERS": ("server", "max_workers", int),
    "DOM_SERVER_WORKERS": ("server", "workers", int),
    "DOM_STORE_BACKEND": ("store", "backend", str),
    "DOM_REDIS_URL": ("store", "url", str),
    "DOM_HOLD_TTL_S": ("store", "hold_ttl_s", float),
    "DOM_STORE_COALESCE_RESERVES": ("store", "coalesce_reserves", bool),
}
STORE_BACKENDS = ("memory", "redis")


@dataclass(frozen=True)
class ServerConfig:
    """[server]: where and how the gRPC server listens."""

    address: str = "127.0.0.1:50051"
    max_workers: int = 8
    workers: int = 1


@dataclass(frozen=True)
class StoreConfig:
    """[store]: where stock and reservations live (see the module docstring)."""

    backend: str = "memory"
    url: str = ""
    cluster: bool = False
    namespace: str = "dom"
    cache_staleness_s: float = 1.0
    hold_ttl_s: float = 900.0
    degraded_staleness_s: float = 60.0
    coalesce_reserves: bool = True


@dataclass(frozen=True)
class EngineConfig:
    """A parsed configuration. Path fields are None for the bundled demo data."""

    network: Path | None = None
    inventory: Path | None = None
    rates: Path | None = None
    demo_seed: int = DEMO_SEED
    limits: Limits = field(default_factory=Limits)
    policies: Mapping[str, PolicyProfile] = field(default_factory=demo_policies)
    default_policy: str = "default"
    server: ServerConfig = field(default_factory=ServerConfig)
    source: Path | None = None
    store: StoreConfig = field(default_factory=StoreConfig)

    @property
    def uses_demo(self) -> bool:
        return self.network is None


class Components(NamedTuple):
    """Everything an Engine is built from, loaded and validated."""

    network: Network
    store: SnapshotStore
    rate_card: RateCard
    policies: Mapping[str, PolicyProfile]


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> EngineConfig:
    """Parse a TOML config (None: defaults = the demo) and apply DOM_* environment overrides."""
    env = os.environ if env is None else env
    source = Path(path) if path is not None else None
    data: dict[str, Any] = read_toml(source) if source is not None else {}
    base = source.parent if source is not None else Path.cwd()
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section in ("data", "demo", "limits", "routing", "server", "store"):
        if section in data and not isinstance(data[section], dict):
            raise ConfigError(section, "must be a table, e.g. [" + section + "]")
    for var, (section, key, kind) in ENV_OVERRIDES.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        data.setdefault(section, {})[key] = _from_env(var, raw, kind)
    return parse_config(data, base, source)


def parse_config(data: Mapping[str, Any], base: Path, source: Path | None = None) -> EngineConfig:
    """Build an EngineConfig from parsed TOML data; relative paths resolve against `base`."""
    root = Table(data, "")
    d = root.table("data")
    network = _path(d, "network", base)
    inventory = _path(d, "inventory", base)
    rates = _path(d, "rates", base)
    policies_file = _path(d, "policies", base)
    d.done()
    if network is not None and inventory is None and d.data.get("inventory") != DEMO:
        raise ConfigError("data.inventory",
                          'required when data.network is a file (use "demo" for synthetic stock)')

    demo = root.table("demo")
    seed = demo.get("seed", int, DEMO_SEED)
    demo.done()

    lim = root.table("limits")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Limits):
        kind = float if f.name == "time_budget_ms" else int
        value = lim.get(f.name, kind, None)
        if value is not None:
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(lim.key(f.name), f"must be > 0, got {value!r}")
            values[f.name] = value
    lim.done()

    if "policies" in data and policies_file is not None:
        raise ConfigError("data.policies", "give policies inline ([policies.NAME]) or as a file, not both")
    if "policies" in data:
        policies = policies_from_table(root.table("policies"))
        if not policies:
            raise ConfigError("policies", "define at least one [policies.NAME] table")
    elif policies_file is not None:
        policies = load_policies(policies_file)
    else:
        policies = demo_policies()

    r = root.table("routing")
    default_policy = r.get("default_policy", str, "default")
    r.done()
    if default_policy not in policies:
        raise ConfigError("routing.default_policy",
                          f"unknown policy {default_policy!r}; defined: {sorted(policies)}")

    s = root.table("server")
    server = ServerConfig(s.get("address", str, ServerConfig.address),
                          s.get("max_workers", int, ServerConfig.max_workers),
                          s.get("workers", int, ServerConfig.workers))
    s.done()
    check_address(server.address, "server.address")
    if server.max_workers < 1:
        raise ConfigError("server.max_workers", f"must be >= 1, got {server.max_workers}")
    store = _store_config(root.table("store"))
    root.done()
    return EngineConfig(network, inventory, rates, seed, Limits(**values), policies, default_policy,
                        server, source, store)


def _store_config(t: Table) -> StoreConfig:
    d = StoreConfig()
    store = StoreConfig(t.get("backend", str, d.backend), t.get("url", str, d.url),
                        t.get("cluster", bool, d.cluster), t.get("namespace", str, d.namespace),
                        t.get("cache_staleness_s", (int, float), d.cache_staleness_s),
                        t.get("hold_ttl_s", (int, float), d.hold_ttl_s),
                        t.get("degraded_staleness_s", (int, float), d.degraded_staleness_s),
                        t.get("coalesce_reserves", bool, d.coalesce_reserves))
    t.done()
    if store.backend not in STORE_BACKENDS:
        raise ConfigError(t.key("backend"), f"must be one of {list(STORE_BACKENDS)}, got {store.backend!r}")
    if store.backend == "redis" and not store.url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(t.key("url"), f"must be a redis:// or rediss:// URL, got {store.url!r}")
    for key in ("cache_staleness_s", "hold_ttl_s", "degraded_staleness_s"):
        value = getattr(store, key)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(t.key(key), f"must be > 0, got {value!r}")
    if not store.namespace:
        raise ConfigError(t.key("namespace"), "must not be empty")
    if store.degraded_staleness_s < store.cache_staleness_s:
        raise ConfigError(t.key("degraded_staleness_s"), "must be >= cache_staleness_s")
    return store


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
    from .engine import Engine  # lazy: the engine imports the optimiser

    config = config if config is not None else EngineConfig()
    c = load_components(config)
    return Engine(network=c.network, rate_card=c.rate_card, store=c.store, policies=dict(c.policies),
                  default_policy=config.default_policy, limits=config.limits)


def network_of(config: EngineConfig) -> Network:
    """The network `config` names (the demo network by default)."""
    return load_network(config.network) if config.network else demo_network(config.demo_seed)


def open_redis_store(cfg: StoreConfig, network: Network) -> SnapshotStore:
    """The shared Redis store named by [store] (stock is loaded into it by `dom inventory load`).
    The store opens its own client from the URL, with short timeouts so an outage surfaces fast."""
    from .inventory.redis_store import RedisStore  # lazy: only the redis backend needs it

    url = cfg.url.replace("://", "+cluster://", 1) if cfg.cluster else cfg.url
    return RedisStore(network, url, namespace=cfg.namespace, cache_staleness_s=cfg.cache_staleness_s,
                      degraded_staleness_s=cfg.degraded_staleness_s, hold_ttl_s=cfg.hold_ttl_s,
                      coalesce_reserves=cfg.coalesce_reserves)


# ===================================================================== helpers
def _path(t: Table, key: str, base: Path) -> Path | None:
    value = t.get(key, (str, Path), None)
    if value is None or value == DEMO:
        return None
    if isinstance(value, str) and not value.strip():
        raise ConfigError(t.key(key), 'must be a path or "demo"')
    p = Path(value)
    return p if p.is_absolute() else base / p


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _from_env(var: str, raw: str, kind: type) -> Any:
    if kind is Path:
        return raw if raw == DEMO else str(Path(raw).resolve())
    if kind is bool:  # bool("false") is True: spell the accepted words out
        word = raw.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(var, f"must be true or false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigError(var, f"must be {what}, got {raw!r}") from None


def check_address(address: str, key: str) -> None:
    """Raise ConfigError naming `key` unless `address` is HOST:PORT."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(key, f"must be HOST:PORT (e.g. 127.0.0.1:50051), got {address!r}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else repr(value)
    if isinstance(value, (list, tuple, frozenset, set)):
        return "[" + ", ".join(_toml_value(v) for v in sorted(value)) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def rate_card_to_toml(card: RateCard) -> str:
    """Serialise a RateCard in the format `load_rate_card` reads."""
    out = [f"default_unit_weight_kg = {_toml_value(float(card.default_unit_weight_kg))}\n"]
    for s in card.services:
        out.append(f"\n[[services]]\nname = {_toml_value(s.name)}\n")
        out.append(f"distance_unit = {_toml_value(s.distance_unit)}\n")
        if s.carrier:
            out.append(f"carrier = {_toml_value(s.carrier)}\n")
        for key in ("co2e_per_unit_distance", "co2e_per_kg_distance"):
            if getattr(s, key):
                out.append(f"{key} = {_toml_value(float(getattr(s, key)))}\n")
        for b in s.bands:
            out.append("\n[[services.bands]]\n")
            for f in dataclasses.fields(b):
                value = getattr(b, f.name)
                if f.name in ("max_distance", "transit_days") or value:
                    out.append(f"{f.name} = {_toml_value(value)}\n")
    return "".join(out)


def policies_to_toml(policies: Mapping[str, PolicyProfile]) -> str:
    """Serialise policy profiles as [policies.NAME] tables that `parse_config` reads."""
    out = []
    for name, p in policies.items():
        out.append(f"[policies.{name}]\nmode = {_toml_value(p.mode.value)}\n")
        out.append(f"max_shipments = {p.max_shipments}\n")
        for section, obj in (("weights", p.weights), ("penalties", p.penalties)):
            out.append(f"[policies.{name}.{section}]\n")
            out.extend(f"{f.name} = {_toml_value(getattr(obj, f.name))}\n" for f in dataclasses.fields(obj))
        if p.channel_node_kinds:
            out.append(f"[policies.{name}.channel_node_kinds]\n")
            out.extend(f"{ch} = {_toml_value(kinds)}\n" for ch, kinds in p.channel_node_kinds.items())
        if p.min_stock_buffer:
            out.append(f"[policies.{name}.min_stock_buffer]\n")
            out.extend(f"{kind} = {n}\n" for kind, n in p.min_stock_buffer.items())
        out.append("\n")
    return "".join(out)
