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
  max_id_length 128, max_promise_days 365, time_budget_ms 50.0, max_rejects 3
[routing]
  default_policy   profile used when an order names none                  default "default"
[policies.NAME]    one sourcing profile (domain.PolicyProfile); none given = the demo profiles
  mode             "cost" | "fewest_shipments" | "fastest" | "inventory_aware"  default "cost"
                   inventory_aware: cost + opportunity prices of the units (myopic cost while
                   no fresh prices exist)
  max_shipments    default cap on shipments per order                     default 5
  opportunity_weight  times the opportunity prices, inventory_aware only  default 1.0
  [policies.NAME.weights]   cost_weight 1, split_penalty 0, delivery_day_weight 0, co2e_price 0
  [policies.NAME.penalties] per_order 50, per_unit 25, per_unit_per_max_distance 0, distance_unit "km"
  [policies.NAME.channel_node_kinds]  CHANNEL = ["warehouse", ...]  kinds allowed to ship a channel
  [policies.NAME.min_stock_buffer]    KIND = N  units per SKU kept untouched at nodes of a kind
[batch]        batch (wave) allocation: RouteBatch and `dom batch` (domain.batch.BatchSettings)
  max_orders   orders one batch may hold (more: INVALID_ARGUMENT)         default 100000
  time_budget_ms  solver time per batch unless the request gives one      default 10000.0
  priority_rule   "strict": a unit is never left unfilled on an order while an order with fewer
               priority points (by a point or more) gets one it could have had, whatever the
               cost; "weighted": each point adds penalty_per_point to the order's penalty per
               unfilled unit, so cost may win                             default "strict"
  tier_points  table TIER = points for an order's customer_tier (unlisted: 0), e.g.
               [batch.tier_points] gold = 2.0                             default {}
  points_per_day_waiting  points per day since the order's created_at    default 0.0
  due_soon_days   an order whose deliver_by is at most this many days away ... default 0
  due_soon_points ... earns these points                                  default 0.0
  penalty_per_point  "weighted" only: money per unfilled unit per point  default 1.0
  executor     where column generation prices orders: "threads" (this process; the compiled
               pricing releases the GIL) or "ray" (actors; pip install "dom-engine[ray]") default "threads"
  pricing_workers  threads or actors pricing (0: one per core)            default 0
  ray_address  "host:port" of a Ray head for executor "ray" ("": start Ray locally) default ""
  Node capacities apply to a batch: daily_shipment_capacity (net of shipments held today) and
  daily_unit_capacity (nodes file). Units held earlier today are not counted by the stores, so
  daily_unit_capacity caps the units of one batch.
[server]
  address      HOST:PORT the gRPC server listens on                      default "127.0.0.1:50051"
  max_workers  gRPC worker threads                                        default 8
  workers      server processes sharing the port, or "auto": one per core    default "auto"
               with the redis store, 1 with the in-memory store (stock is per process)
  max_message_mb  largest request or response message, MiB (gRPC's own default is 4, too small
               for a RouteBatch of 10,000 orders); 1 to 2047              default 64
  max_in_flight  calls in flight (all methods, health included) beyond which a new call is
               answered RESOURCE_EXHAUSTED at once instead of queueing (load shedding; per
               server process)                                            default: no limit
  insecure     serve without TLS on an address that is not loopback (plain text only when said
               so explicitly; loopback addresses may always serve plain text) default false
[server.tls]   TLS for the gRPC server, PEM files (paths relative to this file)
  cert_file, key_file  the server's certificate chain and private key
  client_ca_file  optional: mutual TLS, every client presents a certificate this CA signed
  log_format   "text" or "json": JSON lines with time, level, logger, message and the call's
               fields (request_id, order_id, method, status, code, elapsed_ms)  default "text"
  log_calls    one INFO line per RouteOrder / RejectShipment / RouteBatch call  default false
[server.metrics]  Prometheus metrics (dom_engine/service/metrics.py lists them)
  address      HOST:PORT of the /metrics HTTP endpoint (off without it); with --workers N,
               the parent serves the workers' metrics merged there
[server.auth]  bearer tokens: callers send metadata "authorization: Bearer <token>"
  tokens_file  TOML with [[tokens]] entries {name, sha256 (of the token), methods (names or
               "*"), reserve (may set reserve = true)}; re-read when it changes or on SIGHUP
  tokens       the same entries inline ([[server.auth.tokens]]); `dom token new NAME` makes one
