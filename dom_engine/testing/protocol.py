"""The online multi-item fulfillment protocol of Jasin & Sinha (2015, OR 63(6)) and Ma (2023, MSOM,
"Order-optimal correlated rounding"), as engine inputs, following the published simulation code:

- Network: demand regions are US cities (weight = metro population), sites are real fulfillment
  centres. Warm-up: the 10 largest cities x 5 sites (OAK4, IND1, AVP3, CAE1, DFW7); big: 99 x 10.
- Costs: 8.759 per package, 0.423 + 0.000541 x miles per unit; a unit no site serves costs as if
  shipped by a dummy site at twice the rates (per package once, per unit at the region's largest
  distance): `us_network_rate_card()` and PROTOCOL_PENALTIES, exactly.
  (Distances are the engine's: haversine on R = 6371.0088 km, 1.609344 km a mile; the papers' code
  uses 6371 km and 1.61, about 0.04 % shorter.)
- Order types: type 0 is the empty order; then `per_size` random item sets of each size 1..max_size
  (one unit of each item). Type probabilities: size weights and within-size weights uniform(0, 1),
  normalised; an arrival is (type, region) with probability type share x region population share.
- Stock: each site carries each item with probability p_carry; an item's expected demand at a site
  is that of the regions whose nearest carrying site it is; stock = round(T d + z sqrt(T d (1 - d)))
  with z = 0.5 (T: arrivals in the horizon).
Warm-up: 20 items, sizes 1-5, 5 types a size, T = 10,000, p_carry = 0.75; big: 100 items, sizes
1-10, 10 a size, T = 100,000, p_carry = 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..domain import Destination, Line, Network, Node, NodeKind, Order, OrderOptions, Penalties, PolicyProfile
from ..domain.opportunity import Forecast
from ..domain.rates import RateCard, us_network_rate_card
from ..domain.stock import StockView
from ..io.demo import load_cities, load_sites
from ..network.geo import haversine_km

PROTOCOL_PENALTIES = Penalties(per_order=2 * 8.759, per_unit=2 * 0.423,
                               per_unit_per_max_distance=2 * 0.000541, distance_unit="mi")
WARMUP_SITES = ("OAK4", "IND1", "AVP3", "CAE1", "DFW7")
PROTOCOL_NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SAFETY_Z = 0.5


@dataclass(frozen=True)
class ProtocolSize:
    """One of the papers' two settings (see the module docstring)."""

    name: str
    n_regions: int
    sites: tuple[str, ...] | None      # None: all ten
    items: int
    max_size: int
    per_size: int
    horizon: int
    p_carry: float


WARMUP = ProtocolSize("warm-up", 10, WARMUP_SITES, 20, 5, 5, 10_000, 0.75)
BIG = ProtocolSize("big", 99, None, 100, 10, 10, 100_000, 0.5)


@dataclass(frozen=True)
class ProtocolInstance:
    """One random instance: order types (item indices; type 0 is empty), arrival probabilities
    `rates[q, j]` of type q from region j, the starting stock (sites x items) and each item's
    nearest carrying site per region (-1: none), on the engine's network, rate card and policy."""

    size: ProtocolSize
    network: Network
    rate_card: RateCard
    policy: PolicyProfile
    regions: tuple[Destination, ...]
    skus: tuple[str, ...]
    stock: np.ndarray
    types: tuple[np.ndarray, ...]
    rates: np.ndarray
    nearest: np.ndarray

    @property
    def horizon(self) -> int:
        return self.size.horizon

    def order(self, q: int, j: int, order_id: str) -> Order:
        """An order of type q from region j: one unit of each of its items (a unit no site can ship
        goes unfilled, at the dummy site's price)."""
        lines = tuple(Line(f"L{a}", self.skus[i], 1) for a, i in enumerate(self.types[q].tolist()))
        return Order(order_id, lines, self.regions[j], options=OrderOptions(allow_backorder=True),
                     created_at=PROTOCOL_NOW)

    def stock_view(self, left: np.ndarray | None = None, version: int = 1) -> StockView:
        return StockView(version, self.skus, (self.stock if left is None else left).astype(np.int64))

    def forecast(self, arrivals_left: float) -> Forecast:
        """The non-empty (type, region) pairs as prototypes, expected `arrivals_left` x rate times."""
        pairs = [(q, j) for q in range(1, len(self.types)) for j in range(len(self.regions))
                 if self.rates[q, j] > 0]
        return Forecast(tuple(self.order(q, j, f"type{q}-region{j}") for q, j in pairs),
                        np.array([arrivals_left * self.rates[q, j] for q, j in pairs]), 1.0)

    def arrivals(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One sequence of `horizon` arrivals: (types, regions)."""
        flat = rng.choice(self.rates.size, size=self.horizon, p=(self.rates / self.rates.sum()).ravel())
        return np.divmod(flat, len(self.regions))


def protocol_instance(size: ProtocolSize, seed: int) -> ProtocolInstance:
    """Instance `seed` of `size` (the same seed gives the same instance)."""
    rng = np.random.default_rng([seed, 14])
    cities = load_cities()
    sites = [s for s in load_sites() if size.sites is None or s["code"] in size.sites]
    if size.sites is not None:
        sites.sort(key=lambda s: size.sites.index(s["code"]))  # type: ignore[union-attr]
    network = Network(tuple(Node(s["code"], NodeKind.WAREHOUSE, float(s["lat"]), float(s["lon"]))
                            for s in sites))
    J, K = size.n_regions, len(sites)
    lat, lon = cities.latitudes[:J], cities.longitudes[:J]
    regions = tuple(Destination(float(lat[j]), float(lon[j]), region=cities.names[j]) for j in range(J))
    types = [np.zeros(0, dtype=np.int64)]
    for n in range(1, size.max_size + 1):
        types += [rng.permutation(size.items)[:n] for _ in range(size.per_size)]
    share = np.zeros(len(types))
    size_zero, size_w = rng.random(), rng.random(size.max_size)
    total = size_zero + size_w.sum()
    share[0] = size_zero / total
    for n in range(size.max_size):
        within = rng.random(size.per_size)
        share[1 + n * size.per_size: 1 + (n + 1) * size.per_size] = size_w[n] / total * within / within.sum()
    population = cities.populations[:J].astype(np.float64)
    rates = share[:, None] * (population / population.sum())[None, :]
    miles = haversine_km(lat[None, :], lon[None, :], network.latitudes[:, None], network.longitudes[:, None])
    contains = np.zeros((len(types), size.items))
    for q, t in enumerate(types):
        contains[q, t] = 1.0
    stock = np.zeros((K, size.items), dtype=np.int64)
    nearest = np.full((size.items, J), -1, dtype=np.int64)
    for i in range(size.items):
        carries = rng.random(K) < size.p_carry
        if carries.any():
            far = np.where(carries[:, None], miles, np.inf)
            nearest[i] = far.argmin(axis=0)
        per_region = (rates * contains[:, i][:, None]).sum(axis=0)
        demand = np.zeros(K)
        has = nearest[i] >= 0
        np.add.at(demand, nearest[i][has], per_region[has])
        T = size.horizon
        stock[:, i] = np.round(T * demand + SAFETY_Z * np.sqrt(T * demand * (1 - demand)))
    policy = PolicyProfile(name="protocol", penalties=PROTOCOL_PENALTIES, max_shipments=K)
    return ProtocolInstance(size, network, us_network_rate_card(), policy, regions,
                            tuple(f"ITEM-{i:03d}" for i in range(size.items)), stock, tuple(types), rates,
                            nearest)
