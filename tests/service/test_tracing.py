"""OpenTelemetry tracing: one server span per RPC continuing the caller's traceparent, with the
engine's store and solver spans as children; and end to end, `dom serve` exporting over OTLP gRPC
to a real (loopback) collector endpoint before it exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dom_engine._proto.dom.v1 import routing_pb2 as routing_pb
from dom_engine._proto.dom.v1 import routing_pb2_grpc as routing_grpc_pb
from dom_engine.app import tracing
from dom_engine.app.config import load_config
from dom_engine.domain import ConfigError
from dom_engine.service.server import build_server
from tests.redis_servers import free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = (("traceparent", f"00-{TRACE_ID}-{CALLER_SPAN}-01"),)


@pytest.fixture
def traced(make_engine):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    server, port = build_server(make_engine(), "127.0.0.1:0", max_workers=2)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            yield routing_grpc_pb.RoutingServiceStub(ch), exporter
    finally:
        server.stop(None)
        tracing.use_provider(None)


def test_a_span_per_call_continues_the_callers_trace_with_engine_children(traced, valid_request):
    stub, exporter = traced
    stub.RouteOrder(valid_request("tr-1", reserve=True), metadata=TRACEPARENT, timeout=10)
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.name == "dom.v1.RoutingService/RouteOrder"]
    assert len(server) == 1
    call = server[0]
    assert format(call.context.trace_id, "032x") == TRACE_ID
    assert format(call.parent.span_id, "016x") == CALLER_SPAN
    assert call.attributes["rpc.method"] == "RouteOrder" and call.attributes["rpc.grpc.status_code"] == 0
    children = {s.name: s for s in spans if s.parent is not None and s.parent.span_id == call.context.span_id}
    assert {"store.read", "solve", "store.reserve"} <= set(children)
    assert "store.reservation_lookup" not in children     # only a retry that holds nothing looks up
    assert children["solve"].attributes["status"] == "OPTIMAL"
    assert all(s.context.trace_id == call.context.trace_id for s in spans)


def test_a_refused_call_is_an_error_span(traced):
    stub, exporter = traced
    with pytest.raises(grpc.RpcError):
        stub.RouteOrder(routing_pb.RouteOrderRequest(order=routing_pb.Order(order_id="x")), timeout=10)
    (call,) = [s for s in exporter.get_finished_spans() if s.name.endswith("/RouteOrder")]
    assert call.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert call.status.status_code.name == "ERROR"


def test_tracing_keys_are_checked(tmp_path):
    bad = tmp_path / "dom.toml"
    for text, field in (("[tracing]\nsample_ratio = 2.0\n", "tracing.sample_ratio"),
                        ('[tracing]\nendpoint = "127.0.0.1:4317"\n', "tracing.endpoint"),
                        ("[tracing]\nenable = true\n", "tracing.enable")):
        bad.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_config(bad, env={})
        assert err.value.field == field


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802 (gRPC method name)
        with self.lock:
            self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_dom_serve_exports_spans_over_otlp_before_it_exits(tmp_path):
    collector = _Collector()
    sink = grpc.server(futures.ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, sink)
    sink_port = sink.add_insecure_port("127.0.0.1:0")
    sink.start()
    config = tmp_path / "dom.toml"
    config.write_text(f'[tracing]\nenabled = true\nendpoint = "http://127.0.0.1:{sink_port}"\n'
                      'service_name = "dom-engine-test"\n')
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOM_", "OTEL_"))}
    proc = subprocess.Popen([sys.executable, "-m", "dom_engine", "serve", "--config", str(config),
                             "--address", f"127.0.0.1:{port}"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            grpc.channel_ready_future(ch).result(timeout=120)
            order = routing_pb.Order(order_id="OTLP-1", lines=[routing_pb.Line(line_id="1", sku="SKU-00001",
                                                                               quantity=1)],
                                     destination=routing_pb.Destination(latitude=40.7, longitude=-74.0))
            routing_grpc_pb.RoutingServiceStub(ch).RouteOrder(routing_pb.RouteOrderRequest(order=order),
                                                              metadata=TRACEPARENT, timeout=30)
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        sink.stop(None)
    assert proc.returncode == 0, err
    spans = [(span, resource) for request in collector.requests for resource in request.resource_spans
             for scope in resource.scope_spans for span in scope.spans]
    names = {span.name for span, _ in spans if span.trace_id.hex() == TRACE_ID}
    assert {"dom.v1.RoutingService/RouteOrder", "store.read", "solve"} <= names
    services = {a.value.string_value for _, r in spans for a in r.resource.attributes
                if a.key == "service.name"}
    assert services == {"dom-engine-test"}
