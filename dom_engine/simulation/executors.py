"""Where a simulation's runs go: every (scenario, replication) run is an independent task, so they
spread over a local process pool (`--jobs N`) or a Ray cluster (`--executor ray`). Each worker
prepares the scenario file once (network, worlds, stream) and runs its tasks with run_task; the
results are the same as in one process for the same seeds (runs are deterministic, only where they
run changes).

From a Python script, call simulate with a LocalPool under `if __name__ == "__main__":` (spawned
workers import the main module again); `dom simulate` and notebooks need nothing.

Ray is an optional extra (`pip install dom-engine[ray]`): imported only when asked for."""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from ..domain import ConfigError, Order
from ..optimize.ray_cluster import connect, import_ray
from .scenarios import MAX_JOBS, ScenarioFile
from .simulate import Prepared, Progress, TaskResult, prepare, run_task

# A worker's prepared simulation, keyed by what it was prepared from (a Ray worker process may
# serve several simulations in turn).
_prepared: dict[str, Prepared] = {}


def _prepared_for(key: str, spec: ScenarioFile, orders: Sequence[Order] | None) -> Prepared:
    if key not in _prepared:
        _prepared.clear()
        _prepared[key] = prepare(spec, orders)
    return _prepared[key]


def _key(spec: ScenarioFile, orders: Sequence[Order] | None) -> str:
    return hashlib.sha256(pickle.dumps((spec, orders))).hexdigest()


def _pool_init(key: str, spec: ScenarioFile, orders: Sequence[Order] | None) -> None:
    _prepared_for(key, spec, orders)


def _pool_task(key: str, k: int, r: int, keep: bool) -> TaskResult:
    return run_task(_prepared[key], k, r, keep)


@dataclass(frozen=True)
class LocalPool:
    """`jobs` worker processes on this machine (spawned: a clean interpreter each, no inherited
    threads or locks)."""

    jobs: int

    def __post_init__(self) -> None:
        if not 1 <= self.jobs <= MAX_JOBS:
            raise ConfigError("--jobs", f"must be 1 to {MAX_JOBS}, got {self.jobs}")

    def run(self, spec: ScenarioFile, orders: Sequence[Order] | None, tasks: Sequence[tuple[int, int]],
            keep: bool, progress: Progress | None) -> Iterator[TaskResult]:
        key = _key(spec, orders)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.jobs, len(tasks)), mp_context=context, initializer=_pool_init,
                                 initargs=(key, spec, orders)) as pool:
            futures = [pool.submit(_pool_task, key, k, r, keep) for r, k in tasks]
            for future in as_completed(futures):
                done = future.result()
                futures.remove(future)      # its result (outcomes included) is the caller's now
                _report(progress, done)
                yield done


@dataclass(frozen=True)
class RayExecutor:
    """Tasks as Ray remote calls: on the cluster at `address` ("host:port" of a running head), or
    on a local Ray instance started for the run when None. The scenario file and the stream go to
    the object store once."""

    address: str | None = None

    def run(self, spec: ScenarioFile, orders: Sequence[Order] | None, tasks: Sequence[tuple[int, int]],
            keep: bool, progress: Progress | None) -> Iterator[TaskResult]:
        ray = import_ray("--executor")
        started_here = not ray.is_initialized()
        if started_here:
            connect(ray, self.address, "--address")
        try:
            remote = ray.remote(_ray_task)
            key = _key(spec, orders)
            spec_ref, orders_ref = ray.put(spec), ray.put(orders)
            pending = [remote.remote(key, spec_ref, orders_ref, k, r, keep) for r, k in tasks]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done = ray.get(ready[0])
                _report(progress, done)
                yield done
        finally:
            if started_here:
                ray.shutdown()


def _ray_task(key: str, spec: ScenarioFile, orders: Sequence[Order] | None, k: int, r: int,
              keep: bool) -> TaskResult:
    return run_task(_prepared_for(key, spec, orders), k, r, keep)


def _report(progress: Progress | None, done: TaskResult) -> None:
    if progress is not None:
        n = int(done.kpis["orders"])
        progress(done.scenario, done.replication, n, n)


def make_executor(name: str, jobs: int = 1, address: str | None = None) -> LocalPool | RayExecutor | None:
    """The executor named on the command line or in [simulation]: "local" with jobs > 1 is a
    process pool, with 1 job None (in this process); "ray" joins `address` or starts Ray here."""
    if name == "ray":
        return RayExecutor(address)
    if name != "local":
        raise ConfigError("--executor", f'must be "local" or "ray", got {name!r}')
    if address is not None:
        raise ConfigError("--address", 'only applies with --executor ray')
    return LocalPool(jobs) if jobs != 1 else None
