"""The gRPC front end of the engine (dom.v1.RoutingService, protos/dom/v1/routing.proto).

- `server.build_server(engine, address, max_workers)` -> (grpc.Server, port), `server.serve(...)`;
- `servicer.RoutingServicer`: parse -> Engine -> convert, nothing else;
- `converters`: proto <-> domain, errors naming request field paths;
- `errors.ErrorMappingInterceptor`: the one place exceptions become gRPC statuses.
"""

from .server import build_server, serve

__all__ = ["build_server", "serve"]
