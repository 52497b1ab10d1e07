"""The typed values of a scenario file: small change records (stock moves and additions, rate band
scales) and the readers that check each key, raising ConfigError named by the table and key."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from ..domain import ConfigError
from ..io.tables import Table

NODE_KINDS = ("warehouse", "store", "dropship")
WEIGHTS = ("cost_weight", "split_penalty", "delivery_day_weight", "co2e_price")   # domain.policy.Weights


@dataclass(frozen=True)
class StockMove:
    """Move `share` of every SKU's on-hand units from one node to another."""

    source: str
    target: str
    share: float


@dataclass(frozen=True)
class BandScale:
    """Scale the money rates of one distance band (0: the shortest) of one carrier service."""

    service: str
    band: int
    factor: float


@dataclass(frozen=True)
class StockAdd:
    """Add `units` of `sku` (every SKU when None) at a node (negative: remove, floored at 0)."""

    node: str
    sku: str | None
    units: int


def stock_adds(t: Table) -> tuple[StockAdd, ...]:
    adds = []
    for k, raw in enumerate(t.get("stock_add", list, [])):
        a = Table(raw, f"{t.key('stock_add')}[{k}]")
        node, sku, units = a.get("node", str, ""), a.get("sku", str, None), a.get("units", int, None)
        a.done()
        if not node:
            raise ConfigError(a.key("node"), "is required (the node whose stock changes)")
        if units is None:
            raise ConfigError(a.key("units"), "is required (units to add; negative removes)")
        adds.append(StockAdd(node, sku, units))
    return tuple(adds)


def weights(t: Table) -> dict[str, float]:
    out = {}
    for key in list(t.data):
        if key not in WEIGHTS:
            raise ConfigError(t.key(key), f"must be one of {list(WEIGHTS)}")
        out[key] = positive(t, key, 1.0, zero=key != "cost_weight")
    t.done()
    return out


def band_scales(t: Table) -> tuple[BandScale, ...]:
    out = []
    for k, raw in enumerate(t.get("rates_scale_bands", list, [])):
        b = Table(raw, f"{t.key('rates_scale_bands')}[{k}]")
        service, band = b.get("service", str, ""), b.get("band", int, None)
        factor = positive(b, "factor", 1.0)
        b.done()
        if not service:
            raise ConfigError(b.key("service"), "is required (a carrier service of the rate card)")
        if band is None or band < 0:
            raise ConfigError(b.key("band"), f"must be a band index >= 0 (0: the shortest), got {band!r}")
        out.append(BandScale(service, band, factor))
    return tuple(out)


def kind_rates(t: Table) -> dict[str, float]:
    out = {}
    for kind in list(t.data):
        if kind not in NODE_KINDS:
            raise ConfigError(t.key(kind), f"must be one of {list(NODE_KINDS)}")
        rate = t.get(kind, float)
        if not (math.isfinite(rate) and 0 <= rate <= 1):
            raise ConfigError(t.key(kind), f"must be within [0, 1], got {rate!r}")
        out[kind] = rate
    t.done()
    return out


def strings(t: Table, key: str) -> list[str]:
    values = t.get(key, list, [])
    if not all(isinstance(v, str) and v for v in values):
        raise ConfigError(t.key(key), f"must be a list of non-empty strings, got {values!r}")
    return values


def positive(t: Table, key: str, default: float, zero: bool = False, most: float = math.inf) -> float:
    value = t.get(key, float, default)
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero) or value > most:
        bound = "" if math.isinf(most) else f" and <= {most:g}"
        raise ConfigError(t.key(key), f"must be {'>= 0' if zero else '> 0'}{bound}, got {value!r}")
    return value


def date_of(t: Table, key: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(t.key(key), f'must be a date "YYYY-MM-DD", got {text!r}') from None


def factor_map(t: Table) -> dict[str, float]:
    factors = {key: positive(t, key, 1.0) for key in list(t.data)}
    t.done()
    return factors


def int_map(t: Table, minimum: int, keys: tuple[str, ...] | None = None) -> dict[str, int]:
    out = {}
    for key in list(t.data):
        if keys is not None and key not in keys:
            raise ConfigError(t.key(key), f"must be one of {list(keys)}")
        value = t.get(key, int)
        if value < minimum:
            raise ConfigError(t.key(key), f"must be >= {minimum}, got {value}")
        out[key] = value
    t.done()
    return out


def channel_kinds(t: Table) -> dict[str, frozenset[str]]:
    out = {}
    for channel in list(t.data):
        kinds = t.get(channel, list)
        bad = [k for k in kinds if k not in NODE_KINDS]
        if bad or not kinds:
            raise ConfigError(t.key(channel),
                              f"must be a non-empty list of {list(NODE_KINDS)}, got {kinds!r}")
        out[channel] = frozenset(kinds)
    t.done()
    return out
