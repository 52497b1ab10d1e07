"""Caller tokens for the gRPC server ([server.auth]): each a name, the SHA-256 of its secret (the
secret itself is never stored: tokens are long random strings, `dom token new NAME` makes one),
the methods it may call and whether it may reserve stock. A tokens file (TOML, `[[tokens]]`
entries) is read again when it changes, checked at most once a second, or on reload() (SIGHUP in
`dom serve`), so tokens rotate without a restart; a file that no longer parses keeps the tokens
in force and logs why."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain import ConfigError
from ..io.tables import Table, read_toml

log = logging.getLogger("dom_engine.service")

METHODS = frozenset({"RouteOrder", "ValidateOrder", "RejectShipment", "RouteBatch", "UpsertInventory",
                     "GetReservation", "CommitReservation", "ReleaseReservation", "GetPlan", "ListEvents",
                     "RouteReturn", "CommitReturn"})
RELOAD_CHECK_S = 1.0


@dataclass(frozen=True)
class Token:
    """One caller: its name (logged), the SHA-256 of its secret, what it may call."""

    name: str
    sha256: str
    methods: frozenset[str]        # method names, or "*" for every one
    reserve: bool = False          # may set reserve = true on RouteOrder / RouteBatch

    def may_call(self, method: str) -> bool:
        return "*" in self.methods or method in self.methods


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def parse_tokens(entries: Sequence[Any], where: str) -> tuple[Token, ...]:
    """Token entries ({name, sha256, methods, reserve}) checked, errors naming `where[k].key`."""
    tokens: list[Token] = []
    for k, raw in enumerate(entries):
        t = Table(raw, f"{where}[{k}]")
        name, digest = t.get("name", str, ""), t.get("sha256", str, "").lower()
        methods = t.get("methods", list, [])
        reserve = t.get("reserve", bool, False)
        t.done()
        if not name:
            raise ConfigError(t.key("name"), "must name the caller")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(t.key("sha256"), "must be the 64 hex digits of the token's SHA-256 "
                                               "(`dom token new NAME` prints one)")
        unknown = [m for m in methods if m != "*" and m not in METHODS]
        if not methods or unknown or not all(isinstance(m, str) for m in methods):
            raise ConfigError(t.key("methods"), f"must list methods of {sorted(METHODS)} or \"*\", "
                                                f"got {methods!r}")
        if any(tok.name == name for tok in tokens):
            raise ConfigError(t.key("name"), f"token name {name!r} appears twice")
        tokens.append(Token(name, digest, frozenset(methods), reserve))
    if not tokens:
        raise ConfigError(where, "no tokens: every call would be refused")
    return tuple(tokens)


def load_token_file(path: Path) -> tuple[Token, ...]:
    data = read_toml(path)
    root = Table(data, "")
    entries = root.get("tokens", list, [])
    root.done()
    return parse_tokens(entries, f"{path} tokens")


class TokenAuth:
    """The tokens in force: inline ones, or a file's, re-read when it changes."""

    def __init__(self, tokens: Sequence[Token] = (), path: Path | None = None) -> None:
        self._path = path
        self._tokens = tuple(tokens) if path is None else load_token_file(path)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def tokens(self) -> tuple[Token, ...]:
        self._maybe_reload()
        return self._tokens

    def describe(self) -> str:
        where = f"from {self._path}" if self._path else "from the config"
        return f"bearer tokens ({len(self._tokens)} {where})"

    def identify(self, secret: str) -> Token | None:
        """The token whose hash matches `secret`'s, or None. Every entry is compared (in constant
        time), so the time taken says nothing about which one was close."""
        digest = hash_token(secret).encode()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(digest, token.sha256.encode()):
                found = token
        return found

    def reload(self) -> None:
        """Read the tokens file again now (SIGHUP); on error keep the tokens in force."""
        if self._path is None:
            return
        with self._lock:
            self._load()

    def _maybe_reload(self) -> None:
        if self._path is None or time.monotonic() - self._checked < RELOAD_CHECK_S:
            return
        with self._lock:
            self._checked = time.monotonic()
            if self._file_stamp() != self._stamp:
                self._load()

    def _load(self) -> None:
        assert self._path is not None
        stamp = self._file_stamp()
        try:
            self._tokens = load_token_file(self._path)
            log.info("tokens reloaded from %s: %d token(s)", self._path, len(self._tokens))
        except (ConfigError, OSError) as exc:
            log.error("tokens file %s not reloaded, the previous tokens stay in force: %s", self._path, exc)
        self._stamp = stamp

    def _file_stamp(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size