[store]        where stock and reservations live; each backend owns its keys (its config class
               in dom_engine/inventory/: memory_config.py, redis_config.py). Keys of another
               backend are type-checked and ignored, so one environment can serve both.
  backend      "memory" (in this process, loaded from [data] inventory) or "redis" (shared by
               every server process; load stock with `dom inventory load`) default "memory"
  hold_ttl_s   (both) seconds an uncommitted reservation is held        default 900
  url          redis://HOST:PORT/DB (rediss:// for TLS); the keys below are "redis" only
  cluster      true for a Redis Cluster (url names any node)              default false
  namespace    key prefix in Redis                                        default "dom"
  cache_staleness_s  how old cached stock may be for quotes               default 1.0
  degraded_staleness_s  how old cached stock may be while Redis is down   default 60.0
  coalesce_reserves  threads of one process reserving at the same time share one pipelined
               round trip (group commit; standalone Redis only, a lone reserve still goes out
               at once); false = one round trip per reservation          default true
  username     ACL user (or in the URL: redis://USER:PASSWORD@HOST:PORT/DB)
  password_env environment variable holding the ACL password (kept out of the file)
  tls_ca_file  with a rediss:// URL: the CA that signed Redis's certificate (default: the
               system's); tls_cert_file / tls_key_file: a client certificate when Redis asks
               for one (tls-auth-clients). Paths are relative to this file
  attempt_lease_s  Cluster only: how long one reserve attempt may run before it gives back
               what it holds; an order's records all older than twice this count as abandoned
               by a crashed server (keep it well above a call's duration and the servers'
               clock skew)                                                default 5.0
[events]       the decision log (every RouteOrder, RejectShipment and RouteBatch answer and every
               reservation change made through the service): a capped Redis Stream beside the
               stock with the redis store, in process otherwise; read it with the DecisionLog
               RPCs (GetPlan, ListEvents) or `dom events tail|export`
  enabled      write the log                                              default true
  max_events   entries kept (older ones are trimmed)                      default 100000
  retention_days  how long GetPlan finds an order's latest decision       default 7
[shadow]
  policy       also route every live RouteOrder with this policy (never reserving) and log its
               plan as a "shadow" event beside the live one               default: off
[tracing]      OpenTelemetry spans (pip install "dom-engine[tracing]"): one per RPC, continuing the
               caller's W3C traceparent, with children store.read, solve, store.reserve, batch
  enabled      export spans                                               default false
  endpoint     OTLP gRPC collector URL (http:// = plain text)   default "http://127.0.0.1:4317"
  service_name service.name of the spans                                  default "dom-engine"
  sample_ratio share of new traces kept (a caller's sampled flag wins)    default 1.0
[opportunity]  prices of stock for inventory-aware policies (mode = "inventory_aware"): the duals
               of the fluid LP of the orders expected (optimize/opportunity, README)
  forecast     JSON lines {"expected": N, "order": {...}} (io/forecast_file.py); without it, the
               orders this process routed lately are the forecast              default: none
  horizon_days the forecast's horizon (until stock is replenished)        default 7.0
  refresh_every_s  a server re-computes and publishes prices this often (0: only on
               `dom prices refresh`)                                      default 0
  max_age_s    older prices are stale: inventory-aware routes on cost     default 86400
  recent_orders  orders remembered for a forecast from the stream         default 20000
  time_budget_s  one computation's budget                                 default 120
  policy       policy the forecast's orders are routed with ("": default) default ""
  zoning       orders alike in one zone merge: "exact", "region" or "grid:D" default "grid:0.5"
[returns]      where returns go (app/returns_config.py): [[returns.sites]] node_id, conditions
               ("new" "opened" "damaged"), dispositions ("restock" "refurbish" "liquidate"),
               handling_per_unit, dropoff, short_below; [returns.recovery] CONDITION.DISPOSITION =
               money per unit, short_below, short_bonus. Default: warehouses take all, stores new/opened
[solver]       tuning of the optimizer, one table per component; every key, its meaning, unit and
               default (today's measured choices) is documented in dom_engine/optimize/params.py:
  [solver.search]   fast_search_max_sets, branch_and_bound_share, min_cpsat_ms,     (single orders)
                    plan_seconds,
                    cpsat_linearization_level, cpsat_cut_level, cpsat_presolve,
                    cpsat_probing_level, runner_up_ms
  [solver.pricing]  compiled_max_sets, pricing_max_sets, hard_order_budget_ms   (batch orders)
  [solver.columns]  start_columns, candidates_kept, cg_share, tolerance, row_passes, smoothing,
                    smoothing_step, smoothing_max_share, finish_min_seconds, finish_min_share
  [solver.dual]     mu_shares, stage_iterations, lbfgs_memory, stage_tolerance
  [solver.rounding] whole_share, mip_max_orders, mip_relative_gap, max_enrich_rounds,
                    round_seconds_per_order, seed
  [solver.exact]    max_vars (0: never), build_seconds_per_var, finish_share
  [solver.budget]   plan_seconds_per_order, after_build_seconds_per_order,
                    unreached_seconds_per_order

Environment overrides (applied over the file; values are parsed like the TOML key they replace):
  DOM_CONFIG              config file used by `dom` when --config is not given
  DOM_NETWORK             [data] network          DOM_INVENTORY      [data] inventory
  DOM_RATES               [data] rates            DOM_POLICIES       [data] policies
  DOM_DEMO_SEED           [demo] seed             DOM_DEFAULT_POLICY [routing] default_policy
  DOM_TIME_BUDGET_MS      [limits] time_budget_ms DOM_MAX_LINES      [limits] max_lines
  DOM_MAX_QUANTITY        [limits] max_quantity   DOM_MAX_UNITS      [limits] max_units
  DOM_SERVER_ADDRESS      [server] address        DOM_SERVER_MAX_WORKERS [server] max_workers
  DOM_STORE_BACKEND       [store] backend         DOM_REDIS_URL      [store] url
  DOM_SERVER_WORKERS      [server] workers        DOM_SERVER_MAX_MESSAGE_MB [server] max_message_mb
  DOM_BATCH_MAX_ORDERS    [batch] max_orders      DOM_BATCH_TIME_BUDGET_MS  [batch] time_budget_ms
  DOM_HOLD_TTL_S          [store] hold_ttl_s
  DOM_LOG_FORMAT          [server] log_format     DOM_LOG_CALLS      [server] log_calls
  DOM_STORE_COALESCE_RESERVES [store] coalesce_reserves (true/false, 1/0, yes/no, on/off)
Paths given in the environment are relative to the current directory.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain import ConfigError, Limits, PolicyProfile
from ..domain.batch import BatchSettings
from ..inventory.backends import BACKENDS, StoreBackendConfig
from ..inventory.memory_config import MemoryStoreConfig
from ..io.demo import DEMO_SEED, demo_policies
from ..io.fields import FieldError, parse_bool, parse_float, parse_int
from ..io.tables import (
    FIELD_KINDS,
    Table,
    dataclass_from_table,  # the writers live with the readers; re-exported here for callers
    load_policies,
    policies_from_table,
    policies_to_toml,
    rate_card_to_toml,
    read_toml,
)
from ..optimize.params import SolverParams
from .batch_config import parse_batch
from .events_config import EventsConfig, parse_events
from .opportunity_config import OpportunityConfig, parse_opportunity
from .returns_config import ReturnsConfig, parse_returns
from .server_config import MAX_MESSAGE_MB, ServerConfig, TlsFiles, check_address, parse_server
from .tracing import TracingConfig, parse_tracing

__all__ = ["MAX_MESSAGE_MB", "EngineConfig", "ServerConfig", "TlsFiles", "check_address", "load_config",
           "parse_config"]

if TYPE_CHECKING:
    pass

__all__ = ["EngineConfig", "ServerConfig", "load_config",
           "parse_config", "policies_to_toml", "rate_card_to_toml"]

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
    "DOM_SERVER_WORKERS": ("server", "workers", str),
    "DOM_SERVER_MAX_MESSAGE_MB": ("server", "max_message_mb", int),
    "DOM_SERVER_INSECURE": ("server", "insecure", bool),
    "DOM_SERVER_MAX_IN_FLIGHT": ("server", "max_in_flight", int),
    "DOM_LOG_FORMAT": ("server", "log_format", str),
    "DOM_LOG_CALLS": ("server", "log_calls", bool),
    "DOM_BATCH_MAX_ORDERS": ("batch", "max_orders", int),
    "DOM_BATCH_TIME_BUDGET_MS": ("batch", "time_budget_ms", float),
    "DOM_STORE_BACKEND": ("store", "backend", str),
    "DOM_REDIS_URL": ("store", "url", str),
    "DOM_HOLD_TTL_S": ("store", "hold_ttl_s", float),
    "DOM_STORE_COALESCE_RESERVES": ("store", "coalesce_reserves", bool),
}


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
    store: StoreBackendConfig = field(default_factory=MemoryStoreConfig)
    batch: BatchSettings = field(default_factory=BatchSettings)
    solver: SolverParams = field(default_factory=SolverParams)
    events: EventsConfig = field(default_factory=EventsConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    opportunity: OpportunityConfig = field(default_factory=OpportunityConfig)
    returns: ReturnsConfig = field(default_factory=ReturnsConfig)

    @property
    def uses_demo(self) -> bool:
        return self.network is None


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> EngineConfig:
    """Parse a TOML config (None: defaults = the demo) and apply DOM_* environment overrides."""
    env = os.environ if env is None else env
    source = Path(path) if path is not None else None
    data: dict[str, Any] = read_toml(source) if source is not None else {}
    base = source.parent if source is not None else Path.cwd()
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for section in ("data", "demo", "limits", "routing", "server", "store", "batch", "events", "shadow",
                    "tracing", "opportunity", "returns"):
        if section in data and not isinstance(data[section], dict):
            raise ConfigError(section, "must be a table, e.g. [" + section + "]")
    from_env: dict[str, str] = {}
    for var, (section, key, kind) in ENV_OVERRIDES.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        data.setdefault(section, {})[key] = _from_env(var, raw, kind)
        from_env[f"{section}.{key}"] = var
    try:
        return parse_config(data, base, source)
    except ConfigError as exc:
        # A value the environment set is the variable's fault: name it (and the key it sets).
        named = from_env.get(exc.field) if exc.field is not None else None
        if named is None:
            raise
        raise ConfigError(f"{named} ({exc.field})", exc.message) from None


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

    server = parse_server(root.table("server"), lambda t, key: _path(t, key, base))
    store = _store_config(root.table("store"), base)
    batch = parse_batch(root.table("batch"))
    solver = dataclass_from_table(SolverParams, root.table("solver"))
    events = parse_events(root.table("events"), root.table("shadow"), policies)
    tracing = parse_tracing(root.table("tracing"))
    opportunity = parse_opportunity(root.table("opportunity"), lambda t, key: _path(t, key, base))
    returns = parse_returns(root.table("returns"))
    root.done()
    if opportunity.policy and opportunity.policy not in policies:
        raise ConfigError("opportunity.policy",
                          f"unknown policy {opportunity.policy!r}; defined: {sorted(policies)}")
    return EngineConfig(network, inventory, rates, seed, Limits(**values), policies, default_policy,
                        server, source, store, batch, solver, events, tracing, opportunity, returns)


def _store_config(t: Table, base: Path) -> StoreBackendConfig:
    """[store] -> the named backend's own config class (inventory/backends.py). Keys another
    backend defines are accepted and ignored (one environment may set DOM_REDIS_URL for servers
    that run either backend); any other key is a typo, named."""
    name = t.get("backend", str, MemoryStoreConfig.backend)
    cls = BACKENDS.get(name)
    if cls is None:
        raise ConfigError(t.key("backend"), f"must be one of {list(BACKENDS)}, got {name!r}")
    own = {f.name for f in dataclasses.fields(cls)}
    others = {f.name: f.type for c in BACKENDS.values() for f in dataclasses.fields(c) if f.name not in own}
    for key in set(t.data) & set(others):   # still the right type, so a later switch of backend works
        t.get(key, FIELD_KINDS[str(others[key])])
    data = {k: v for k, v in t.data.items() if k != "backend" and k not in others}
    for key, value in data.items():      # files (TLS) are relative to the config file
        if key.endswith("_file") and isinstance(value, str) and value and not Path(value).is_absolute():
            data[key] = str(base / value)
    return dataclass_from_table(cls, Table(data, t.where))



# ===================================================================== helpers
def _path(t: Table, key: str, base: Path) -> Path | None:
    value = t.get(key, (str, Path), None)
    if value is None or value == DEMO:
        return None
    if isinstance(value, str) and not value.strip():
        raise ConfigError(t.key(key), 'must be a path or "demo"')
    p = Path(value)
    return p if p.is_absolute() else base / p


_ENV_PARSERS: dict[type, Callable[[str], Any]] = {bool: parse_bool, int: parse_int, float: parse_float,
                                                  str: str}


def _from_env(var: str, raw: str, kind: type) -> Any:
    if kind is Path:
        return raw if raw == DEMO else str(Path(raw).resolve())
    try:
        return _ENV_PARSERS[kind](raw)
    except FieldError as exc:
        raise ConfigError(var, f"must be {exc.expected}, got {raw!r}") from None
