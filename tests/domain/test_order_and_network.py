"""Domain objects validate at construction and name the field that is wrong."""

from __future__ import annotations

from datetime import datetime

import pytest

from dom_engine.domain import (
    ConfigError,
    Destination,
    Line,
    Network,
    Node,
    NodeKind,
    NotFoundError,
    Order,
    ValidationError,
)

DEST = Destination(40.7, -74.0)


def _order(*lines: Line, **kw) -> Order:
    return Order("o-1", lines, DEST, **kw)


@pytest.mark.parametrize(("line", "field"), [
    (Line("", "SKU", 1), "lines[0].line_id"),
    (Line("l1", "", 1), "lines[0].sku"),
    (Line("l1", "SKU", 0), "lines[0].quantity"),
    (Line("l1", "SKU", 2.5), "lines[0].quantity"),   # type: ignore[arg-type]
    (Line("l1", "SKU", 1, unit_weight_kg=-1.0), "lines[0].unit_weight_kg"),
    (Line("l1", "SKU", 1, unit_weight_kg=float("nan")), "lines[0].unit_weight_kg"),
])
def test_a_bad_line_is_named(line, field):
    with pytest.raises(ValidationError) as err:
        _order(line)
    assert err.value.field == field


def test_order_level_errors():
    with pytest.raises(ValidationError) as err:
        _order()
    assert err.value.field == "lines"
    with pytest.raises(ValidationError) as err:
        _order(Line("l1", "A", 1), Line("l1", "B", 1))
    assert err.value.field == "lines[1].line_id"
    with pytest.raises(ValidationError) as err:
        _order(Line("l1", "A", 1), created_at=datetime(2026, 1, 1))   # naive
    assert err.value.field == "created_at"
    assert _order(Line("l1", "A", 2), Line("l2", "B", 3)).total_units == 5


def test_network_checks_and_lookups():
    a = Node("A", NodeKind.WAREHOUSE, 40.0, -75.0)
    with pytest.raises(ConfigError) as err:
        Network((a, Node("A", NodeKind.STORE, 41.0, -87.0)))
    assert "duplicate node id" in err.value.message
    with pytest.raises(ConfigError) as err:
        Node("B", NodeKind.STORE, 95.0, 0.0)
    assert err.value.field.endswith(".latitude")
    with pytest.raises(ConfigError):
        Network(())
    net = Network((a, Node("B", NodeKind.STORE, 41.0, -87.0, daily_shipment_capacity=3)))
    assert net.index_of("B") == 1
    with pytest.raises(NotFoundError) as err:
        net.index_of("Z", "node_id")
    assert err.value.field == "node_id"
