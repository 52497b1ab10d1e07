"""Fault injection for RedisStore tests: lose a script call's request or reply, or run something
just before it, by wrapping the store's `_ops.run` (every script call goes through it)."""

from __future__ import annotations

import redis

LOST = redis.exceptions.ConnectionError("connection lost")


def wrap_ops_run(monkeypatch, store, when, *, before: bool = False, action=None) -> dict:
    """Wrap store._ops.run: for a call where `when(name, keys)` holds, run `action()` first if
    given, else raise LOST before the call (`before`: the request is lost) or after it (the call
    ran on Redis, its reply is lost). Returns a counter of the calls it intercepted."""
    real_run = store._ops.run
    hits = {"n": 0}

    def run(name, keys, args, client=None):
        if not when(name, keys):
            return real_run(name, keys, args, client)
        hits["n"] += 1
        if action is not None:
            action()
            return real_run(name, keys, args, client)
        if before:
            raise LOST
        real_run(name, keys, args, client)
        raise LOST

    monkeypatch.setattr(store._ops, "run", run)
    return hits
