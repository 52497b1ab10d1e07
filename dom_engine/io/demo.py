"""The bundled demo: a realistic, fully deterministic US network, catalogue, stock and order stream.

- 10 real fulfillment centres (warehouses) and 90 stores in the 90 largest US cities = 100 nodes,
  from the reference tables in dom_engine/data (see ../shared/data/us_network/README.md);
- 5,000 SKUs "SKU-00001".."SKU-05000" with unit weights and Zipf-like popularity (SKU-00001 is
  the best seller);
- warehouses stock almost every SKU deeply; stores stock a popular subset thinly;
- the published US rate card (`us_network_rate_card`) and policies: default (least cost),
  fewest_shipments, fastest; the "marketplace" channel may only ship from warehouses/drop-shippers.

Everything derives from one seed, and arrays are drawn whole (no Python loops over node x SKU),
so `demo_engine()` builds in well under a second. Benchmarks and tests reuse `random_order` and
`order_stream` to draw orders whose destinations follow city populations.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..domain import (
    Destination,
    Line,
    Mode,
    Network,
    Node,
    NodeKind,
    Order,
    OrderOptions,
    Penalties,
    PolicyProfile,
    RateCard,
    us_network_rate_card,
)
from ..inventory.memory import MemoryStore

DEMO_SEED = 2026
N_SKUS = 5_000
N_STORES = 90
ZIPF_EXPONENT = 1.05


# ===================================================================== reference data
@dataclass(frozen=True)
class Cities:
    """US demand regions sorted by metro population, largest first (arrays aligned by index)."""

    names: tuple[str, ...]
    states: tuple[str, ...]
    latitudes: np.ndarray
    longitudes: np.ndarray
    populations: np.ndarray


def _data_rows(name: str) -> list[dict[str, str]]:
    with resources.files("dom_engine").joinpath("data", name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def load_cities() -> Cities:
    """The 99 reference cities, largest population first."""
    rows = sorted(_data_rows("cities.csv"), key=lambda r: -int(r["population"]))
    return Cities(
        tuple(r["city"] for r in rows), tuple(r["state"] for r in rows),
        np.array([float(r["lat"]) for r in rows]), np.array([float(r["lon"]) for r in rows]),
        np.array([int(r["population"]) for r in rows], dtype=np.int64),
    )


def load_sites() -> list[dict[str, str]]:
    """The 10 reference fulfillment-centre sites (code, state, lat, lon), as the file lists them."""
    return _data_rows("fulfillment_centers.csv")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-")


# ===================================================================== network
def demo_network(seed: int = DEMO_SEED, n_stores: int = N_STORES) -> Network:
    """10 fulfillment centres (node id = site code, e.g. "IND1") and `n_stores` stores in the
    largest cities (node id "ST-" + city, e.g. "ST-NEW-YORK")."""
    rng = np.random.default_rng([seed, 0])
    fcs = load_sites()
    wh_days = rng.integers(0, 2, size=len(fcs))
    wh_cutoff = rng.choice([14.0, 16.0, 18.0, 20.0], size=len(fcs))
    nodes = [
        Node(fc["code"], NodeKind.WAREHOUSE, float(fc["lat"]), float(fc["lon"]),
             handling_per_shipment=1.0, handling_per_unit=0.10, processing_days=int(days),
             cutoff_hour=float(cutoff), name=f"Fulfillment centre {fc['code']} ({fc['state']})")
        for fc, days, cutoff in zip(fcs, wh_days, wh_cutoff, strict=True)
    ]
    cities = load_cities()
    if not 0 <= n_stores <= len(cities.names):
        raise ValueError(f"n_stores must be within [0, {len(cities.names)}]")
    # Stores pick from shelves: dearer per unit, later processing for some, and a third of them
    # can only hand a few dozen parcels a day to the carrier.
    st_days = rng.choice([0, 1], p=[0.6, 0.4], size=n_stores)
    st_cutoff = rng.choice([12.0, 14.0, 16.0, 17.0], size=n_stores)
    st_per_unit = np.round(rng.uniform(0.45, 0.90, size=n_stores), 2)
    capped = rng.random(n_stores) < 0.35
    st_capacity = rng.integers(10, 61, size=n_stores)
    for k in range(n_stores):
        nodes.append(Node(
            f"ST-{_slug(cities.names[k])}", NodeKind.STORE,
            float(cities.latitudes[k]), float(cities.longitudes[k]),
            handling_per_shipment=2.50, handling_per_unit=float(st_per_unit[k]),
            processing_days=int(st_days[k]), cutoff_hour=float(st_cutoff[k]),
            daily_shipment_capacity=int(st_capacity[k]) if capped[k] else None,
            name=f"Store {cities.names[k]}, {cities.states[k]}",
        ))
    return Network(tuple(nodes), currency="USD")


# ===================================================================== catalogue & stock
@dataclass(frozen=True)
class Catalogue:
    """SKU ids, unit weights (kg) and order popularity (probabilities summing to 1), by index."""

    skus: tuple[str, ...]
    unit_weight_kg: np.ndarray
    popularity: np.ndarray


@lru_cache(maxsize=4)
def demo_catalogue(n_skus: int = N_SKUS, seed: int = DEMO_SEED) -> Catalogue:
    """SKU-00001.. with log-normal weights and Zipf popularity (rank 1 = SKU-00001)."""
    rng = np.random.default_rng([seed, 1])
    weights = np.round(np.clip(rng.lognormal(mean=-0.2, sigma=0.9, size=n_skus), 0.05, 40.0), 2)
    pop = 1.0 / np.arange(1, n_skus + 1) ** ZIPF_EXPONENT
    weights.flags.writeable = False
    popularity = pop / pop.sum()
    popularity.flags.writeable = False
    return Catalogue(tuple(f"SKU-{i:05d}" for i in range(1, n_skus + 1)), weights, popularity)


def demo_stock(
    network: Network, seed: int = DEMO_SEED, n_skus: int = N_SKUS
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """(skus, on_hand, safety) int64 matrices (nodes x SKUs) for any network: stores hold a thin,
    popularity-skewed subset; every other kind holds nearly everything, deeply."""
    cat = demo_catalogue(n_skus, seed)
    rng = np.random.default_rng([seed, 2])
    n = len(network)
    rel = cat.popularity / cat.popularity[0]                 # 1 for the best seller, ~1e-4 for the tail
    rank = np.arange(n_skus)
    is_store = network.kinds == NodeKind.STORE.value
    n_st, n_wh = int(is_store.sum()), int((~is_store).sum())
    on_hand = np.zeros((n, n_skus), dtype=np.int64)
    safety = np.zeros((n, n_skus), dtype=np.int64)

    wh_hold = rng.random((n_wh, n_skus)) < (0.80 + 0.18 * rel ** 0.25)
    wh_qty = rng.poisson(30.0 + 3000.0 * rel, size=(n_wh, n_skus)) * wh_hold
    on_hand[~is_store] = wh_qty
    safety[~is_store] = wh_qty // 50

    st_hold = rng.random((n_st, n_skus)) < 0.85 / (1.0 + rank / 150.0)
    st_qty = (1 + rng.poisson(2.0 + 10.0 * rel, size=(n_st, n_skus))) * st_hold
    on_hand[is_store] = st_qty
    safety[is_store] = (rng.random((n_st, n_skus)) < 0.3) * st_hold
    return cat.skus, on_hand, safety


def demo_inventory(network: Network | None = None, seed: int = DEMO_SEED, n_skus: int = N_SKUS,
                   **store_kwargs: Any) -> MemoryStore:
    """A MemoryStore holding `demo_stock` of `network` (the demo network by default)."""
    network = network if network is not None else demo_network(seed)
    skus, on_hand, safety = demo_stock(network, seed, n_skus)
    return MemoryStore.from_arrays(network, skus, on_hand, safety, **store_kwargs)


# ===================================================================== policies & engine
def demo_policies() -> dict[str, PolicyProfile]:
    """default (least cost), fewest_shipments and fastest. Unfilled units are priced as the US
    reference model does: shipped by a dummy site at twice the rates. Stores keep one unit on the
    shelf, and the "marketplace" channel never ships from stores."""
    penalties = Penalties(per_order=2 * 8.759, per_unit=2 * 0.423,
                          per_unit_per_max_distance=2 * 0.000541, distance_unit="mi")
    channels = {"marketplace": frozenset({NodeKind.WAREHOUSE.value, NodeKind.DROPSHIP.value})}
    return {
        mode_name: PolicyProfile(name=mode_name, mode=mode, penalties=penalties, channel_node_kinds=channels,
                                 min_stock_buffer={NodeKind.STORE.value: 1}, max_shipments=5)
        for mode_name, mode in (("default", Mode.COST), ("fewest_shipments", Mode.FEWEST_SHIPMENTS),
                                ("fastest", Mode.FASTEST))
    }


def demo_rate_card() -> RateCard:
    return us_network_rate_card()


# ===================================================================== orders
def random_destination(rng: np.random.Generator, jitter_deg: float = 0.25) -> Destination:
    """A point near a reference city, cities weighted by metro population."""
    cities = load_cities()
    k = int(rng.choice(len(cities.names), p=cities.populations / cities.populations.sum()))
    lat = float(np.clip(cities.latitudes[k] + rng.normal(0.0, jitter_deg), -90, 90))
    lon = float(np.clip(cities.longitudes[k] + rng.normal(0.0, jitter_deg), -180, 180))
    return Destination(round(lat, 5), round(lon, 5), region=cities.states[k])


def random_order(
    rng: np.random.Generator,
    n_lines: int,
    *,
    order_id: str = "",
    catalogue: Catalogue | None = None,
    max_quantity: int = 3,
    deliver_in_days: int | None = None,
    today: date | None = None,
    channel: str = "",
    options: OrderOptions | None = None,
    created_at: datetime | None = None,
    jitter_deg: float = 0.25,
) -> Order:
    """One order of `n_lines` distinct SKUs drawn by popularity; quantities 1..max_quantity (mostly
    1); `deliver_in_days` sets deliver_by relative to `today` (UTC today by default)."""
    cat = catalogue if catalogue is not None else demo_catalogue()
    if not 1 <= n_lines <= len(cat.skus):
        raise ValueError(f"n_lines must be within [1, {len(cat.skus)}]")
    picks = rng.choice(len(cat.skus), size=n_lines, replace=False, p=cat.popularity)
    qty = np.minimum(rng.geometric(0.6, size=n_lines), max_quantity)
    lines = tuple(
        Line(f"L{i + 1}", cat.skus[j], int(q), unit_weight_kg=float(cat.unit_weight_kg[j]))
        for i, (j, q) in enumerate(zip(picks.tolist(), qty.tolist(), strict=True))
    )
    created = created_at if created_at is not None else datetime.now(UTC)
    deliver_by = None
    if deliver_in_days is not None:
        deliver_by = (today or created.date()) + timedelta(days=deliver_in_days)
    if not order_id:
        order_id = f"ORD-{int(rng.integers(0, 10**12)):012d}"
    return Order(order_id, lines, random_destination(rng, jitter_deg), deliver_by=deliver_by,
                 channel=channel, options=options or OrderOptions(), created_at=created)


def order_stream(
    seed: int = DEMO_SEED,
    n_orders: int | None = None,
    *,
    max_lines: int = 6,
    mean_lines: float = 2.0,
    **order_kwargs: Any,
) -> Iterator[Order]:
    """A reproducible stream of orders "ORD-000001", ... (endless when n_orders is None). Line
    counts are geometric with the given mean, capped at max_lines; other keyword arguments go to
    `random_order`."""
    rng = np.random.default_rng([seed, 3])
    p = 1.0 / max(mean_lines, 1.0)
    k = 0
    while n_orders is None or k < n_orders:
        k += 1
        n_lines = int(min(rng.geometric(p), max_lines))
        yield random_order(rng, n_lines, order_id=f"ORD-{k:06d}", **order_kwargs)


def demo_batch_orders(n_orders: int = 50, seed: int = DEMO_SEED) -> list[dict[str, Any]]:
    """A reproducible wave of demo orders ("BATCH-0001", ...) in the native JSON form that
    `dom route` and `dom batch` read: lines and destinations from `order_stream`, promise dates
    relative to the day the file is read (deliver_in_days 2-7, so the file never goes stale),
    customer tiers gold / silver / standard, channels web / marketplace / store, and a fifth of
    the orders accepting backorders."""
    rng = np.random.default_rng([seed, 4])
    out = []
    for k, order in enumerate(order_stream(seed, n_orders), 1):
        data: dict[str, Any] = {
            "order_id": f"BATCH-{k:04d}",
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                       "unit_weight_kg": ln.unit_weight_kg} for ln in order.lines],
            "destination": {"latitude": order.destination.latitude, "longitude": order.destination.longitude,
                            "region": order.destination.region},
            "deliver_in_days": int(rng.integers(2, 8)),
            "channel": str(rng.choice(["web", "marketplace", "store"], p=[0.7, 0.2, 0.1])),
            "customer_tier": str(rng.choice(["gold", "silver", "standard"], p=[0.2, 0.3, 0.5])),
        }
        if rng.random() < 0.2:
            data["options"] = {"allow_backorder": True}
        out.append(data)
    return out


def write_jsonl(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """One JSON object per line (the order files `dom batch` reads)."""
    path = Path(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ===================================================================== export
# What export_demo writes into its folder.
DEMO_FILES = ("nodes.csv", "inventory.csv", "rates.toml", "dom.toml", "orders-batch.jsonl")


def export_demo(directory: str | Path, seed: int = DEMO_SEED) -> list[Path]:
    """Write nodes.csv, inventory.csv, rates.toml, dom.toml and orders-batch.jsonl (50 orders)
    describing the demo, so users can edit them and run `dom route --config DIR/dom.toml
    ORDER.json` or `dom batch --config DIR/dom.toml DIR/orders-batch.jsonl`. Returns the written
    paths. examples/orders-batch.jsonl is this orders-batch.jsonl (default seed)."""
    from .tables import policies_to_toml, rate_card_to_toml

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    network = demo_network(seed)
    skus, on_hand, safety = demo_stock(network, seed)

    nodes_path = out / "nodes.csv"
    with nodes_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["node_id", "kind", "latitude", "longitude", "handling_per_shipment", "handling_per_unit",
                    "processing_days", "cutoff_hour", "daily_shipment_capacity", "daily_unit_capacity",
                    "name"])
        for n in network.nodes:
            w.writerow([n.node_id, n.kind.value, n.latitude, n.longitude, n.handling_per_shipment,
                        n.handling_per_unit, n.processing_days, n.cutoff_hour,
                        _blank_if_none(n.daily_shipment_capacity), _blank_if_none(n.daily_unit_capacity),
                        n.name])

    inv_path = out / "inventory.csv"
    rows, cols = np.nonzero((on_hand > 0) | (safety > 0))
    ids, sku_arr = np.array(network.node_ids), np.array(skus)
    body = "\n".join(",".join(t) for t in zip(
        ids[rows].tolist(), sku_arr[cols].tolist(), on_hand[rows, cols].astype(str).tolist(),
        safety[rows, cols].astype(str).tolist(), strict=True))
    inv_path.write_text("node_id,sku,on_hand,safety_stock\n" + body + "\n", encoding="utf-8")

    rates_path = out / "rates.toml"
    rates_path.write_text(
        "# The published US network cost model (Jasin & Sinha 2015; Ma 2023) plus faster services.\n"
        "# Key reference: examples/rates.toml in the dom_engine repository.\n\n"
        + rate_card_to_toml(demo_rate_card()), encoding="utf-8")

    config_path = out / "dom.toml"
    config_path.write_text(
        f"# dom_engine configuration exported by `dom demo export` (seed {seed}).\n"
        "# Every key is documented in examples/dom.toml and dom_engine/app/config.py.\n\n"
        "[data]\n"
        'network = "nodes.csv"        # paths are relative to this file\n'
        'inventory = "inventory.csv"\n'
        'rates = "rates.toml"\n\n'
        "[routing]\n"
        'default_policy = "default"\n\n'
        + policies_to_toml(demo_policies())
        + '\n[server]\naddress = "127.0.0.1:50051"\nmax_workers = 8\n',
        encoding="utf-8")
    orders_path = write_jsonl(out / "orders-batch.jsonl", demo_batch_orders(50, seed))
    return [nodes_path, inv_path, rates_path, config_path, orders_path]


def _blank_if_none(value: int | None) -> int | str:
    return "" if value is None else value
