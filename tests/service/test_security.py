"""TLS, mutual TLS and bearer tokens on a real gRPC server on loopback, with certificates made at
test time (a CA, the server's certificate for 127.0.0.1, a client's): who may call what, tokens
rotated without a restart, health open to all, and config errors naming the key."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine._proto.dom.v1 import inventory_pb2 as inventory_pb
from dom_engine._proto.dom.v1 import inventory_pb2_grpc as inventory_grpc_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.config import parse_config
from dom_engine.app.tokens import RELOAD_CHECK_S, TokenAuth, hash_token, parse_tokens
from dom_engine.domain import ConfigError
from dom_engine.service.security import Security, is_loopback
from dom_engine.service.server import build_server
from dom_engine.testing.pki import make_pki

from .conftest import _valid_request

SECRETS = {"planner": "planner-secret-0123456789abcdef", "oms": "oms-secret-0123456789abcdef",
           "admin": "admin-secret-0123456789abcdef"}


def _tokens_toml(secrets: dict[str, str]) -> str:
    rights = {"planner": ('["RouteOrder", "ValidateOrder", "RouteBatch"]', "false"),
              "oms": ('["RouteOrder", "RejectShipment", "RouteBatch", "GetReservation"]', "true"),
              "admin": ('["*"]', "true")}
    return "".join(f'[[tokens]]\nname = "{name}"\nsha256 = "{hash_token(secret)}"\n'
                   f"methods = {rights[name][0]}\nreserve = {rights[name][1]}\n"
                   for name, secret in secrets.items())


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (CN=oms-client), as files."""
    return make_pki(tmp_path_factory.mktemp("pki"))


def _config(tmp_path: Path, server_toml: str):
    import tomllib
    return parse_config(tomllib.loads(server_toml), tmp_path).server


def _serve(make_engine, security: Security):
    server, port = build_server(make_engine(), "127.0.0.1:0", max_workers=4, security=security)
    server.start()
    return server, port


def _secure_channel(port: int, pki: dict[str, Path], client_cert: bool = False) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].read_bytes(),
        private_key=pki["client_key"].read_bytes() if client_cert else None,
        certificate_chain=pki["client_cert"].read_bytes() if client_cert else None)
    return grpc.secure_channel(f"127.0.0.1:{port}", creds)


def _meta(name: str | None) -> tuple[tuple[str, str], ...]:
    return () if name is None else (("authorization", f"Bearer {SECRETS.get(name, name)}"),)


