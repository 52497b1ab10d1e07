"""`dom events tail | export`: the decision log of the configured (Redis) store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0


def add_parser(sub: Any, parser_class: type, config_help: str) -> None:
    ev = sub.add_parser("events", help="the decision log (what was decided for each order)")
    esub = ev.add_subparsers(dest="events_command", required=True, parser_class=parser_class)
    tail = esub.add_parser("tail", help="print the latest events (--follow: and new ones as they come)")
    export = esub.add_parser("export", help="write events to Parquet (and the orders routed, for replay)")
    export.add_argument("out", metavar="EVENTS.parquet")
    export.add_argument("--orders", metavar="ORDERS.jsonl",
                        help="also write the orders of the live decisions as an order stream "
                             "(`dom simulate --orders`, `dom batch`)")
    for p in (tail, export):
        p.add_argument("--config", metavar="FILE", help=config_help)
        p.add_argument("--order", metavar="ID", default="", help="only this order's events")
        p.add_argument("--kind", action="append", default=[], metavar="KIND",
                       help="only events of this kind (repeatable): route, reject, batch, shadow, held, "
                            "extended, committed, released")
    tail.add_argument("-n", "--limit", type=int, default=20, metavar="N", help="events to print (default 20)")
    tail.add_argument("--follow", action="store_true", help="keep printing new events (Ctrl-C stops)")
    tail.add_argument("--json", action="store_true", help="one JSON object per event")
    tail.set_defaults(func=cmd_tail)
    export.set_defaults(func=cmd_export)


def _open(args: argparse.Namespace):
    from ..app.config import load_config
    from ..app.event_export import log_of
    from ..domain import ValidationError
    from ..domain.events import KINDS

    for kind in args.kind:
        if kind not in KINDS:
            raise ValidationError("--kind", f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    return log_of(load_config(args.config))


def _line(event, as_json: bool) -> str:
    if as_json:
        from ..app.event_export import event_dict

        return json.dumps(event_dict(event))
    nodes = ",".join(event.nodes) or "-"
    cost = f" cost {event.total_cost:,.2f}" if event.kind in ("route", "reject", "batch", "shadow") else ""
    return (f"{event.event_id}  {event.at:%Y-%m-%d %H:%M:%S}  {event.kind:<9} {event.order_id}  "
            f"{event.status}{cost}  nodes {nodes}"
            + (f"  policy {event.policy}" if event.policy else "")
            + (f"  reservation {event.reservation_id}" if event.reservation_id else ""))


def cmd_tail(args: argparse.Namespace) -> int:
    from ..app.event_export import all_events, matches
    from ..domain import ValidationError

    if args.limit < 1:
        raise ValidationError("--limit", f"must be >= 1, got {args.limit}")
    log = _open(args)
    events = list(all_events(log, order_id=args.order, kinds=args.kind))[-args.limit:]
    for event in events:
        print(_line(event, args.json), flush=True)
    if not args.follow:
        return EXIT_OK
    after = events[-1].event_id if events else "$"
    try:
        while True:
            for event in log.follow(after, 1000):   # type: ignore[attr-defined]
                after = event.event_id
                if matches(event, args.order, args.kind):
                    print(_line(event, args.json), flush=True)
    except KeyboardInterrupt:
        return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from ..app.event_export import all_events, export_orders, export_parquet

    events = list(all_events(_open(args), order_id=args.order, kinds=args.kind))
    rows = export_parquet(events, args.out)
    print(f"wrote {rows:,} events to {args.out}", file=sys.stderr)
    if args.orders:
        n = export_orders(events, args.orders)
        print(f"wrote {n:,} orders to {args.orders} (replay: dom simulate SCENARIOS.toml --orders "
              f"{args.orders})", file=sys.stderr)
    return EXIT_OK
