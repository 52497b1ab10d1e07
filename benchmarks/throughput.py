"""Throughput under concurrency: the default `dom serve` over a real redis-server, driven by an
independent Node load generator (benchmarks/loadgen, @grpc/grpc-js), so the client's own cost is
small and not Python's.

One run: export the demo, `dom inventory load` its stock into a fresh redis-server, start
`dom serve` (default layout, [store] backend = "redis"), then, against that same server,
  1. grpc.health.v1 Check at C concurrent calls over 4 channels (the server's per-call ceiling),
  2. RouteOrder reserve=true of distinct demo orders (1-5 lines) at the same concurrency,
and report both rates, their ratio and RouteOrder's latency percentiles.

    python -m benchmarks.throughput                       # 32 concurrent, 10 s each
    python -m benchmarks.throughput --concurrency 4 --seconds 5 --workers 1
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine.io.demo import random_order
from dom_engine.service.converters import order_to_proto
from tests.redis_servers import RedisServer, free_port

LOADGEN = Path(__file__).resolve().parent / "loadgen"
HEALTH = "/grpc.health.v1.Health/Check"
ROUTE = "/dom.v1.RoutingService/RouteOrder"
SEED = 12


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def ensure_loadgen() -> None:
    """Install the load generator's pinned packages (package-lock.json) once."""
    if not (LOADGEN / "node_modules" / "@grpc" / "grpc-js").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=LOADGEN, check=True,
                       timeout=300)


def write_requests(path: Path, n: int, seed: int = SEED) -> None:
    """`n` RouteOrderRequest(reserve=true) of distinct demo orders of 1-5 lines, base64 per line."""
    rng = np.random.default_rng(seed)
    with path.open("w") as out:
        for k in range(n):
            order = order_to_proto(random_order(rng, int(rng.integers(1, 6)), order_id=f"TP-{seed}-{k}"))
            order.ClearField("created_at")          # the server's clock: orders are placed "now"
            request = routing_pb.RouteOrderRequest(order=order, reserve=True)
            out.write(base64.b64encode(request.SerializeToString()).decode() + "\n")


def run_loadgen(target: str, method: str, *, requests: Path | None = None, concurrency: int = 32,
                channels: int = 4, seconds: float = 10.0, warmup: float = 2.0) -> dict:
    cmd = ["node", str(LOADGEN / "loadgen.js"), "--target", target, "--method", method,
           "--concurrency", str(concurrency), "--channels", str(channels), "--duration", str(seconds),
           "--warmup", str(warmup)]
    if requests is not None:
        cmd += ["--requests", str(requests)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + warmup + 120, check=True)
    return json.loads(done.stdout)


def _dom(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dom_engine", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=True)


def _wait_serving(target: str, server: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"dom serve exited with {server.returncode}")
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    raise TimeoutError(f"dom serve not serving on {target} after {timeout_s} s")


@contextmanager
def served(workers: int | None = None) -> Iterator[str]:
    """`dom serve` on the demo over a fresh redis-server holding the demo stock; yields its target."""
    redis = RedisServer().start()
    work = Path(tempfile.mkdtemp(prefix="dom-tp-"))
    server = None
    try:
        _dom("demo", "export", str(work))
        config = work / "dom.toml"
        config.write_text(config.read_text() + f'\n[store]\nbackend = "redis"\nurl = "{redis.url}"\n')
        _dom("inventory", "load", str(work / "inventory.csv"), "--config", str(config))
        target = f"127.0.0.1:{free_port()}"
        cmd = [sys.executable, "-m", "dom_engine", "serve", "--config", str(config), "--address", target]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("w"),
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        _wait_serving(target, server)
        yield target
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        redis.close()
        shutil.rmtree(work, ignore_errors=True)


def measure(*, concurrency: int = 32, seconds: float = 10.0, warmup: float = 2.0,
            workers: int | None = None, channels: int = 4) -> dict:
    """Health and RouteOrder(reserve) rates against one server in one run, and their ratio."""
    ensure_loadgen()
    with tempfile.TemporaryDirectory() as tmp:
        requests = Path(tmp) / "orders.b64"
        # Enough distinct orders for the run at 5,000/s (a repeated id would be an idempotent replay).
        write_requests(requests, int(5000 * (seconds + warmup)) + 1000)
        with served(workers) as target:
            health = run_loadgen(target, HEALTH, concurrency=concurrency, channels=channels, seconds=seconds,
                                 warmup=warmup)
            route = run_loadgen(target, ROUTE, requests=requests, concurrency=concurrency, channels=channels,
                                seconds=seconds, warmup=warmup)
            reserved = first_order_reserved(target, requests)
    return {"health": health, "route": route, "ratio": route["rate"] / health["rate"], "reserved": reserved}


def first_order_reserved(target: str, requests: Path) -> bool:
    """Whether the load's first order holds a reservation: sent again, a reserving RouteOrder is an
    idempotent replay that answers the reservation made under load (so the load did reserve)."""
    with requests.open() as lines:
        first = routing_pb.RouteOrderRequest.FromString(base64.b64decode(lines.readline()))
    with grpc.insecure_channel(target) as channel:
        reply = channel.unary_unary(ROUTE, request_serializer=routing_pb.RouteOrderRequest.SerializeToString,
                                    response_deserializer=routing_pb.RouteOrderResponse.FromString)(
            first, timeout=30)
    return bool(reply.plan.reservation_id)


def table(result: dict) -> str:
    h, r = result["health"], result["route"]
    return "\n".join([
        "| grpc.health Check | RouteOrder reserve=true (Redis) | ratio | RouteOrder p50 / p90 / p99 "
        "| failed |",
        "|---|---|---|---|---|",
        f"| {h['rate']:,.0f}/s | {r['rate']:,.0f}/s | {result['ratio']:.1%} | "
        f"{r['p50_ms']:.1f} / {r['p90_ms']:.1f} / {r['p99_ms']:.1f} ms | {r['failed']} {r['errors'] or ''} |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=None, help="dom serve --workers (default: its own)")
    parser.add_argument("--channels", type=int, default=4,
                        help="client connections (the kernel spreads them over the workers at random)")
    args = parser.parse_args(argv)
    result = measure(concurrency=args.concurrency, seconds=args.seconds, warmup=args.warmup,
                     workers=args.workers, channels=args.channels)
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
