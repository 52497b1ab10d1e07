"""The shipped testing helpers (temporalio's `testing/` is the model): seeded instance builders and a
ready-to-use in-memory engine, for this project's tests and benchmarks and for users' own tests.
"""

from .builders import (
    FIXED_NOW,
    BatchInstance,
    Instance,
    banded_rate_card,
    promise,
    random_batch,
    random_instance,
    random_network,
    random_order,
    random_stock,
)
from .engines import demo_engine
from .networks import abc_network, numbered_skus, row_network

__all__ = ["FIXED_NOW", "BatchInstance", "Instance", "abc_network", "banded_rate_card", "demo_engine",
           "numbered_skus", "promise", "random_batch", "random_instance", "random_network", "random_order",
           "random_stock", "row_network"]
