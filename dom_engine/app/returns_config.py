"""[returns]: the sites that receive returns and what a returned unit is worth (the keys are
documented with the rest in app/config.py). Without [returns.sites]: every warehouse takes every
condition and disposition (handling 1.50 a unit), every store takes new and opened units for
restock or liquidation and customers' drop-offs (handling 2.50)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain import ConfigError, Network, NodeKind
from ..domain.returns import Condition, Disposition, RecoveryValues, ReturnSite
from ..io.tables import Table

CONDITIONS = {c.value: c for c in Condition}
DISPOSITIONS = {d.value: d for d in Disposition}


@dataclass(frozen=True)
class ReturnsConfig:
    sites: tuple[ReturnSite, ...] | None = None     # None: default_sites(network)
    recovery: RecoveryValues = field(default_factory=RecoveryValues)

    def sites_of(self, network: Network) -> dict[str, ReturnSite]:
        """The sites by node id (ConfigError naming a site whose node is not in the network)."""
        sites = self.sites if self.sites is not None else default_sites(network)
        for site in sites:
            if not network.has(site.node_id):
                raise ConfigError(f"returns.sites[{site.node_id!r}]", "unknown node")
        return {s.node_id: s for s in sites}


def default_sites(network: Network) -> tuple[ReturnSite, ...]:
    out = []
    for node in network.nodes:
        if node.kind is NodeKind.WAREHOUSE:
            out.append(ReturnSite(node.node_id, handling_per_unit=1.5))
        elif node.kind is NodeKind.STORE:
            out.append(ReturnSite(node.node_id, frozenset({Condition.NEW, Condition.OPENED}),
                                  frozenset({Disposition.RESTOCK, Disposition.LIQUIDATE}), 2.5, dropoff=True))
    return tuple(out)


def parse_returns(t: Table) -> ReturnsConfig:
    """[returns] with [[returns.sites]] (node_id, conditions, dispositions, handling_per_unit,
    dropoff, short_below) and [returns.recovery] (CONDITION.DISPOSITION = money per unit, short_below,
    short_bonus)."""
    raw_sites = t.get("sites", list, None)
    sites = None
    if raw_sites is not None:
        if not all(isinstance(s, dict) for s in raw_sites):
            raise ConfigError(t.key("sites"), "must be a list of tables ([[returns.sites]])")
        sites = tuple(_site(Table(s, f"{t.key('sites')}[{k}]")) for k, s in enumerate(raw_sites))
    recovery = _recovery(t.table("recovery"))
    t.done()
    return ReturnsConfig(sites, recovery)


def _site(t: Table) -> ReturnSite:
    conditions = _names(t, "conditions", CONDITIONS)
    dispositions = _names(t, "dispositions", DISPOSITIONS)
    site = ReturnSite(t.get("node_id", str), frozenset(conditions), frozenset(dispositions),
                      t.get("handling_per_unit", float, 1.0), t.get("dropoff", bool, False),
                      t.get("short_below", int, None))
    t.done()
    return site


def _names(t: Table, key: str, known: dict) -> list:
    names = t.get(key, list, list(known))
    bad = [n for n in names if n not in known]
    if bad:
        raise ConfigError(t.key(key), f"unknown {bad[0]!r}; use {sorted(known)}")
    return [known[n] for n in names]


def _recovery(t: Table) -> RecoveryValues:
    d = RecoveryValues()
    values = dict(d.default)
    for cname, condition in CONDITIONS.items():
        sub = t.table(cname)
        for dname, disposition in DISPOSITIONS.items():
            value = sub.get(dname, float, None)
            if value is not None:
                if value < 0:
                    raise ConfigError(sub.key(dname), f"must be >= 0, got {value}")
                values[(condition, disposition)] = value
        sub.done()
    short_below = t.get("short_below", int, d.short_below)
    short_bonus = t.get("short_bonus", float, d.short_bonus)
    t.done()
    return RecoveryValues(values, {}, short_below, short_bonus)
