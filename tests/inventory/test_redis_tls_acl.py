"""The Redis store over TLS with an ACL user, against a real redis-server that speaks only TLS and
whose default user is disabled (certificates made at test time). Skipped only where redis-server
was built without TLS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from dom_engine.app.events_config import EventsConfig
from dom_engine.domain import ConfigError, Network, Node, NodeKind
from dom_engine.domain.events import Event
from dom_engine.domain.reservation import Allocation
from dom_engine.inventory.base import StoreUnavailable
from dom_engine.inventory.redis_config import RedisStoreConfig
from dom_engine.testing.pki import make_pki
from tests.redis_servers import REDIS_SERVER, SecureRedisServer, new_namespace

pytestmark = pytest.mark.skipif(REDIS_SERVER is None or not SecureRedisServer.supported(),
                                reason="redis-server missing or built without TLS")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD_ENV = "DOM_TEST_REDIS_PASSWORD"
NETWORK = Network((Node("N1", NodeKind.WAREHOUSE, 40.7, -74.0), Node("N2", NodeKind.WAREHOUSE, 34.0, -118.2)))


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure(pki):
    server = SecureRedisServer(pki).start()
    yield server
    server.close()


@pytest.fixture
def password(monkeypatch, secure) -> str:
    monkeypatch.setenv(PASSWORD_ENV, secure.password)
    return secure.password


def _config(secure, pki, **over) -> RedisStoreConfig:
    fields = dict(url=secure.url, namespace=new_namespace("tls"), username=secure.username,
                  password_env=PASSWORD_ENV, tls_ca_file=str(pki["ca"]))
    fields.update(over)
    return RedisStoreConfig(**fields)


def test_store_and_decision_log_over_tls_with_an_acl_user(secure, pki, password):
    config = _config(secure, pki)
    store = config.open(NETWORK)
    store.load_snapshot(np.array(["N1", "N2"], dtype=object), np.array(["S", "S"], dtype=object),
                        np.array([5, 7]), np.array([0, 0]))
    assert store.read(["S"]).atp[:, 0].tolist() == [5, 7]
    held = store.reserve("o-1", [Allocation("N2", "S", 3)])
    assert store.read(["S"]).atp[:, 0].tolist() == [5, 4] and held.order_id == "o-1"

    log = EventsConfig().open(config)          # the decision log goes to the same Redis
    try:
        log.append(Event("route", "o-1", datetime.now(UTC)))
        assert log.flush(5.0)
        assert [e.order_id for e in log.read()] == ["o-1"]
    finally:
        log.close()


def test_wrong_password_no_tls_and_no_user_are_refused(secure, pki, monkeypatch, password):
    monkeypatch.setenv("DOM_TEST_WRONG", "not-the-password")
    for config in (_config(secure, pki, password_env="DOM_TEST_WRONG"),
                   _config(secure, pki, username="", password_env=""),
                   _config(secure, pki, url=secure.url.replace("rediss://", "redis://"), tls_ca_file="")):
        with pytest.raises(StoreUnavailable):
            config.open(NETWORK).read(["S"])
    with pytest.raises(StoreUnavailable, match="refused the login.*store.password_env"):
        _config(secure, pki, password_env="DOM_TEST_WRONG").open(NETWORK).read(["S"])


def test_bad_tls_and_password_settings_name_the_key(secure, pki, tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(ConfigError) as err:
        _config(secure, pki).connection_options()
    assert err.value.field == "store.password_env" and PASSWORD_ENV in err.value.message
    with pytest.raises(ConfigError) as err:
        _config(secure, pki, url="redis://127.0.0.1:6379/0")
    assert err.value.field == "store.tls_ca_file"
    with pytest.raises(ConfigError) as err:
        _config(secure, pki, tls_ca_file=str(tmp_path / "missing.pem"))
    assert err.value.field == "store.tls_ca_file"
    with pytest.raises(ConfigError) as err:
        _config(secure, pki, tls_cert_file=str(pki["client_cert"]))
    assert err.value.field == "store.tls_key_file"


def test_client_certificates_when_redis_asks_for_them(pki, password):
    server = SecureRedisServer(pki, client_certs=True).start()
    try:
        with pytest.raises(StoreUnavailable):
            _config(server, pki).open(NETWORK).read(["S"])
        mutual = _config(server, pki, tls_cert_file=str(pki["client_cert"]),
                         tls_key_file=str(pki["client_key"]))
        assert mutual.open(NETWORK).read(["S"]).unknown == frozenset({"S"})
    finally:
        server.close()


def test_cli_loads_and_routes_over_tls_with_paths_relative_to_the_config(tmp_path, secure, pki):
    for name in ("network.toml", "rates.toml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copy(pki["ca"], tmp_path / "redis-ca.pem")
    (tmp_path / "stock.csv").write_text("node_id,sku,on_hand,safety_stock\nDC-EDISON,SKU-1,10,0\n")
    config = tmp_path / "dom.toml"
    config.write_text(f'[data]\nnetwork = "network.toml"\ninventory = "stock.csv"\nrates = "rates.toml"\n'
                      f'[store]\nbackend = "redis"\nurl = "{secure.url}"\n'
                      f'namespace = "{new_namespace("cli")}"\n'
                      f'username = "{secure.username}"\npassword_env = "{PASSWORD_ENV}"\n'
                      f'tls_ca_file = "redis-ca.pem"\n')
    order = tmp_path / "order.json"
    lines = [{"line_id": "1", "sku": "SKU-1", "quantity": 2}]
    order.write_text(json.dumps({"order_id": "T-1", "lines": lines,
                                 "destination": {"latitude": 40.0, "longitude": -75.0}}))
    env = {**os.environ, PASSWORD_ENV: secure.password}
    run = [sys.executable, "-m", "dom_engine"]
    loaded = subprocess.run([*run, "inventory", "load", str(tmp_path / "stock.csv"), "--config", str(config)],
                            capture_output=True, text=True, env=env, cwd=Path("/"), timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    routed = subprocess.run([*run, "route", str(order), "--reserve", "--json", "--config", str(config)],
                            capture_output=True, text=True, env=env, cwd=Path("/"), timeout=120)
    assert routed.returncode == 0, routed.stderr
    plan = json.loads(routed.stdout)
    assert plan["status"] == "OPTIMAL" and plan["reservation_id"]
    assert [s["node_id"] for s in plan["shipments"]] == ["DC-EDISON"]
