"""Joining Ray for the optional executors (the simulation's runs, a batch's pricing): Ray is an
optional extra (`pip install dom-engine[ray]`), imported only when asked for."""

from __future__ import annotations

import socket
from typing import Any

from ..domain import ConfigError

# Seconds a Ray head gets to answer before its address is called unreachable.
RAY_CONNECT_TIMEOUT_S = 5.0


def import_ray(key: str) -> Any:
    """The ray module; a ConfigError naming `key` (the setting that asked for Ray) without it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(key, 'Ray is not installed: pip install "dom-engine[ray]"') from None
    return ray


def connect(ray: Any, address: str | None, key: str) -> None:
    """Start a local Ray instance (address None, "" or "local"), or join the cluster at `address`
    after checking that something answers there (ray.init would otherwise wait a long time on a
    dead address); a bad or silent address is a ConfigError naming `key`."""
    if not address or address == "local":
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(key, f'must be "host:port" of a Ray head, got {address!r}')
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(key, f"no Ray cluster answers at {address} ({exc})") from None
    ray.init(address=address, log_to_driver=False, configure_logging=False)