def _code(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def test_tls_serves_a_client_that_trusts_the_ca_and_refuses_plain_text(make_engine, pki, tmp_path):
    server_cfg = _config(tmp_path, f'[server.tls]\ncert_file = "{pki["server_cert"]}"\n'
                                   f'key_file = "{pki["server_key"]}"\n')
    server, port = _serve(make_engine, Security.from_config(server_cfg))
    try:
        with _secure_channel(port, pki) as ch:
            reply = routing_grpc_pb.RoutingServiceStub(ch).RouteOrder(_valid_request("tls-1"), timeout=10)
            assert reply.plan.status and reply.plan.shipments
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = routing_grpc_pb.RoutingServiceStub(ch)
            assert _code(lambda: stub.RouteOrder(_valid_request("tls-2"), timeout=3)) \
                is grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(None)


def test_mutual_tls_needs_a_client_certificate_and_logs_who_called(make_engine, pki, tmp_path, caplog):
    server_cfg = _config(tmp_path, f'[server.tls]\ncert_file = "{pki["server_cert"]}"\n'
                                   f'key_file = "{pki["server_key"]}"\nclient_ca_file = "{pki["ca"]}"\n')
    security = Security.from_config(server_cfg)
    assert "mutual TLS" in security.describe()
    server, port = _serve(make_engine, security)
    try:
        with _secure_channel(port, pki) as ch:            # no client certificate
            stub = routing_grpc_pb.RoutingServiceStub(ch)
            refused = _code(lambda: stub.RouteOrder(_valid_request("m-1"), timeout=3))
            assert refused is grpc.StatusCode.UNAVAILABLE
        with caplog.at_level(logging.INFO, logger="dom_engine.access"), \
                _secure_channel(port, pki, client_cert=True) as ch:
            routing_grpc_pb.RoutingServiceStub(ch).RouteOrder(_valid_request("m-2"), timeout=10)
        assert any("CN=oms-client" in r.getMessage() for r in caplog.records)
    finally:
        server.stop(None)


@pytest.fixture
def token_server(make_engine, tmp_path):
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(_tokens_toml(SECRETS))
    security = Security.from_config(_config(tmp_path, f'[server.auth]\ntokens_file = "{tokens}"\n'))
    server, port = _serve(make_engine, security)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch, tokens, security
    server.stop(None)


def test_tokens_decide_who_may_call_what(token_server):
    ch, _, _ = token_server
    routing = routing_grpc_pb.RoutingServiceStub(ch)
    inventory = inventory_grpc_pb.InventoryServiceStub(ch)

    def route(who, reserve=False, order_id="t"):
        request = _valid_request(f"{order_id}-{who}-{reserve}", reserve=reserve)
        return _code(lambda: routing.RouteOrder(request, metadata=_meta(who), timeout=10))

    assert route(None) is grpc.StatusCode.UNAUTHENTICATED
    assert route("not-a-token") is grpc.StatusCode.UNAUTHENTICATED
    assert route("planner") is grpc.StatusCode.OK
    assert route("planner", reserve=True) is grpc.StatusCode.PERMISSION_DENIED
    assert route("oms", reserve=True) is grpc.StatusCode.OK
    assert route("admin", reserve=True) is grpc.StatusCode.OK
    upsert = inventory_pb.UpsertInventoryRequest()
    assert _code(lambda: inventory.UpsertInventory(upsert, metadata=_meta("planner"), timeout=5)) \
        is grpc.StatusCode.PERMISSION_DENIED
    assert _code(lambda: inventory.UpsertInventory(upsert, metadata=_meta("oms"), timeout=5)) \
        is grpc.StatusCode.PERMISSION_DENIED
    # The admin gets past authentication: whatever the empty upsert answers, it is not an auth status.
    assert _code(lambda: inventory.UpsertInventory(upsert, metadata=_meta("admin"), timeout=5)) not in (
        grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
    # Health stays open.
    health = health_pb2_grpc.HealthStub(ch)
    assert health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == \
        health_pb2.HealthCheckResponse.SERVING


def test_a_refused_call_reserves_nothing(token_server):
    ch, _, _ = token_server
    routing = routing_grpc_pb.RoutingServiceStub(ch)
    inventory = inventory_grpc_pb.InventoryServiceStub(ch)
    request = _valid_request("never-held", reserve=True)
    assert _code(lambda: routing.RouteOrder(request, metadata=_meta("planner"), timeout=10)) \
        is grpc.StatusCode.PERMISSION_DENIED
    lookup = inventory_pb.ReservationRequest(reservation_id="res-never-held")
    assert _code(lambda: inventory.GetReservation(lookup, metadata=_meta("admin"), timeout=5)) \
        is grpc.StatusCode.NOT_FOUND


def test_tokens_rotate_without_a_restart(token_server):
    ch, tokens, security = token_server
    routing = routing_grpc_pb.RoutingServiceStub(ch)

    def route(secret):
        return _code(lambda: routing.RouteOrder(_valid_request("rot"), timeout=10,
                                                metadata=(("authorization", f"Bearer {secret}"),)))

    assert route(SECRETS["planner"]) is grpc.StatusCode.OK
    rotated = {"planner": "the-new-planner-secret-0123456789"}
    tokens.write_text(_tokens_toml(rotated))
    os.utime(tokens, (time.time() + 5, time.time() + 5))     # a new stamp even within one tick
    time.sleep(RELOAD_CHECK_S + 0.1)
    assert route(SECRETS["planner"]) is grpc.StatusCode.UNAUTHENTICATED
    assert route(rotated["planner"]) is grpc.StatusCode.OK
    # A file that no longer parses keeps the tokens in force (and says why in the log).
    tokens.write_text("[[tokens]]\nname = 'x'\n")
    security.auth.reload()
    assert route(rotated["planner"]) is grpc.StatusCode.OK


def test_tokens_are_compared_by_hash_and_checked_up_front(tmp_path):
    entry = {"name": "a", "sha256": hash_token("s3cret-token"), "methods": ["*"]}
    auth = TokenAuth(parse_tokens([entry], "t"))
    assert auth.identify("s3cret-token").name == "a"
    assert auth.identify("s3cret-tokem") is None and auth.identify("") is None
    bad = [({"name": "a", "sha256": "abc", "methods": ["*"]}, "t[0].sha256"),
           ({"name": "a", "sha256": "0" * 64, "methods": ["Teleport"]}, "t[0].methods"),
           ({"name": "", "sha256": "0" * 64, "methods": ["*"]}, "t[0].name"),
           ({"name": "a", "sha256": "0" * 64, "methods": ["*"], "colour": 1}, "t[0].colour")]
    for entry, field in bad:
        with pytest.raises(ConfigError) as err:
            parse_tokens([entry], "t")
        assert err.value.field == field


@pytest.mark.parametrize(("toml", "field"), [
    ('[server.tls]\ncert_file = "missing.pem"\nkey_file = "missing.key"\n', "server.tls.cert_file"),
    ('[server.tls]\nclient_ca_file = "ca.pem"\n', "server.tls.client_ca_file"),
    ('[server.auth]\ntokens_file = "nope.toml"\n', "server.auth.tokens_file"),
    ("[server]\ninsecure = \"yes\"\n", "server.insecure"),
])
def test_security_config_errors_name_the_key(tmp_path, toml, field):
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, toml)
    assert err.value.field == field


def test_plain_text_off_loopback_must_be_asked_for(tmp_path):
    assert is_loopback("127.0.0.1:50051") and is_loopback("localhost:1") and is_loopback("[::1]:1")
    assert not is_loopback("0.0.0.0:50051")
    with pytest.raises(ConfigError) as err:
        Security.from_config(_config(tmp_path, "")).check("0.0.0.0:50051")
    assert err.value.field == "server.tls"
    Security.from_config(_config(tmp_path, "[server]\ninsecure = true\n")).check("0.0.0.0:50051")
    assert "INSECURE" in Security().describe()
