"""Return routing through the Engine and the CLI: a return goes where net cost is least, checked
against the catalogue and against what its original order shipped; [returns] config; errors name
the field."""

from __future__ import annotations

import json

import pytest

from dom_engine.app.config import load_config
from dom_engine.app.engine import Engine
from dom_engine.domain import (
    ConfigError,
    Destination,
    Line,
    NotFoundError,
    Order,
    OrderOptions,
    PlanStatus,
    PolicyProfile,
    PreconditionError,
    ValidationError,
    us_network_rate_card,
)
from dom_engine.domain.returns import Condition, Disposition, ReturnLine, ReturnRequest
from dom_engine.inventory.memory import MemoryStore
from dom_engine.testing.networks import abc_network
from tests.test_cli import _bad, _ok, dom

ROWS = [{"node_id": "A", "sku": "X", "on_hand": 5}, {"node_id": "C", "sku": "Y", "on_hand": 5}]
CHICAGO = Destination(41.88, -87.63)


def _engine() -> Engine:
    return Engine(abc_network(), us_network_rate_card(), MemoryStore.from_records(abc_network(), ROWS),
                  policies={"default": PolicyProfile()})


def _return(*lines: ReturnLine, order_id: str = "") -> ReturnRequest:
    return ReturnRequest("R-1", lines, CHICAGO, order_id=order_id)


def test_a_return_goes_to_the_cheapest_site_by_default_rules():
    engine = _engine()
    plan = engine.route_return(_return(ReturnLine("1", "X", 1), ReturnLine("2", "Y", 2, Condition.DAMAGED)))
    assert plan.status is PlanStatus.OPTIMAL
    received = {a.line_id: p.node_id for p in plan.packages for a in p.lines}
    assert received["2"] in ("A", "C")          # warehouses: the store B takes no damaged units
    assert plan.net_cost == pytest.approx(plan.shipping_cost + plan.handling_cost - plan.recovery_value)


def test_unknown_skus_and_lines_not_in_the_original_order_name_the_field():
    engine = _engine()
    with pytest.raises(NotFoundError, match="lines"):
        engine.route_return(_return(ReturnLine("1", "NOPE", 1)))
    order = Order("O-1", (Line("1", "X", 2),), CHICAGO, options=OrderOptions(allow_backorder=True))
    with pytest.raises(PreconditionError) as err:
        engine.route_return(_return(ReturnLine("1", "X", 1), order_id="O-1"))
    assert err.value.field == "order_id"
    plan = engine.route(order, reserve=True)
    with pytest.raises(PreconditionError, match="not committed"):
        engine.route_return(_return(ReturnLine("1", "X", 1), order_id="O-1"))
    engine.stock.commit(plan.reservation_id)
    assert engine.route_return(_return(ReturnLine("1", "X", 2), order_id="O-1")).status is PlanStatus.OPTIMAL
    with pytest.raises(ValidationError) as err:
        engine.route_return(_return(ReturnLine("1", "X", 3), order_id="O-1"))
    assert err.value.field == "lines[0].quantity"
    with pytest.raises(ValidationError) as err:
        engine.route_return(_return(ReturnLine("1", "X", 1), ReturnLine("2", "Y", 1), order_id="O-1"))
    assert err.value.field == "lines[1].sku"


def test_returns_config(tmp_path):
    path = tmp_path / "dom.toml"
    path.write_text('[[returns.sites]]\nnode_id = "IND1"\nconditions = ["new"]\ndispositions = ["restock"]\n'
                    'handling_per_unit = 2.0\nshort_below = 40\n[returns.recovery]\nnew.restock = 30.0\n'
                    'short_below = 3\nshort_bonus = 5.0\n')
    config = load_config(path, env={})
    assert [s.node_id for s in config.returns.sites] == ["IND1"] and config.returns.sites[0].short_below == 40
    assert config.returns.recovery.short_bonus == 5.0
    assert config.returns.sites[0].dispositions == frozenset({Disposition.RESTOCK})
    assert config.returns.recovery.default[(Condition.NEW, Disposition.RESTOCK)] == 30.0
    path.write_text('[[returns.sites]]\nnode_id = "IND1"\nconditions = ["broken"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert "conditions" in err.value.field
    path.write_text('[[returns.sites]]\nnode_id = "IND1"\nshort_below = -1\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert err.value.field == "returns.sites['IND1'].short_below"


def test_cli_route_return():
    out = json.loads(_ok(dom("route-return", "examples/return.json", "--json")))
    assert out["status"] == "OPTIMAL" and out["packages"]
    text = _ok(dom("route-return", "examples/return.json"))
    assert "Return RET-1001: OPTIMAL" in text and "Net cost" in text


def test_cli_route_return_bad_file(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"return_id": "R", "origin": {"latitude": 40, "longitude": -80},
                               "lines": [{"line_id": "1", "sku": "SKU-00001", "quantity": 1,
                                          "condition": "soggy"}]}))
    _bad(dom("route-return", str(bad)), "lines[0].condition")


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_restock_receipts_count_once_on_both_stores(backend, request):
    from dom_engine.domain.returns import ReturnReceipt
    from dom_engine.inventory.redis_store import RedisStore
    from tests.redis_servers import client_url, new_namespace

    if backend == "memory":
        store = MemoryStore.from_records(abc_network(), ROWS)
    else:
        store = RedisStore(abc_network(), client_url(request.getfixturevalue("redis_server")),
                           namespace=new_namespace(), cache_staleness_s=0.0)
        store.load_snapshot([r["node_id"] for r in ROWS], [r["sku"] for r in ROWS],
                            [r["on_hand"] for r in ROWS])
    engine = Engine(abc_network(), us_network_rate_card(), store, policies={"default": PolicyProfile()})
    received = [ReturnReceipt("1", "C", "X", 3, Disposition.RESTOCK),
                ReturnReceipt("2", "C", "Y", 1, Disposition.LIQUIDATE)]
    assert engine.commit_return("R-7", received) == (1, 3)
    assert engine.commit_return("R-7", received) == (0, 0)
    assert engine.commit_return("R-8", received[:1]) == (1, 3)      # another return: counted
    c = engine.network.index_of("C")
    assert engine.store.read(["X", "Y"]).atp[c].tolist() == [6, 5]
    with pytest.raises(ValidationError) as err:
        engine.commit_return("R-9", [ReturnReceipt("1", "C", "NOPE", 1, Disposition.RESTOCK)])
    assert err.value.field == "received[0].sku"
