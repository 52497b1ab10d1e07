"""Server memory kept per malformed request body: `python -m benchmarks.malformed_rss [rounds]`.

Starts a server process on loopback, sends `rounds` x 250 bodies that do not parse as
RouteOrderRequest (a fresh connection per round: grpcio's own deserializer wedges a connection
after 256 of them) and prints the server's RSS growth per call. Issue 9 item 1: ~19 KB per call
when grpcio parsed the body; ~0 since the service parses it (ErrorMappingInterceptor).
"""

from __future__ import annotations

import subprocess
import sys
import time

import grpc

SERVER = """
import sys, time
from tests.service.conftest import new_engine
from dom_engine.service.server import build_server
server, port = build_server(new_engine(), "127.0.0.1:0", max_workers=4)
server.start()
print(port, flush=True)
time.sleep(3600)
"""
CALLS_PER_ROUND = 250


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS")).split()[1])


def _round(port: int) -> None:
    # A local subchannel pool: a connection of its own, not the one earlier rounds used.
    options = [("grpc.use_local_subchannel_pool", 1)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        call = channel.unary_unary("/dom.v1.RoutingService/RouteOrder",
                                   request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for _ in range(CALLS_PER_ROUND):
            try:
                call(b"\xff\xff\xff", timeout=5)
            except grpc.RpcError:
                pass


def main(rounds: int = 20) -> None:
    """Print the server's RSS growth per malformed call over `rounds` rounds (after one warm-up)."""
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        _round(port)  # warm-up: first-call allocations are not a leak
        time.sleep(0.5)
        before = _rss_kb(server.pid)
        for _ in range(rounds):
            _round(port)
        time.sleep(1.0)
        after = _rss_kb(server.pid)
        calls = rounds * CALLS_PER_ROUND
        print(f"{calls} malformed calls: server RSS {before} -> {after} kB, "
              f"{(after - before) / calls:.2f} kB per call")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
