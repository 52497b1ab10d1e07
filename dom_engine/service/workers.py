"""Several server processes on one port, for throughput beyond one Python process (the GIL).

Each worker is a fresh process (spawn: no gRPC state crosses a fork, see REFERENCES.md) that builds
its own Engine from the same configuration and serves on the same address with SO_REUSEPORT, so the
kernel spreads connections over them; clients need several channels to use them all. The workers
share stock through the Redis store (in-memory stock would be per process and could oversell, so
more than one worker requires [store] backend = "redis"). The parent forwards SIGTERM/SIGINT and
returns when every worker has stopped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from typing import Any

from dom_engine.domain import ConfigError

log = logging.getLogger("dom_engine.service")


def check_workers(workers: int, shared_store: bool, address: str) -> None:
    """Refuse setups where several workers would be wrong, naming the setting."""
    if workers < 1:
        raise ConfigError("server.workers", f"must be >= 1, got {workers}")
    if workers > 1 and not shared_store:
        raise ConfigError("server.workers", "more than one worker needs the shared Redis store "
                          '([store] backend = "redis"): in-memory stock would be per process and oversell')
    if workers > 1 and address.rpartition(":")[2] == "0":
        raise ConfigError("server.address", "several workers must share one fixed port, not port 0")


def serve_workers(config_path: str | None, address: str, workers: int, max_workers: int,
                  metrics_address: str | None = None) -> int:
    """Run `workers` server processes on `address` until a signal stops them. Returns an exit code
    (non-zero when a worker failed). With `metrics_address`, the workers record their metrics in
    prometheus-client's multiprocess files and this process serves them merged there."""
    metrics_dir = _multiprocess_metrics(metrics_address)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(config_path, address, max_workers, k), name=f"dom-worker-{k}")
             for k in range(workers)]
    for p in procs:
        p.start()

    def forward(signum: int, _frame: Any) -> None:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                p.terminate() if signum == signal.SIGTERM else _interrupt(p.pid)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for p in procs:
            p.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    failed = [p.name for p in procs if p.exitcode not in (0, -signal.SIGTERM, -signal.SIGINT)]
    if failed:
        log.error("workers failed: %s", ", ".join(failed))
    return 1 if failed else 0


def _multiprocess_metrics(address: str | None) -> str | None:
    """Serve the workers' merged metrics on `address`; the directory they write to (inherited by
    the spawned workers through PROMETHEUS_MULTIPROC_DIR), or None without an address."""
    if address is None:
        return None
    folder = tempfile.mkdtemp(prefix="dom-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    from prometheus_client import CollectorRegistry, multiprocess

    from .metrics import serve_registry

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    port = serve_registry(registry, address)
    log.info("metrics of all workers on http://%s:%d/metrics", address.rpartition(":")[0], port)
    return folder


def _interrupt(pid: int) -> None:
    os.kill(pid, signal.SIGINT)


def _worker(config_path: str | None, address: str, max_workers: int, index: int = 0) -> None:
    from dom_engine.app.bootstrap import build_engine
    from dom_engine.app.config import load_config
    from dom_engine.app.log_format import configure_logging
    from dom_engine.app.tracing import configure_tracing
    from dom_engine.service.security import Security
    from dom_engine.service.server import serve

    config = load_config(config_path)
    configure_logging(config.server.log_format, config.server.log_calls)
    configure_tracing(config.tracing)
    engine = build_engine(config)
    # metrics go to the parent's multiprocess files (PROMETHEUS_MULTIPROC_DIR), served merged there
    serve(engine, address, max_workers=max_workers, options=(("grpc.so_reuseport", 1),),
          max_message_mb=config.server.max_message_mb, security=Security.from_config(config.server),
          record_metrics=config.server.metrics_address is not None,
          maximum_concurrent_rpcs=config.server.max_in_flight, expire_holds=index == 0)
