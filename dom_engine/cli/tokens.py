"""`dom token new`: a caller token for [server.auth] (only its hash goes into the config)."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK = 0


def add_parser(sub: Any, parser_class: type) -> None:
    t = sub.add_parser("token", help="caller tokens for [server.auth]")
    tsub = t.add_subparsers(dest="token_command", required=True, parser_class=parser_class)
    n = tsub.add_parser("new", help="print a new secret and its [[tokens]] entry (only its hash is kept)")
    n.add_argument("name")
    n.add_argument("--methods", nargs="+", default=["RouteOrder", "ValidateOrder", "RouteBatch"],
                   help='methods it may call, or "*" (default: RouteOrder ValidateOrder RouteBatch)')
    n.add_argument("--reserve", action="store_true", help="may set reserve = true")
    n.set_defaults(func=cmd_token_new)


def cmd_token_new(args: argparse.Namespace) -> int:
    from ..app.tokens import hash_token, new_token, parse_tokens

    secret = new_token()
    entry = {"name": args.name, "sha256": hash_token(secret), "methods": args.methods,
             "reserve": args.reserve}
    parse_tokens([entry], "token")          # the same checks the server makes
    methods = ", ".join(f'"{m}"' for m in args.methods)
    print(f"# give the caller this secret (metadata 'authorization: Bearer <secret>'); it is not stored:\n"
          f"# {secret}\n[[tokens]]\nname = \"{args.name}\"\nsha256 = \"{entry['sha256']}\"\n"
          f"methods = [{methods}]\nreserve = {'true' if args.reserve else 'false'}")
    return EXIT_OK
