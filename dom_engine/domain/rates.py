"""Carrier rate cards. A service prices a shipment by distance band; every band is linear in
packages, units, kilograms and distance, which keeps routing a linear model per (node, service).

The published US network cost model (../shared/data/us_network) is one band of one service:
per_package=8.759, per_unit=0.423, per_unit_distance=0.000541 with distance_unit="mi".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError, NotFoundError

KM_PER_MILE = 1.609344
DISTANCE_UNITS = {"km": 1.0, "mi": KM_PER_MILE}


@dataclass(frozen=True, slots=True)
class RateBand:
    """Rates for shipments whose distance is at most `max_distance` (in the service's unit)."""

    max_distance: float = math.inf
    per_package: float = 0.0
    per_package_distance: float = 0.0
    per_unit: float = 0.0
    per_unit_distance: float = 0.0
    per_kg: float = 0.0
    per_kg_distance: float = 0.0
    transit_days: int = 1


@dataclass(frozen=True, slots=True)
class CarrierService:
    """A carrier service level (ground, two-day, overnight...). `bands` are sorted by distance; a
    shipment longer than the last band cannot use this service. CO2e is in kg per unit (item) per
    distance unit and per kg of goods per distance unit."""

    name: str
    bands: tuple[RateBand, ...]
    distance_unit: str = "km"
    co2e_per_unit_distance: float = 0.0
    co2e_per_kg_distance: float = 0.0
    carrier: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(sorted(self.bands, key=lambda b: b.max_distance)))
        where = f"rate_card.services[{self.name!r}]"
        if not self.name:
            raise ConfigError("rate_card.services.name", "must not be empty")
        if self.distance_unit not in DISTANCE_UNITS:
            raise ConfigError(f"{where}.distance_unit", f"must be one of {sorted(DISTANCE_UNITS)}")
        if not self.bands:
            raise ConfigError(f"{where}.bands", "a service needs at least one rate band")
        for b in self.bands:
            values = (b.per_package, b.per_package_distance, b.per_unit, b.per_unit_distance,
                      b.per_kg, b.per_kg_distance)
            if any(not math.isfinite(v) or v < 0 for v in values):
                raise ConfigError(f"{where}.bands", "rates must be finite and >= 0")
            if b.transit_days < 0:
                raise ConfigError(f"{where}.bands.transit_days", "must be >= 0")
        if self.co2e_per_unit_distance < 0 or self.co2e_per_kg_distance < 0:
            raise ConfigError(f"{where}.co2e", "must be >= 0")

    @property
    def km_per_unit(self) -> float:
        return DISTANCE_UNITS[self.distance_unit]


@dataclass(frozen=True)
class RateCard:
    """All services the engine may choose from. `default_unit_weight_kg` prices lines that carry
    no weight."""

    services: tuple[CarrierService, ...]
    default_unit_weight_kg: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", tuple(self.services))
        if not self.services:
            raise ConfigError("rate_card.services", "at least one carrier service is required")
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ConfigError("rate_card.services.name", "service names must be unique")

    def service(self, name: str) -> CarrierService:
        for s in self.services:
            if s.name == name:
                return s
        raise NotFoundError("service", f"unknown carrier service {name!r}")


def us_network_rate_card() -> RateCard:
    """The cost model of Jasin & Sinha (2015) / Ma (2023) for the US reference network, exactly:
    8.759 per package, 0.423 + 0.000541 x great-circle miles per unit, as one ground service whose
    transit days grow with distance, plus faster services at higher rates for tight promises."""
    ground_bands = (
        RateBand(250, 8.759, 0, 0.423, 0.000541, 0, 0, 1),
        RateBand(1000, 8.759, 0, 0.423, 0.000541, 0, 0, 3),
        RateBand(1800, 8.759, 0, 0.423, 0.000541, 0, 0, 4),
        RateBand(math.inf, 8.759, 0, 0.423, 0.000541, 0, 0, 5),
    )
    return RateCard(
        services=(
            CarrierService("ground", ground_bands, "mi", co2e_per_kg_distance=0.000162),
            CarrierService(
                "two_day", (RateBand(math.inf, 14.50, 0, 0.60, 0.00090, 0, 0, 2),), "mi",
                co2e_per_kg_distance=0.00080,
            ),
            CarrierService(
                "overnight", (RateBand(math.inf, 27.00, 0, 0.95, 0.00150, 0, 0, 1),), "mi",
                co2e_per_kg_distance=0.00130,
            ),
        ),
        default_unit_weight_kg=1.0,
    )
