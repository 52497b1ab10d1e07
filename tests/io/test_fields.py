"""The one field parser (io/fields.py) and the readers that use it: the same spelling means the same
value in a network CSV, an order CSV, an order JSON and a DOM_* environment variable, and the
same bad value gets the same "must be ..., got ..." message."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dom_engine.app.config import load_config
from dom_engine.domain import ConfigError, ValidationError
from dom_engine.io.fields import (
    FALSE_WORDS,
    TRUE_WORDS,
    FieldError,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_float,
    parse_int,
)
from dom_engine.io.order_files import read_orders
from dom_engine.io.order_json import order_from_dict
from dom_engine.io.tables import load_network

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("word", [*TRUE_WORDS, "TRUE", " Yes ", "On", "Y"])
def test_true_words(word):
    assert parse_bool(word) is True


@pytest.mark.parametrize("word", [*FALSE_WORDS, "FALSE", " No ", "Off", "N"])
def test_false_words(word):
    assert parse_bool(word) is False


@pytest.mark.parametrize("value", ["maybe", "", "2", 2, 1.0, None])
def test_not_a_boolean(value):
    with pytest.raises(FieldError) as err:
        parse_bool(value)
    assert err.value.expected == "true or false"


def test_typed_sources_take_only_real_booleans():
    assert parse_bool(True, words=False) is True
    with pytest.raises(FieldError):
        parse_bool("yes", words=False)


@pytest.mark.parametrize(("raw", "value"), [("42", 42), (" -7 ", -7), ("+3", 3), (5, 5), (6.0, 6)])
def test_integers(raw, value):
    assert parse_int(raw) == value


@pytest.mark.parametrize("raw", ["4.5", 4.5, "x", "", True, None, "1e3"])
def test_not_integers(raw):
    with pytest.raises(FieldError) as err:
        parse_int(raw)
    assert err.value.expected == "an integer"


def test_integer_minimum_is_named():
    assert parse_int("3", minimum=3) == 3
    with pytest.raises(FieldError) as err:
        parse_int("2", minimum=3)
    assert err.value.expected == "an integer >= 3"


def test_numbers():
    assert parse_float("2.5") == 2.5 and parse_float(3) == 3.0
    for bad in ("x", True, None):
        with pytest.raises(FieldError):
            parse_float(bad)
    with pytest.raises(FieldError) as err:
        parse_float("inf", finite=True)
    assert err.value.expected == "a finite number"


def test_dates_and_timestamps():
    assert parse_date("2026-03-04") == date(2026, 3, 4)
    assert parse_date(datetime(2026, 3, 4, 9, tzinfo=UTC)) == date(2026, 3, 4)
    assert parse_datetime("2026-03-04T09:00:00") == datetime(2026, 3, 4, 9, tzinfo=UTC)  # naive: UTC
    east = parse_datetime("2026-03-04T09:00:00+02:00")
    assert east.utcoffset() == timedelta(hours=2) and east.tzinfo == timezone(timedelta(hours=2))
    with pytest.raises(FieldError):
        parse_date("04/03/2026")
    with pytest.raises(FieldError):
        parse_datetime("yesterday")


# ---- the readers agree -------------------------------------------------------------------------
def _network_csv(tmp_path, enabled: str):
    path = tmp_path / "nodes.csv"
    path.write_text("node_id,kind,latitude,longitude,enabled\n"
                    f"DC1,warehouse,40.7,-74.0,{enabled}\nDC2,warehouse,34.0,-118.2,true\n")
    return load_network(path)


def _orders_csv(tmp_path, flag: str):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,line_id,sku,quantity,latitude,longitude,deliver_in_days,ship_complete\n"
                    f"o1,l1,SKU-1,2,40.7,-74.0,5,{flag}\n")
    return read_orders(path, now=NOW).orders[0]


@pytest.mark.parametrize(("word", "value"), [("on", True), ("off", False), ("y", True), ("N", False)])
def test_every_text_source_spells_booleans_alike(tmp_path, monkeypatch, word, value):
    network = _network_csv(tmp_path, word)
    assert bool(network.enabled[0]) is value
    assert _orders_csv(tmp_path, word).options.ship_complete is value
    config = load_config(None, env={"DOM_STORE_COALESCE_RESERVES": word, "DOM_STORE_BACKEND": "redis",
                                    "DOM_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert config.store.coalesce_reserves is value


def test_every_source_words_a_bad_boolean_alike(tmp_path):
    messages = []
    with pytest.raises(ConfigError) as err:
        _network_csv(tmp_path, "maybe")
    messages.append(err.value.message)
    with pytest.raises(ValidationError) as err:
        _orders_csv(tmp_path, "maybe")
    messages.append(err.value.message)
    with pytest.raises(ConfigError) as err:
        load_config(None, env={"DOM_STORE_COALESCE_RESERVES": "maybe"})
    messages.append(err.value.message)
    with pytest.raises(ValidationError) as err:
        order_from_dict({"order_id": "o", "lines": [{"line_id": "l", "sku": "S", "quantity": 1}],
                         "destination": {"latitude": 1, "longitude": 2}, "deliver_in_days": 3,
                         "options": {"ship_complete": "maybe"}}, now=NOW)
    messages.append(err.value.message)
    assert messages == ["must be true or false, got 'maybe'"] * 4


def test_an_integer_cell_is_named_with_what_it_must_be(tmp_path):
    path = tmp_path / "nodes.csv"
    path.write_text("node_id,kind,latitude,longitude,processing_days\nDC1,warehouse,40.7,-74.0,1.5\n")
    with pytest.raises(ConfigError) as err:
        load_network(path)
    assert "column 'processing_days'" in err.value.field
    assert err.value.message == "must be an integer, got '1.5'"
