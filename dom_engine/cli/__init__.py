"""The `dom` command line (also `python -m dom_engine`).

  dom serve [--config FILE] [--address HOST:PORT] [--workers N]
                                                       gRPC server (no config: the bundled demo)
  dom route ORDER.json [--config FILE] [--json] [--policy NAME] [--reserve] [--time-budget-ms MS]
  dom batch ORDERS.(jsonl|csv|parquet) [--config FILE] [--reserve] [--time-budget-ms MS]
            [--out PLANS.jsonl] [--json]               allocate a wave of orders jointly, print a summary
  dom validate-config FILE                             load every file a config names, print a summary
  dom inventory load FILE [--config FILE] [--redis URL [--cluster]]
                                                       load a stock snapshot into the shared Redis store
  dom token new NAME [--methods M ...] [--reserve]       a caller token for [server.auth]
  dom demo export DIR                                  write the demo as editable files

Without --config, `dom` uses $DOM_CONFIG if set, else the bundled demo. Exit codes: 0 success
(an INFEASIBLE plan is still an answer), 2 bad input or configuration (message on stderr naming the
field), 1 unexpected error (set DOM_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .. import __version__
from ..domain import DomainError
from ..domain.reservation import ReservationConflict
from ..io.progress import phase_bar, progress_bar, scenario_bar
from .events import add_parser as add_events_parser
from .prices import add_parser as add_prices_parser
from .returns import add_parser as add_returns_parser
from .tokens import add_parser as add_token_parser

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _config(path: str | None):
    from ..app.config import load_config

    path = path or os.environ.get("DOM_CONFIG") or None
    return load_config(path)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..app.bootstrap import build_engine, load_components
    from ..app.config import check_address
    from ..app.log_format import configure_logging
    from ..app.server_config import effective_workers
    from ..app.store_status import check_shared_store, stock_source
    from ..app.tracing import configure_tracing
    from ..service.security import Security

    config = _config(args.config)
    address = args.address or config.server.address
    check_address(address, "--address")
    configure_tracing(config.tracing)
    security = Security.from_config(config.server)
    security.check(address)
    workers = args.workers or effective_workers(config.server.workers, config.store.shared, address)
    if workers > 1 or args.workers is not None:
        from ..service.workers import check_workers, serve_workers

        check_workers(workers, config.store.shared, address)
        if workers > 1:      # the workers' shared store must be reachable and hold stock
            check_shared_store(config, load_components(config).store, args.allow_empty_store)
            configure_logging(config.server.log_format, config.server.log_calls)
            _say(config, f"dom: {workers} worker processes on {address}; {security.describe()}; Ctrl-C stops")
            return serve_workers(args.config or os.environ.get("DOM_CONFIG") or None, address, workers,
                                 config.server.max_workers, config.server.metrics_address)
    from ..service.server import serve  # lazy: grpc is only needed to serve

    engine = build_engine(config)
    if config.store.shared:      # reachable and holding stock (or allowed empty)
        check_shared_store(config, engine.store, args.allow_empty_store)
    configure_logging(config.server.log_format, config.server.log_calls)
    source = f"network {config.network or 'bundled demo'}; stock {stock_source(config)}"

    def ready(port: int) -> None:
        host = address.rpartition(":")[0]
        _say(config, f"dom: serving {len(engine.network)} nodes on {host}:{port} ({source}); "
                     f"{security.describe()}; Ctrl-C stops")

    serve(engine, address, max_workers=config.server.max_workers, on_ready=ready,
          max_message_mb=config.server.max_message_mb, security=security,
          metrics_address=config.server.metrics_address, maximum_concurrent_rpcs=config.server.max_in_flight)
    return EXIT_OK


def _say(config, line: str) -> None:
    """The server's start-up line: on stderr as it is, or as a log record when the log is JSON
    lines (so every line a log shipper reads parses)."""
    if config.server.log_format == "json":
        import logging

        logging.getLogger("dom_engine.service").info(line)
    else:
        print(line, file=sys.stderr, flush=True)


def cmd_route(args: argparse.Namespace) -> int:
    from ..app.bootstrap import build_engine
    from ..io.order_json import load_order
    from ..io.render import format_plan, plan_to_json

    request = load_order(args.order)
    order = request.order
    if args.policy:
        order = replace(order, options=replace(order.options, policy=args.policy))
    engine = build_engine(_config(args.config))
    budget = args.time_budget_ms if args.time_budget_ms is not None else request.time_budget_ms
    if budget is not None and budget <= 0:
        raise DomainError("--time-budget-ms", f"must be > 0, got {budget}")
    if engine.policy_for(order).inventory_aware:
        engine.ensure_prices()     # a fresh process's store has none yet: from the forecast file
    plan = engine.route(order, reserve=args.reserve or request.reserve, time_budget_ms=budget)
    print(plan_to_json(plan) if args.json else format_plan(plan))
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    """Allocate a file of orders jointly (progress bar on stderr), print the summary, write plans."""
    import json

    from ..app.bootstrap import build_engine
    from ..io.order_files import read_orders
    from ..io.render import batch_to_dict, format_batch, plan_to_dict, tidy

    if args.time_budget_ms is not None and not args.time_budget_ms > 0:
        raise DomainError("--time-budget-ms", f"must be > 0, got {args.time_budget_ms}")
    orders = read_orders(args.orders)  # before the engine is built: a bad file fails fast
    engine = build_engine(_config(args.config))
    try:
        with phase_bar() as progress:
            result = engine.route_batch(orders.orders, reserve=args.reserve,
                                        time_budget_ms=args.time_budget_ms, progress=progress)
    except DomainError as err:
        # name the file line / row the engine's orders[k] came from
        raise type(err)(orders.locate(err.field), err.message) from err
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(tidy(plan_to_dict(plan))) + "\n" for plan in result.plans)
    if args.json:
        print(json.dumps(tidy(batch_to_dict(result, include_plans=not args.out)), indent=2))
    else:
        print(format_batch(result, engine.network.currency))
        if args.out:
            print(f"Plans:     written to {args.out} (one JSON plan per line, in file order)")
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    """Replay the base and each scenario of a scenario file; print KPIs with paired deltas."""
    import json

    from ..io.order_files import read_orders
    from ..simulation import load_scenarios, simulate
    from ..simulation.executors import make_executor
    from ..simulation.outputs import format_table, summary, write_outputs
    from ..simulation.scenarios import MAX_REPLICATIONS

    if args.replications is not None and not 1 <= args.replications <= MAX_REPLICATIONS:
        raise DomainError("--replications", f"must be 1 to {MAX_REPLICATIONS}, got {args.replications}")
    spec = load_scenarios(args.scenarios)
    if args.out:
        _check_out_folder(Path(args.out))     # before the run, not after minutes of it
    executor = make_executor(args.executor or spec.executor, spec.jobs if args.jobs is None else args.jobs,
                             args.address or spec.address)
    orders = read_orders(args.orders).orders if args.orders else None
    with scenario_bar() as progress:
        result = simulate(spec, orders=orders, replications=args.replications, progress=progress,
                          executor=executor)
    if args.out:
        try:
            written = write_outputs(result, args.out)
        except OSError as exc:     # the folder went away or filled up during the run: say which
            raise DomainError("--out", f"cannot write the results: {exc}") from None
        print(f"written: {', '.join(str(p) for p in written)}", file=sys.stderr)
    print(json.dumps(summary(result), indent=2) if args.json else format_table(result))
    return EXIT_OK


def _check_out_folder(out: Path) -> None:
    """An output folder that can be made (or exists as a folder) and written to."""
    if out.exists() and not out.is_dir():
        raise DomainError("--out", f"{out} is a file, not a folder")
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DomainError("--out", f"cannot write into {parent}")


def cmd_validate_config(args: argparse.Namespace) -> int:
    from ..app.bootstrap import load_components
    from ..app.config import load_config
    from ..app.store_status import inventory_summary

    config = load_config(args.file)
    c = load_components(config)
    kinds: dict[str, int] = {}
    for node in c.network.nodes:
        kinds[node.kind.value] = kinds.get(node.kind.value, 0) + 1
    lim = config.limits
    print(f"{args.file}: OK")
    print(f"  network    {len(c.network)} nodes ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
          f"  from {config.network or 'bundled demo'}")
    print(f"  inventory  {inventory_summary(config, c.store)}")
    print(f"  rates      services {', '.join(s.name for s in c.rate_card.services)}"
          f"  from {config.rates or 'us_network_rate_card()'}")
    print(f"  policies   {', '.join(c.policies)} (default {config.default_policy!r})")
    print(f"  limits     max_lines={lim.max_lines} max_quantity={lim.max_quantity} "
          f"time_budget_ms={lim.time_budget_ms:g}")
    print(f"  server     {config.server.address} max_workers={config.server.max_workers}")
    return EXIT_OK


def cmd_demo_export(args: argparse.Namespace) -> int:
    from ..io.demo import DEMO_FILES, export_demo

    out = Path(args.dir)
    if out.exists() and not out.is_dir():
        raise DomainError("DIR", f"{out} exists and is not a folder")
    taken = [name for name in DEMO_FILES if (out / name).exists()]
    if taken and not args.force:
        raise DomainError("DIR", f"{out} already has {', '.join(taken)}: pass --force to overwrite "
                                 "(edited files would be lost)")
    for path in export_demo(args.dir, seed=args.seed):
        print(path)
    config = Path(args.dir) / "dom.toml"
    print(f"try: dom validate-config {config}", file=sys.stderr)
    return EXIT_OK


def cmd_inventory_load(args: argparse.Namespace) -> int:
    """Validate a stock file against the network, then load it into Redis as a new snapshot."""
    import time

    from ..app.bootstrap import load_stock_file

    config = _config(args.config)
    started = time.perf_counter()
    with progress_bar("rows") as update:
        try:
            rows, version = load_stock_file(config, args.file, redis_url=args.redis, cluster=args.cluster,
                                            progress=update)
        except DomainError as exc:
            if args.redis and exc.field == "store.url":     # the URL came from the command line
                raise type(exc)("--redis", exc.message) from None
            raise
    seconds = time.perf_counter() - started
    print(f"loaded {rows:,} rows from {args.file} as snapshot version {version} in {seconds:.1f} s "
          f"({rows / max(seconds, 1e-9):,.0f} rows/s)", file=sys.stderr)
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 too; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dom", description="dom_engine: cost-optimal order routing.")
    p.add_argument("--version", action="version", version=f"dom_engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("serve", help="run the gRPC server")
    s.add_argument("--config", metavar="FILE", help="config TOML (default: $DOM_CONFIG or the bundled demo)")
    s.add_argument("--address", metavar="HOST:PORT",
                   help="address to listen on (default: [server] address, 127.0.0.1:50051)")
    s.add_argument("--workers", type=int, metavar="N",
                   help="server processes sharing the port (default: [server] workers, \"auto\": one per "
                        "core with the Redis store, 1 with the in-memory store; >1 needs Redis)")
    s.add_argument("--allow-empty-store", action="store_true",
                   help="serve from a shared store that holds no stock yet (default: refuse)")
    s.set_defaults(func=cmd_serve)

    r = sub.add_parser("route", help="route one order file and print the plan")
    r.add_argument("order", metavar="ORDER.json", help="order JSON (native or gRPC proto-JSON form)")
    r.add_argument("--config", metavar="FILE", help="config TOML (default: $DOM_CONFIG or the bundled demo)")
    r.add_argument("--json", action="store_true", help="print the plan as JSON")
    r.add_argument("--policy", metavar="NAME",
                   help="policy profile to use (overrides the order's options.policy)")
    r.add_argument("--reserve", action="store_true", help="also reserve the stock (in the configured store)")
    r.add_argument("--time-budget-ms", type=float, metavar="MS",
                   help="solver time budget (default: [limits])")
    r.set_defaults(func=cmd_route)

    b = sub.add_parser("batch", help="allocate a file of orders jointly and print a summary")
    b.add_argument("orders", metavar="ORDERS",
                   help="orders: .jsonl (one order JSON per line, as `dom route` reads) or .csv / "
                        ".parquet (one row per order line: order_id, line_id, sku, quantity, latitude, "
                        "longitude, ...)")
    b.add_argument("--config", metavar="FILE", help="config TOML (default: $DOM_CONFIG or the bundled demo)")
    b.add_argument("--reserve", action="store_true",
                   help="also reserve every plan (all or nothing per order)")
    b.add_argument("--time-budget-ms", type=float, metavar="MS",
                   help="solver time for the whole batch (default: [batch] time_budget_ms)")
    b.add_argument("--out", metavar="PLANS.jsonl", help="write the plans, one JSON object per line")
    b.add_argument("--json", action="store_true",
                   help="print the summary as JSON (with the plans unless --out is given)")
    b.set_defaults(func=cmd_batch)

    sim = sub.add_parser("simulate", help="what-if: replay orders under scenarios and compare KPIs")
    sim.add_argument("scenarios", metavar="SCENARIOS.toml", help="[base] and [scenarios.NAME] tables")
    sim.add_argument("--orders", metavar="FILE", help="order stream (.jsonl/.csv/.parquet; default: the "
                                                      "file's [base] orders or its generated demand)")
    sim.add_argument("--replications", type=int, metavar="N",
                     help="paired replications (default: [base] replications)")
    sim.add_argument("--out", metavar="DIR",
                     help="write summary.json, kpis.csv, kpis_by_day.csv and outcomes.csv there")
    sim.add_argument("--json", action="store_true", help="print the summary as JSON")
    sim.add_argument("--jobs", type=int, metavar="N",
                     help="local worker processes for the runs (default: [simulation] jobs, 1)")
    sim.add_argument("--executor", choices=("local", "ray"),
                     help="where the runs go (default: [simulation] executor, local)")
    sim.add_argument("--address", metavar="HOST:PORT",
                     help="with --executor ray: the cluster's head (default: a local Ray instance)")
    sim.set_defaults(func=cmd_simulate)

    v = sub.add_parser("validate-config", help="check a config and every file it names")
    v.add_argument("file", metavar="FILE")
    v.set_defaults(func=cmd_validate_config)

    inv = sub.add_parser("inventory", help="stock in the shared store")
    isub = inv.add_subparsers(dest="inventory_command", required=True, parser_class=_Parser)
    ld = isub.add_parser("load", help="load a stock snapshot (.csv/.json/.parquet) into Redis")
    ld.add_argument("file", metavar="FILE", help="rows of node_id, sku, on_hand[, safety_stock]")
    ld.add_argument("--config", metavar="FILE", help="config TOML naming the network and [store]")
    ld.add_argument("--redis", metavar="URL", help="Redis URL (overrides [store]; redis://host:port/db)")
    ld.add_argument("--cluster", action="store_true", help="the URL names a Redis Cluster node")
    ld.set_defaults(func=cmd_inventory_load)

    _add_demo_parser(sub)
    add_token_parser(sub, _Parser)
    add_events_parser(sub, _Parser, "config TOML naming the [store] (default: $DOM_CONFIG)")
    add_prices_parser(sub, "config TOML (default: $DOM_CONFIG)")
    add_returns_parser(sub, "config TOML (default: $DOM_CONFIG)")
    return p


def _add_demo_parser(sub) -> None:
    d = sub.add_parser("demo", help="the bundled demo")
    dsub = d.add_subparsers(dest="demo_command", required=True, parser_class=_Parser)
    e = dsub.add_parser("export", help="write the demo network/inventory/rates/config to DIR")
    e.add_argument("dir", metavar="DIR")
    e.add_argument("--seed", type=int, default=None, help="demo seed (default: the bundled one)")
    e.add_argument("--force", action="store_true", help="overwrite the demo files already in DIR")
    e.set_defaults(func=cmd_demo_export)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dom` console script. Returns the exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "seed", 0) is None:
        from ..io.demo import DEMO_SEED

        args.seed = DEMO_SEED
    try:
        return args.func(args)
    except DomainError as exc:
        print(f"dom {args.command}: error: {exc.field}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except ReservationConflict as exc:
        print(f"dom {args.command}: reservation conflict: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `dom route ... | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if os.environ.get("DOM_DEBUG"):
            raise
        print(f"dom {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(set DOM_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
