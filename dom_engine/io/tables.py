"""Networks, rate cards and policies from TOML tables (and nodes from CSV), strictly typed.

Every error is a ConfigError naming the file and key (or row and column), and unknown keys are
refused, so a typo fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..domain import (
    CarrierService,
    ConfigError,
    Mode,
    Network,
    Node,
    NodeKind,
    Penalties,
    PolicyProfile,
    RateBand,
    RateCard,
    Weights,
)
from .fields import FieldError, parse_bool, parse_float, parse_int
from .stock_files import open_text


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors become ConfigError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"invalid TOML: {exc}") from None


T = TypeVar("T")


# ===================================================================== typed table access
class Table:
    """A TOML table read with strict types: every key is checked and unknown keys are refused, so a
    typo fails at start-up naming the key instead of being silently ignored."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(where, f"must be a table, got {type(data).__name__}")
        self.data, self.where, self.used = data, where, set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.used.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise ConfigError(self.key(name), f"must be {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise ConfigError(self.key(name), f"must be {_kind_name(kinds)}, got {value!r}")
        return value

    def table(self, name: str) -> Table:
        self.used.add(name)
        return Table(self.data.get(name, {}), self.key(name))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "unknown key (check the spelling; see examples/dom.toml)")


# TOML type of each dataclass field type a config class may use.
FIELD_KINDS: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str,
                                "tuple[float, ...]": list}


def dataclass_from_table(cls: type[T], t: Table) -> T:
    """A frozen dataclass of int / float / bool / str / tuple[float, ...] fields and nested
    dataclasses, from a TOML table: keys left out keep the class's defaults, unknown keys and wrong
    types are ConfigErrors naming the key (the class's own checks name theirs)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = _default_of(f)
        if dataclasses.is_dataclass(default):
            if f.name in t.data:
                values[f.name] = dataclass_from_table(type(default), t.table(f.name))
            continue
        kind = FIELD_KINDS.get(str(f.type))
        if kind is None:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported field type {f.type}")
        value = t.get(f.name, kind, None)
        if value is not None:
            values[f.name] = tuple(value) if kind is list else value
    t.done()
    return cls(**values)


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


# ===================================================================== networks
NODE_FIELDS = ("node_id", "kind", "latitude", "longitude", "handling_per_shipment", "handling_per_unit",
               "processing_days", "cutoff_hour", "daily_shipment_capacity", "daily_unit_capacity", "enabled",
               "tags", "name")


def node_from_table(t: Table) -> Node:
    """One [[nodes]] table -> Node."""
    kind = t.get("kind", str, "warehouse")
    try:
        node_kind = NodeKind(kind)
    except ValueError:
        choices = [k.value for k in NodeKind]
        raise ConfigError(t.key("kind"), f"must be one of {choices}, got {kind!r}") from None
    for required in ("node_id", "latitude", "longitude"):
        if required not in t.data:
            raise ConfigError(t.key(required), "missing")
    tags = t.get("tags", list, [])
    fields = dict(
        node_id=t.get("node_id", str), kind=node_kind,
        latitude=t.get("latitude", float), longitude=t.get("longitude", float),
        handling_per_shipment=t.get("handling_per_shipment", float, 0.0),
        handling_per_unit=t.get("handling_per_unit", float, 0.0),
        processing_days=t.get("processing_days", int, 0), cutoff_hour=t.get("cutoff_hour", float, 24.0),
        daily_shipment_capacity=t.get("daily_shipment_capacity", int, None),
        daily_unit_capacity=t.get("daily_unit_capacity", int, None),
        enabled=t.get("enabled", bool, True), tags=frozenset(str(x) for x in tags),
        name=t.get("name", str, ""),
    )
    try:
        node = Node(**fields)
    except ConfigError as exc:
        raise ConfigError(f"{t.where} {exc.field}", exc.message) from None
    t.done()
    return node


def load_network(path: str | Path) -> Network:
    """Load nodes from TOML (``currency = "USD"`` and [[nodes]] tables) or CSV (one row per node,
    columns as NODE_FIELDS; only node_id, latitude, longitude are required; tags separated by ';')."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _network_from_csv(path)
    if path.suffix.lower() != ".toml":
        raise ConfigError(str(path), "a network file must be .toml or .csv")
    root = Table(read_toml(path), "")
    currency = root.get("currency", str, "USD")
    raw_nodes = root.get("nodes", list, [])
    root.done()
    nodes = [node_from_table(Table(raw, f"{path} nodes[{i}]")) for i, raw in enumerate(raw_nodes)]
    return _network(nodes, currency, path)


def _network_from_csv(path: Path) -> Network:
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        unknown = sorted(set(reader.fieldnames or ()) - set(NODE_FIELDS))
        if unknown:
            raise ConfigError(f"{path} header",
                              f"unknown column {unknown[0]!r}; expected {list(NODE_FIELDS)}")
        rows = list(reader)
    converters: dict[str, Callable[[str], Any]] = {
        "latitude": parse_float, "longitude": parse_float, "handling_per_shipment": parse_float,
        "handling_per_unit": parse_float, "processing_days": parse_int, "cutoff_hour": parse_float,
        "daily_shipment_capacity": parse_int, "daily_unit_capacity": parse_int,
        "enabled": parse_bool, "tags": lambda s: [x.strip() for x in s.split(";") if x.strip()],
    }
    nodes = []
    for k, row in enumerate(rows):
        where = f"{path} line {k + 2}"
        data: dict[str, Any] = {}
        for name, text in row.items():
            text = (text or "").strip()
            if text == "":
                continue
            try:
                data[name] = converters.get(name, str)(text)
            except FieldError as exc:
                raise ConfigError(f"{where}, column {name!r}",
                                  f"must be {exc.expected}, got {text!r}") from None
        nodes.append(node_from_table(Table(data, where)))
    return _network(nodes, "USD", path)


