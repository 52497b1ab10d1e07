"""[events] and [shadow]: the decision log's size and retention, and the shadow policy (the keys
are documented with the rest in app/config.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..domain import ConfigError
from ..domain.events import EventLog
from ..inventory.backends import StoreBackendConfig
from ..inventory.event_log import MemoryEventLog
from ..io.tables import Table

MAX_EVENTS_LIMIT = 100_000_000


@dataclass(frozen=True)
class EventsConfig:
    """[events]: the decision log (a capped Redis Stream with the Redis store, in process
    otherwise); [shadow] policy: route every live order with it too, never reserving, and log it."""

    enabled: bool = True
    max_events: int = 100_000
    retention_days: float = 7.0
    shadow_policy: str | None = None

    def open(self, store: StoreBackendConfig) -> EventLog:
        """The log beside `store`: its Redis (same URL and namespace) or this process."""
        client = getattr(store, "client", None)
        if store.shared and client is not None:
            from ..inventory.redis_events import RedisEventLog  # lazy: redis-py only for this backend

            return RedisEventLog(client(), getattr(store, "namespace", "dom"), max_events=self.max_events,
                                 retention_s=self.retention_days * 86400.0)
        return MemoryEventLog(self.max_events)


def parse_events(events: Table, shadow: Table, policies: Mapping[str, object]) -> EventsConfig:
    d = EventsConfig()
    config = EventsConfig(enabled=events.get("enabled", bool, d.enabled),
                          max_events=events.get("max_events", int, d.max_events),
                          retention_days=events.get("retention_days", float, d.retention_days),
                          shadow_policy=shadow.get("policy", str, None))
    events.done()
    shadow.done()
    if not 1 <= config.max_events <= MAX_EVENTS_LIMIT:
        raise ConfigError("events.max_events",
                          f"must be within [1, {MAX_EVENTS_LIMIT:,}], got {config.max_events}")
    if not (math.isfinite(config.retention_days) and 0 < config.retention_days <= 3660):
        raise ConfigError("events.retention_days", f"must be within (0, 3660], got {config.retention_days!r}")
    if config.shadow_policy is not None and config.shadow_policy not in policies:
        raise ConfigError("shadow.policy",
                          f"unknown policy {config.shadow_policy!r}; defined: {sorted(policies)}")
    return config
