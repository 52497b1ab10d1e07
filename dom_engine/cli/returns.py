"""`dom route-return RETURN.json`: where a return goes (sites, routes, dispositions, net cost)."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK = 0


def add_parser(sub: Any, config_help: str) -> None:
    r = sub.add_parser("route-return", help="route one return file and print where it goes")
    r.add_argument("file", metavar="RETURN.json")
    r.add_argument("--config", metavar="FILE", help=config_help)
    r.add_argument("--json", action="store_true", help="print the plan as JSON")
    r.add_argument("--time-budget-ms", type=float, default=None, metavar="MS")
    r.set_defaults(func=cmd_route_return)


def cmd_route_return(args: argparse.Namespace) -> int:
    from ..app.bootstrap import build_engine
    from ..app.config import load_config
    from ..domain import DomainError
    from ..io.return_json import load_return
    from ..io.return_render import format_return_plan, return_plan_to_json

    request = load_return(args.file)
    if args.time_budget_ms is not None and not args.time_budget_ms > 0:
        raise DomainError("--time-budget-ms", f"must be > 0, got {args.time_budget_ms}")
    plan = build_engine(load_config(args.config)).route_return(request, time_budget_ms=args.time_budget_ms)
    print(return_plan_to_json(plan) if args.json else format_return_plan(plan))
    return EXIT_OK
