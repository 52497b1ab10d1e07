"""The deployment files agree with the code: requirements.lock pins every runtime dependency within
pyproject's ranges (and what they pull in, so the image installs nothing unpinned), the compose
file's config loads and names its Redis, its mounts exist, and the Dockerfile installs the lock.
(Building the image needs a Docker daemon, which the test machines do not have.)"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dom_engine.app.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_lock_pins_every_runtime_dependency_within_its_range():
    pins = _lock()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [Requirement(d) for d in project["dependencies"]]
    for dep in deps:
        name = canonicalize_name(dep.name)
        assert name in pins, f"{dep.name} is not in requirements.lock"
        assert dep.specifier.contains(pins[name], prereleases=True), f"{dep.name}=={pins[name]} not in {dep}"


def test_compose_stack_is_consistent():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "engine", "prometheus", "stock"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    config = load_config(ROOT / "deploy" / "dom.toml", env={})
    assert config.store.shared and config.store.url == "redis://redis:6379/0"
    assert config.server.workers == 2 and config.server.metrics_address == "0.0.0.0:9464"
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["engine:9464"]


def test_dockerfile_installs_the_lock_on_a_pinned_python():
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" in text and "pip install --no-deps ." in text
    assert "ARG PYTHON_IMAGE=python:3.11." in text and "FROM ${PYTHON_IMAGE}" in text
