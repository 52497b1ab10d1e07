"""Multi-process serving refuses setups that would oversell or split ports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dom_engine.domain import ConfigError
from dom_engine.service.workers import check_workers


@pytest.mark.parametrize("workers, shared, address, field", [
    (0, True, "127.0.0.1:50051", "server.workers"),
    (2, False, "127.0.0.1:50051", "server.workers"),
    (2, True, "127.0.0.1:0", "server.address"),
])
def test_bad_worker_setups_name_the_setting(workers, shared, address, field):
    with pytest.raises(ConfigError) as err:
        check_workers(workers, shared, address)
    assert err.value.field == field


def test_one_worker_is_always_fine():
    check_workers(1, False, "127.0.0.1:0")


def test_cli_refuses_several_workers_on_memory_stock():
    result = subprocess.run([sys.executable, "-m", "dom_engine", "serve", "--workers", "2",
                             "--address", "127.0.0.1:50999"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "server.workers" in result.stderr and "Redis" in result.stderr
