"""Where column generation's pricing runs: threads of this process, or Ray actors.

Both run the same compiled kernel (compiled_pricing.price) on chunks of the orders to price and
return the chunks' answers in order, so the plans and the bound do not depend on the executor.
The parent keeps the dual, the rows, the pools and the rounding; a worker keeps the wave's
PricingStore between rounds and receives only the prices and the orders of each round.

- `threads` (default): the kernel releases the GIL, so `workers` threads use that many cores.
- `ray` (`[batch] executor = "ray"`, the `ray` extra): one actor per worker, each holding the
  store, on a local Ray instance or the cluster `ray_address` names: for waves whose pricing
  outgrows one machine.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ...domain import ConfigError
from ...domain.stop import StoppingCriterion
from ..ray_cluster import connect, import_ray
from .compiled_pricing import NO_LEFT, Priced, PricingStore, price

log = logging.getLogger(__name__)

# Orders per chunk: small enough that a chunk ends soon after the deadline (~40 us each), large
# enough that dispatching it costs little against its work.
CHUNK = 256


class Pricer(Protocol):
    def price(self, todo: np.ndarray, lam: np.ndarray, incumbent: np.ndarray, max_sets: int,
              deadline: StoppingCriterion, left: np.ndarray = NO_LEFT, keep: int = 0) -> Priced | None:
        """The answers for the store orders `todo` (see compiled_pricing.price); None when the
        deadline came first."""
        ...

    def close(self) -> None:
        ...


def _chunks(n: int) -> list[slice]:
    return [slice(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)]


FIELDS = ("status", "best", "bound", "options", "x", "short", "kept_cost", "kept_sets")


def _joined(todo: np.ndarray, parts: list[Priced]) -> Priced:
    if not parts:
        return price_nothing(todo)
    return Priced(todo, *(np.concatenate([getattr(p, name) for p in parts])
                          for name in FIELDS))


def price_nothing(todo: np.ndarray) -> Priced:
    n = len(todo)
    return Priced(todo, np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n),
                  np.zeros((n, 1), dtype=np.int64), np.zeros((n, 1, 1), dtype=np.int64),
                  np.zeros((n, 1), dtype=np.int64), np.zeros((n, 0)), np.zeros((n, 0, 1), dtype=np.int64))


class ThreadPricer:
    """Chunks on a pool of `workers` threads (the kernel runs without the GIL)."""

    def __init__(self, store: PricingStore, workers: int) -> None:
        self.store = store
        self.workers = max(1, workers)
        self.pool = (ThreadPoolExecutor(self.workers, thread_name_prefix="dom-pricing")
                     if self.workers > 1 else None)

    def price(self, todo: np.ndarray, lam: np.ndarray, incumbent: np.ndarray, max_sets: int,
              deadline: StoppingCriterion, left: np.ndarray = NO_LEFT, keep: int = 0) -> Priced | None:
        parts: list[Priced] = []
        if self.pool is None:
            for s in _chunks(len(todo)):
                if deadline.expired():
                    return None
                parts.append(price(self.store, todo[s], lam, incumbent[s], max_sets, left, keep))
            return _joined(todo, parts)
        futures = [self.pool.submit(price, self.store, todo[s], lam, incumbent[s], max_sets, left, keep)
                   for s in _chunks(len(todo))]
        for k, fut in enumerate(futures):
            if deadline.expired():
                for rest in futures[k:]:
                    rest.cancel()
                return None
            parts.append(fut.result())
        return _joined(todo, parts)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class RayPricer:
    """Chunks on `workers` Ray actors, each holding the store (sent once)."""

    def __init__(self, store: PricingStore, workers: int, address: str = "") -> None:
        ray = import_ray("batch.executor")
        self.started_here = not ray.is_initialized()
        if self.started_here:
            connect(ray, address, "batch.ray_address")
        self.ray = ray
        store_ref = ray.put(store)
        actor = ray.remote(_PricingActor)
        self.actors = [actor.remote(store_ref) for _ in range(max(1, workers))]

    def price(self, todo: np.ndarray, lam: np.ndarray, incumbent: np.ndarray, max_sets: int,
              deadline: StoppingCriterion, left: np.ndarray = NO_LEFT, keep: int = 0) -> Priced | None:
        lam_ref, left_ref = self.ray.put(lam), self.ray.put(left)
        refs = [self.actors[k % len(self.actors)].price.remote(todo[s], lam_ref, incumbent[s], max_sets,
                                                               left_ref, keep)
                for k, s in enumerate(_chunks(len(todo)))]
        parts: list[Priced] = []
        for k, ref in enumerate(refs):
            while True:
                remaining = deadline.remaining_s()
                if remaining <= 0:
                    for rest in refs[k:]:
                        self.ray.cancel(rest)
                    return None
                ready, _ = self.ray.wait([ref], timeout=min(remaining, 0.05))
                if ready:
                    break
            parts.append(self.ray.get(ref))
        return _joined(todo, parts)

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started_here:
            self.ray.shutdown()


class _PricingActor:
    def __init__(self, store: PricingStore) -> None:
        from .compiled_pricing import warm_up_batch

        warm_up_batch()
        self.store = store

    def price(self, todo: np.ndarray, lam: np.ndarray, incumbent: np.ndarray, max_sets: int,
              left: np.ndarray, keep: int) -> Priced:
        return price(self.store, todo, lam, incumbent, max_sets, left, keep)


@dataclass(frozen=True)
class ExecutorSpec:
    """Where pricing runs ([batch] executor, pricing_workers, ray_address)."""

    kind: str = "threads"
    workers: int = 0          # 0: one per core
    address: str = ""         # Ray: a cluster's address; "" starts a local instance


def make_pricer(store: PricingStore, executor: str, workers: int, address: str = "") -> Any:
    """The pricer the `[batch]` settings name ("threads" or "ray"); workers 0 = every core."""
    n = workers or (os.cpu_count() or 1)
    if executor == "ray":
        try:
            return RayPricer(store, n, address)
        except ConfigError as exc:
            # Where pricing runs changes its speed, never its answers: price here rather than fail.
            log.warning("batch pricing on threads: Ray is not usable (%s)", exc)
            return ThreadPricer(store, n)
    if executor == "threads":
        return ThreadPricer(store, n)
    raise ConfigError("batch.executor", f'must be "threads" or "ray", got {executor!r}')
