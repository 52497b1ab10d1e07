# dom_engine gRPC service. Build: docker build -t dom-engine .
# Run the bundled demo:  docker run -p 50051:50051 dom-engine
# Own data:              docker run -v $PWD/conf:/conf -p 50051:50051 dom-engine \
#                            dom serve --config /conf/dom.toml --address 0.0.0.0:50051
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dom_engine ./dom_engine
# The warm-up compiles the batch kernels into numba's cache now (root can write it here), so the
# server only loads them (~0.3 s) instead of compiling (~10 s) on every container start.
RUN pip install . && useradd --create-home dom \
    && python -c "from dom_engine.optimize.compiled_search import warm_up; warm_up()"
COPY examples ./examples
USER dom
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; c=grpc.insecure_channel('127.0.0.1:50051'); print(g.HealthStub(c).Check(h.HealthCheckRequest(), timeout=2).status)" || exit 1
CMD ["dom", "serve", "--address", "0.0.0.0:50051"]
