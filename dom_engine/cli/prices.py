"""`dom prices refresh | show`: inventory-aware routing's opportunity prices in the configured
store (computed from the [opportunity] forecast, or --forecast FILE)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

EXIT_OK, EXIT_ERROR = 0, 1


def add_parser(sub: Any, config_help: str) -> None:
    pr = sub.add_parser("prices", help="opportunity prices for inventory-aware policies")
    psub = pr.add_subparsers(dest="prices_command", required=True, parser_class=type(pr))
    refresh = psub.add_parser("refresh", help="compute prices from a forecast and publish them in the store")
    refresh.add_argument("--forecast", metavar="FILE",
                         help='JSON lines {"expected": N, "order": {...}} (default: [opportunity] forecast)')
    refresh.add_argument("--time-budget-s", type=float, default=None, metavar="S",
                         help="stop computing after S seconds (default: [opportunity] time_budget_s)")
    show = psub.add_parser("show", help="print the current prices' summary")
    for p in (refresh, show):
        p.add_argument("--config", metavar="FILE", help=config_help)
        p.add_argument("--top", type=int, default=10, metavar="N", help="dearest (node, SKU) prices to list")
    refresh.set_defaults(func=cmd_refresh)
    show.set_defaults(func=cmd_show)


def _engine(args: argparse.Namespace):
    from ..app.bootstrap import build_engine
    from ..app.config import load_config

    return build_engine(load_config(args.config))


def cmd_refresh(args: argparse.Namespace) -> int:
    engine = _engine(args)
    forecast = None
    if args.forecast:
        from ..io.forecast_file import read_forecast

        forecast = read_forecast(args.forecast, engine.opportunity_config.horizon_days)
    got = engine.refresh_prices(forecast, args.time_budget_s)
    f = got.fluid
    print(f"{got.prototypes:,} prototypes ({got.skipped:,} left out: unknown SKUs), "
          f"{f.rounds} rounds, {f.columns:,} plans, {f.seconds:.2f} s; fluid LP {f.objective:,.2f}, "
          f"bound {f.lower_bound:,.2f} ({'converged' if f.converged else 'NOT converged: budget'})")
    _summary(got.prices, args.top)
    return EXIT_OK if f.converged else EXIT_ERROR


def cmd_show(args: argparse.Namespace) -> int:
    prices = _engine(args).store.current_prices()
    if prices is None:
        print("no prices published (dom prices refresh)", file=sys.stderr)
        return EXIT_ERROR
    _summary(prices, args.top)
    return EXIT_OK


def _summary(prices, top: int) -> None:
    v = prices.values
    when = f"{prices.computed_at:%Y-%m-%d %H:%M:%S %Z}"
    print(f"prices of snapshot {prices.snapshot_version}, computed {when}, "
          f"horizon {prices.horizon_days:g} days: {int((v > 0).sum()):,} of {v.size:,} (node, SKU) "
          f"pairs priced above 0")
    for flat in np.argsort(-v, axis=None)[:max(0, top)]:
        n, k = np.unravel_index(flat, v.shape)
        if v[n, k] <= 0:
            break
        print(f"  {prices.node_ids[n]:<12} {prices.skus[k]:<16} {v[n, k]:10.4f}")
