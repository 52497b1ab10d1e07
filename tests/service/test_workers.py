"""Multi-process serving refuses setups that would oversell or split ports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dom_engine.app.config import load_config
from dom_engine.app.server_config import MAX_AUTO_WORKERS, effective_workers
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


def test_auto_workers_is_one_per_core_only_with_the_shared_store(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2})
    assert effective_workers(None, True, "127.0.0.1:50051") == 3
    assert effective_workers(None, False, "127.0.0.1:50051") == 1   # in-memory stock is per process
    assert effective_workers(None, True, "127.0.0.1:0") == 1        # processes need one fixed port
    assert effective_workers(1, True, "127.0.0.1:50051") == 1       # configured wins
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)))
    assert effective_workers(None, True, "127.0.0.1:50051") == MAX_AUTO_WORKERS


@pytest.mark.parametrize("text, workers", [("", None), ('workers = "auto"', None), ("workers = 3", 3)])
def test_workers_key_takes_a_number_or_auto(tmp_path, text, workers):
    path = tmp_path / "dom.toml"
    path.write_text(f"[server]\n{text}\n")
    assert load_config(path, env={}).server.workers == workers
    assert load_config(None, env={"DOM_SERVER_WORKERS": "2"}).server.workers == 2
    assert load_config(None, env={"DOM_SERVER_WORKERS": "auto"}).server.workers is None


@pytest.mark.parametrize("text", ['workers = "many"', "workers = 0", "workers = 1.5"])
def test_bad_workers_key_is_named(tmp_path, text):
    path = tmp_path / "dom.toml"
    path.write_text(f"[server]\n{text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert err.value.field == "server.workers"
    with pytest.raises(ConfigError) as err:
        load_config(None, env={"DOM_SERVER_WORKERS": "lots"})
    assert "DOM_SERVER_WORKERS" in str(err.value.field)
