"""What TLS, token authentication and metrics cost a RouteOrder call: the same demo orders through
two loopback servers over one demo engine in the same run, one plain text without tokens or
metrics, one with TLS (certificates made for the run), bearer-token checks (three tokens in force)
and Prometheus metrics recorded (served on their own port), calls interleaved so drift on this
shared machine hits both alike (the decision log is on in both: it is not optional). Reports
p50 / p99 of each and the p50 ratio secure / plain; asserts the plans are the same both ways (never timings).

    python -m pytest benchmarks/test_security.py --benchmark-only -s
"""

from __future__ import annotations

import os
import time

import grpc
import numpy as np
import pytest

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app.config import TlsFiles
from dom_engine.app.tokens import TokenAuth, hash_token, parse_tokens
from dom_engine.io.demo import demo_catalogue, random_order
from dom_engine.service.converters import order_to_proto
from dom_engine.service.metrics import ServerMetrics
from dom_engine.service.security import Security
from dom_engine.service.server import build_server
from dom_engine.testing.engines import demo_engine
from dom_engine.testing.pki import make_pki

QUICK = os.environ.get("DOM_BENCH_QUICK", "") not in ("", "0", "false", "no")
N_CALLS = 60 if QUICK else 400
SECRET = "benchmark-oms-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    engine = demo_engine()
    engine.warm_up()
    secrets = {"planner": f"{SECRET}-planner", "oms": SECRET, "admin": f"{SECRET}-admin"}
    tokens = parse_tokens([{"name": name, "sha256": hash_token(secret), "methods": ["*"], "reserve": True}
                           for name, secret in secrets.items()], "t")
    secure = Security(TlsFiles(pki["server_cert"], pki["server_key"]), TokenAuth(tokens))
    plain_server, plain_port = build_server(engine, "127.0.0.1:0", max_workers=4)
    metrics = ServerMetrics()
    metrics.serve_http("127.0.0.1:0")
    secure_server, secure_port = build_server(engine, "127.0.0.1:0", max_workers=4, security=secure,
                                              metrics=metrics)
    plain_server.start()
    secure_server.start()
    creds = grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes())
    with grpc.insecure_channel(f"127.0.0.1:{plain_port}") as plain, \
            grpc.secure_channel(f"127.0.0.1:{secure_port}", creds) as tls:
        yield routing_grpc_pb.RoutingServiceStub(plain), routing_grpc_pb.RoutingServiceStub(tls)
    plain_server.stop(None)
    secure_server.stop(None)


def test_route_order_with_tls_and_tokens_vs_plain(benchmark, servers):
    plain, tls = servers
    rng = np.random.default_rng(17)
    catalogue = demo_catalogue()
    requests = [routing_pb.RouteOrderRequest(order=order_to_proto(random_order(
        rng, int(rng.integers(1, 4)), order_id=f"SEC-{k}", catalogue=catalogue, deliver_in_days=5)))
        for k in range(N_CALLS)]
    auth = (("authorization", f"Bearer {SECRET}"),)
    for r in requests[:10]:                                  # connections and caches warm
        plain.RouteOrder(r, timeout=10)
        tls.RouteOrder(r, metadata=auth, timeout=10)
    times: dict[str, list[float]] = {"plain": [], "secure": []}
    costs: dict[str, list[float]] = {"plain": [], "secure": []}

    def run() -> None:
        for r in requests:
            for name, stub, metadata in (("plain", plain, ()), ("secure", tls, auth)):
                started = time.perf_counter()
                reply = stub.RouteOrder(r, metadata=metadata, timeout=10)
                times[name].append(time.perf_counter() - started)
                costs[name].append(reply.plan.total_cost)

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    assert costs["plain"] == costs["secure"]                # the same plans either way
    p = {name: np.percentile(np.array(t) * 1000, [50, 99]) for name, t in times.items()}
    ratio = p["secure"][0] / p["plain"][0]
    benchmark.extra_info.update(calls=N_CALLS, plain_p50_ms=p["plain"][0], plain_p99_ms=p["plain"][1],
                                secure_p50_ms=p["secure"][0], secure_p99_ms=p["secure"][1], p50_ratio=ratio)
    print(f"\nRouteOrder, {N_CALLS} calls each: plain p50 {p['plain'][0]:.2f} ms p99 {p['plain'][1]:.2f} ms; "
          f"TLS + token + metrics p50 {p['secure'][0]:.2f} ms p99 {p['secure'][1]:.2f} ms; "
          f"p50 ratio {ratio:.2f}x")
