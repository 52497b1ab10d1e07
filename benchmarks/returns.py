"""Return routing on the demo (issue 15): latency of Engine.route_return and its net cost against
sending every return to the nearest warehouse (the "returns centre" rule most engines use).

    python -m benchmarks.returns                 # 300 fixed-seed returns
    python -m benchmarks.returns --returns 1000

Returns: 1-4 lines of demo SKUs (popular first), 1-2 units, condition new 60 % / opened 30 % /
damaged 10 %, from population-weighted demo destinations, drop-off within 30 km allowed. The rule
is priced with the same options (the cheapest carrier service to the nearest warehouse, its
handling and best recovery), so the difference is the choice alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from dom_engine.app.bootstrap import build_engine
from dom_engine.domain import NodeKind, PlanStatus
from dom_engine.domain.returns import Condition, ReturnLine, ReturnOptions, ReturnRequest
from dom_engine.io.demo import demo_catalogue, random_destination
from dom_engine.network.geo import haversine_km
from dom_engine.optimize.returns import ReturnSetup, return_options

SEED = 15


def returns(n: int) -> list[ReturnRequest]:
    rng = np.random.default_rng([SEED, n])
    cat = demo_catalogue()
    out = []
    for k in range(n):
        skus = rng.choice(len(cat.skus), size=int(rng.integers(1, 5)), replace=False, p=cat.popularity)
        conditions = rng.choice(list(Condition), size=len(skus), p=[0.6, 0.3, 0.1])
        lines = tuple(ReturnLine(str(j + 1), cat.skus[s], int(rng.integers(1, 3)), c)
                      for j, (s, c) in enumerate(zip(skus, conditions, strict=True)))
        out.append(ReturnRequest(f"RET-{k:05d}", lines, random_destination(rng),
                                 options=ReturnOptions(dropoff_radius_km=30.0)))
    return out


def nearest_centre_cost(engine, request: ReturnRequest) -> float:
    """Everything to the nearest warehouse by its cheapest carrier service."""
    net = engine.network
    setup = ReturnSetup(engine.returns_config.sites_of(net), engine.returns_config.recovery)
    km = haversine_km(request.origin.latitude, request.origin.longitude, net.latitudes, net.longitudes)
    warehouses = [i for i, n in enumerate(net.nodes)
                  if n.kind is NodeKind.WAREHOUSE and n.node_id in setup.sites]
    nearest = min(warehouses, key=lambda i: km[i])
    options = [o for o in return_options(request, net, engine.rate_card, setup) if o.node == nearest]
    q = np.array([ln.quantity for ln in request.lines])
    return min(o.package + float(((o.carrier_unit + o.handling - o.recovery) * q).sum()) for o in options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--returns", type=int, default=300)
    args = parser.parse_args(argv)
    engine = build_engine()
    todo = returns(args.returns)
    for r in todo[:5]:
        engine.route_return(r)                      # warm-up: kernels, caches
    times, costs, rule, optimal = [], [], [], 0
    for r in todo:
        started = time.perf_counter()
        plan = engine.route_return(r)
        times.append(time.perf_counter() - started)
        costs.append(plan.net_cost)
        optimal += plan.status is PlanStatus.OPTIMAL
        rule.append(nearest_centre_cost(engine, r))
    t = np.array(times) * 1000
    saved = float(np.sum(rule) - np.sum(costs))
    print(f"{len(todo)} returns on the demo: {optimal} OPTIMAL; Engine.route_return p50 "
          f"{np.median(t):.2f} ms, p99 {np.percentile(t, 99):.2f} ms")
    print(f"net cost: optimised {np.sum(costs):,.2f} vs nearest warehouse {np.sum(rule):,.2f}: "
          f"{saved:,.2f} less ({saved / abs(np.sum(rule)):.1%} of the rule's |net|); "
          f"never worse: {all(c <= r + 1e-6 for c, r in zip(costs, rule, strict=True))}")
    wire = grpc_times(engine, todo, costs)
    print(f"RouteReturn through gRPC on loopback: p50 {np.median(wire):.2f} ms, "
          f"p99 {np.percentile(wire, 99):.2f} ms (same net costs as in process)")
    return 0


def grpc_times(engine, todo: list[ReturnRequest], costs: list[float]) -> np.ndarray:
    """RouteReturn round trips (ms) on a real server on loopback; checks the plans equal in-process ones."""
    import grpc

    from dom_engine._proto.dom.v1 import routing_pb2 as pb
    from dom_engine._proto.dom.v1 import routing_pb2_grpc as rpc
    from dom_engine.service.server import build_server

    server, port = build_server(engine, "127.0.0.1:0")
    server.start()
    conditions = {Condition.NEW: pb.RETURN_CONDITION_NEW, Condition.OPENED: pb.RETURN_CONDITION_OPENED,
                  Condition.DAMAGED: pb.RETURN_CONDITION_DAMAGED}
    times = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = rpc.RoutingServiceStub(channel)
            for k, r in enumerate(todo):
                origin = pb.Destination(latitude=r.origin.latitude, longitude=r.origin.longitude)
                msg = pb.RouteReturnRequest(
                    return_id=r.return_id, origin=origin,
                    lines=[pb.ReturnLine(line_id=ln.line_id, sku=ln.sku, quantity=ln.quantity,
                                         condition=conditions[ln.condition]) for ln in r.lines],
                    options=pb.ReturnOptions(dropoff_radius_km=r.options.dropoff_radius_km))
                started = time.perf_counter()
                answer = stub.RouteReturn(msg, timeout=10)
                times.append(time.perf_counter() - started)
                if abs(answer.plan.net_cost - costs[k]) > 1e-6 * max(1.0, abs(costs[k])):
                    raise AssertionError(f"{r.return_id}: {answer.plan.net_cost} over gRPC, "
                                         f"{costs[k]} in process")
    finally:
        server.stop(None)
    return np.array(times[5:]) * 1000


if __name__ == "__main__":
    raise SystemExit(main())