def _network(nodes: list[Node], currency: str, path: Path) -> Network:
    if not nodes:
        raise ConfigError(str(path), "defines no nodes")
    try:
        return Network(tuple(nodes), currency=currency)
    except ConfigError as exc:
        raise ConfigError(f"{path} {exc.field}", exc.message) from None


# ===================================================================== rate cards
def rate_card_from_table(t: Table) -> RateCard:
    """``default_unit_weight_kg`` and [[services]] with [[services.bands]] -> RateCard."""
    weight = t.get("default_unit_weight_kg", float, 0.0)
    services = []
    for i, raw in enumerate(t.get("services", list, [])):
        s = Table(raw, t.key(f"services[{i}]"))
        bands = []
        for k, raw_band in enumerate(s.get("bands", list, [])):
            b = Table(raw_band, s.key(f"bands[{k}]"))
            fields = {name: b.get(name, float, 0.0) for name in (
                "per_package", "per_package_distance", "per_unit", "per_unit_distance", "per_kg",
                "per_kg_distance")}
            band = RateBand(max_distance=b.get("max_distance", float, math.inf),
                            transit_days=b.get("transit_days", int, 1), **fields)
            b.done()
            bands.append(band)
        if "name" not in s.data:
            raise ConfigError(s.key("name"), "missing")
        services.append(CarrierService(
            name=s.get("name", str), bands=tuple(bands), distance_unit=s.get("distance_unit", str, "km"),
            co2e_per_unit_distance=s.get("co2e_per_unit_distance", float, 0.0),
            co2e_per_kg_distance=s.get("co2e_per_kg_distance", float, 0.0), carrier=s.get("carrier", str, ""),
        ))
        s.done()
    t.done()
    return RateCard(tuple(services), default_unit_weight_kg=weight)


def load_rate_card(path: str | Path) -> RateCard:
    """Load a rate card from TOML (see examples/rates.toml)."""
    path = Path(path)
    try:
        return rate_card_from_table(Table(read_toml(path), str(path)))
    except ConfigError as exc:
        if exc.field.startswith(str(path)):
            raise
        raise ConfigError(f"{path} {exc.field}", exc.message) from None


# ===================================================================== policies
def policy_from_table(name: str, t: Table) -> PolicyProfile:
    """One [policies.NAME] table -> PolicyProfile."""
    mode = t.get("mode", str, "cost")
    try:
        mode_enum = Mode(mode)
    except ValueError:
        raise ConfigError(t.key("mode"), f"must be one of {[m.value for m in Mode]}, got {mode!r}") from None
    w = t.table("weights")
    weights = Weights(**{k: w.get(k, float, d) for k, d in (
        ("cost_weight", 1.0), ("split_penalty", 0.0), ("delivery_day_weight", 0.0), ("co2e_price", 0.0))})
    w.done()
    p = t.table("penalties")
    penalties = Penalties(
        per_order=p.get("per_order", float, 50.0), per_unit=p.get("per_unit", float, 25.0),
        per_unit_per_max_distance=p.get("per_unit_per_max_distance", float, 0.0),
        distance_unit=p.get("distance_unit", str, "km"),
    )
    if penalties.distance_unit not in ("km", "mi"):
        raise ConfigError(p.key("distance_unit"), f"must be 'km' or 'mi', got {penalties.distance_unit!r}")
    p.done()
    kinds = {k.value for k in NodeKind}
    c = t.table("channel_node_kinds")
    channels: dict[str, frozenset[str]] = {}
    for channel in list(c.data):
        allowed = c.get(channel, list)
        bad = [k for k in allowed if k not in kinds]
        if bad:
            raise ConfigError(c.key(channel), f"unknown node kind {bad[0]!r}; use {sorted(kinds)}")
        channels[channel] = frozenset(allowed)
    b = t.table("min_stock_buffer")
    buffers: dict[str, int] = {}
    for kind in list(b.data):
        if kind not in kinds:
            raise ConfigError(b.key(kind), f"unknown node kind; use {sorted(kinds)}")
        buffers[kind] = b.get(kind, int)
    profile = PolicyProfile(name=name, mode=mode_enum, weights=weights, penalties=penalties,
                            channel_node_kinds=channels, min_stock_buffer=buffers,
                            max_shipments=t.get("max_shipments", int, 5),
                            opportunity_weight=t.get("opportunity_weight", float, 1.0))
    t.done()
    return profile


def policies_from_table(t: Table) -> dict[str, PolicyProfile]:
    """A [policies] table of named profiles -> {name: PolicyProfile}."""
    out = {name: policy_from_table(name, t.table(name)) for name in list(t.data)}
    t.done()
    return out


def load_policies(path: str | Path) -> dict[str, PolicyProfile]:
    """Load policy profiles from a TOML file with [policies.NAME] tables (or NAME tables at top level)."""
    path = Path(path)
    data = read_toml(path)
    if set(data) == {"policies"}:
        data = data["policies"]
    return policies_from_table(Table(data, f"{path} policies"))


# ===================================================================== writers
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
