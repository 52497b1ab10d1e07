"""dom_engine/_proto/ is exactly what scripts/gen_protos.py makes from protos/: nobody hand-edits it
and nobody forgets to regenerate after changing a .proto."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "dom_engine" / "_proto"
FIELD = re.compile(r"[\w.]+(\s+[\w.]+)*\s*=\s*\d+;")  # a field or enum value declaration


def test_generated_code_matches_protos() -> None:
    # A subprocess: grpc_tools' bundled protoc aborts the interpreter when loaded next to the
    # grpc/protobuf extensions this test session already holds.
    try:
        installed = version("grpcio-tools")
    except PackageNotFoundError:
        pytest.skip("grpcio-tools (test extra) is needed to regenerate the code")
    stamp = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'",
                      (COMMITTED / "dom" / "v1" / "routing_pb2_grpc.py").read_text())
    assert stamp is not None
    if installed != stamp.group(1):
        pytest.skip(f"committed code was made by grpcio-tools {stamp.group(1)}, installed is {installed}: "
                    "the output differs in version stamps")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"dom_engine/_proto is stale:\n{result.stdout}{result.stderr}"


def test_generated_modules_import_as_package_modules() -> None:
    from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
    from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb

    assert routing_pb.DESCRIPTOR.name == "dom/v1/routing.proto"
    assert routing_pb.DESCRIPTOR.package == "dom.v1"
    assert hasattr(routing_grpc_pb, "RoutingServiceStub")
    text = (COMMITTED / "dom" / "v1" / "routing_pb2_grpc.py").read_text()
    assert re.search(r"^from dom\.", text, re.MULTILINE) is None  # no bare top-level `dom` imports


def test_every_proto_field_is_documented() -> None:
    """House rule: every message, field, enum value and RPC in protos/ carries a comment above it."""
    undocumented = []
    for proto in sorted((ROOT / "protos").rglob("*.proto")):
        lines = proto.read_text().splitlines()
        for i, line in enumerate(lines):
            s = line.strip()
            declares = re.match(r"(message|enum|service|rpc)\s", s) or FIELD.match(s)
            if declares and not lines[i - 1].strip().startswith("//"):
                undocumented.append(f"{proto.name}:{i + 1}: {s}")
    assert undocumented == []
