# dom_engine gRPC service. Build: docker build -t dom-engine .
# Run the bundled demo:  docker run -p 50051:50051 dom-engine
# With Redis and Prometheus: docker compose up -d --build (docker-compose.yml, README "Deploying")
# Own data:              docker run -v $PWD/conf:/conf -p 50051:50051 dom-engine \
#                            dom serve --config /conf/dom.toml
# The image listens on DOM_SERVER_ADDRESS (0.0.0.0:50051) in plain text, which a server only does
# off loopback when told so (DOM_SERVER_INSECURE=1 below): for production give it [server.tls]
# and [server.auth] in the config and run with -e DOM_SERVER_INSECURE=0 (see README "Security").
# Reproducible builds: the Python patch release and Debian release are pinned here and every
# dependency by requirements.lock; pin the digest you have verified too, e.g.
#   docker build --build-arg PYTHON_IMAGE=python:3.11.7-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install -r requirements.lock
COPY dom_engine ./dom_engine
# The warm-up compiles the batch kernels into numba's cache now, so the server only loads them
# (~0.3 s) instead of compiling (~12 s) on every container start. numba keeps a cache only where
# the running user can write (site-packages is root's), hence a cache directory handed to `dom`.
ENV NUMBA_CACHE_DIR=/app/.numba-cache
RUN pip install --no-deps . && useradd --create-home dom \
    && python -c "from dom_engine.optimize.compiled_search import warm_up; warm_up()" \
    && chown -R dom /app/.numba-cache
COPY examples ./examples
USER dom
ENV DOM_SERVER_ADDRESS=0.0.0.0:50051 DOM_SERVER_INSECURE=1
EXPOSE 50051
# The port comes from DOM_SERVER_ADDRESS, so a changed address keeps the check right.
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import os, grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; port = os.environ.get('DOM_SERVER_ADDRESS', ':50051').rpartition(':')[2]; c = grpc.insecure_channel(f'127.0.0.1:{port}'); s = g.HealthStub(c).Check(h.HealthCheckRequest(), timeout=2).status; raise SystemExit(0 if s == h.HealthCheckResponse.SERVING else 1)" || exit 1
CMD ["dom", "serve"]
