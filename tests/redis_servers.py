"""Real redis-server processes on free loopback ports, for tests and benchmarks (no fakeredis).

`RedisServer` is one throw-away server (no persistence unless `durable`); `RedisClusterServers` is
a 3-master Redis Cluster made of such servers (`redis-cli --cluster create`). Both can be stopped and
started again on the same port, which the outage tests use: a cluster master comes back with its
nodes.conf (same node id and slots) and, when durable, its acknowledged writes. Fixtures live in
tests/conftest.py and benchmarks/test_redis.py; they skip only when redis-server is not installed.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (and whose cluster bus port,
    port + 10000, is free too)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port pair found")


def _ping(port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server on 127.0.0.1:`port`; `stop()` kills it (SIGKILL), `start()` brings it
    back on the same port. Persistence is off (the server comes back empty) unless `durable`:
    then an fsync-always append-only file makes every acknowledged write survive the kill."""

    def __init__(self, port: int | None = None, *, cluster: bool = False, durable: bool = False) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.port = port or free_port()
        self.cluster = cluster
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix=f"dom-redis-{self.port}-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0, *, fresh: bool = True, extra: Sequence[str] = ()) -> RedisServer:
        """Start (or start again) on `port`. A cluster node starts with a new nodes.conf when
        `fresh`; with `fresh=False` it rejoins its cluster as the same node (`restart`)."""
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", str(self.dir), "--protected-mode", "no",
                "--loglevel", "warning", "--logfile", str(self.dir / "redis.log")]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        if self.cluster:
            if fresh:  # the cluster fixture creates the cluster anew from empty nodes
                (self.dir / "nodes.conf").unlink(missing_ok=True)
            args += ["--cluster-enabled", "yes", "--cluster-config-file", str(self.dir / "nodes.conf"),
                     "--cluster-node-timeout", "2000"]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited: "
                                   f"{(self.dir / 'redis.log').read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.02)
        return self

    def restart(self, timeout: float = 10.0, extra: Sequence[str] = ()) -> RedisServer:
        """Start again after `stop()`, keeping nodes.conf (and the append-only file if durable)."""
        return self.start(timeout, fresh=False, extra=extra)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def flushall(self) -> None:
        subprocess.run([REDIS_CLI, "-p", str(self.port), "flushall"], check=True, capture_output=True)


class RedisClusterServers:
    """A 3-master Redis Cluster (no replicas) on free loopback ports. `durable`: every master
    keeps an fsync-always append-only file, so `kill(i)` + `restart(i)` loses no acknowledged write.
    `full_coverage=False` sets cluster-require-full-coverage no: while a master is down the others
    keep serving their slots instead of refusing every command once it is flagged FAIL."""

    def __init__(self, masters: int = 3, *, durable: bool = False, full_coverage: bool = True) -> None:
        if REDIS_CLI is None:
            raise RuntimeError("redis-cli is not installed")
        self.servers = [RedisServer(cluster=True, durable=durable) for _ in range(masters)]
        self.extra = [] if full_coverage else ["--cluster-require-full-coverage", "no"]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.servers[0].port}"

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.servers]

    def start(self, timeout: float = 30.0) -> RedisClusterServers:
        for server in self.servers:
            server.start(extra=self.extra)
        hosts = [f"127.0.0.1:{s.port}" for s in self.servers]
        out = subprocess.run([REDIS_CLI, "--cluster", "create", *hosts, "--cluster-replicas", "0",
                              "--cluster-yes"], capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            self.close()
            raise RuntimeError(f"redis-cli --cluster create failed: {out.stdout}\n{out.stderr}")
        try:
            self.wait_ok(timeout)
        except RuntimeError:
            self.close()
            raise
        return self

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Poll until every master reports cluster_state:ok (a restarted master waits about 2 s
        before it takes writes again), else RuntimeError."""
        deadline = time.monotonic() + timeout
        while not all(self._state_ok(s.port) for s in self.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def node_id(self, i: int) -> str:
        """The cluster node id of master `i` (kept in its nodes.conf across a restart)."""
        out = subprocess.run([REDIS_CLI, "-p", str(self.servers[i].port), "cluster", "myid"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def index_of_port(self, port: int) -> int:
        return next(i for i, s in enumerate(self.servers) if s.port == port)

    def kill(self, i: int) -> None:
        """SIGKILL master `i` (no replica takes over: its slots are down until `restart(i)`)."""
        self.servers[i].stop()

    def restart(self, i: int, timeout: float = 30.0) -> None:
        """Start master `i` again on its port with its nodes.conf (and data if durable), then wait
        until the whole cluster reports cluster_state:ok."""
        self.servers[i].restart(extra=self.extra)
        self.wait_ok(timeout)

    @staticmethod
    def _state_ok(port: int) -> bool:
        out = subprocess.run([REDIS_CLI, "-p", str(port), "cluster", "info"], capture_output=True,
                             text=True)
        return "cluster_state:ok" in out.stdout

    def flushall(self) -> None:
        for server in self.servers:
            server.flushall()

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.close()


def new_namespace(prefix: str = "t") -> str:
    """A key namespace no other test uses, so tests can share one server without flushing it."""
    import uuid

    return f"{prefix}{uuid.uuid4().hex[:12]}"


def client_url(target: RedisServer | RedisClusterServers) -> str:
    """The URL RedisStore takes for a server or cluster (`redis+cluster://` for a cluster)."""
    if isinstance(target, RedisClusterServers):
        return target.url.replace("redis://", "redis+cluster://", 1)
    return target.url


class SecureRedisServer:
    """A redis-server that speaks only TLS (on `port`) and knows one ACL user besides a disabled
    default user: `username` / `password`, allowed every command and key. `client_certs`: the
    server asks clients for a certificate its CA signed (tls-auth-clients yes). Certificates come
    from dom_engine.testing.pki (made at test time). `supported()` says whether this redis-server
    was built with TLS."""

    username = "dom-engine"
    password = "s3cret-acl-password"

    def __init__(self, pki: dict[str, Path], *, client_certs: bool = False) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.pki, self.client_certs = pki, client_certs
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"dom-redis-tls-{self.port}-"))
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def supported() -> bool:
        if REDIS_SERVER is None:
            return False
        # listening nowhere, it exits at once; a build without TLS refuses the directive instead
        probe = subprocess.run([REDIS_SERVER, "--port", "0", "--tls-port", "0"], capture_output=True,
                               text=True, timeout=30)
        return "Bad directive" not in probe.stdout + probe.stderr

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> SecureRedisServer:
        args = [REDIS_SERVER, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                "--tls-cert-file", str(self.pki["server_cert"]),
                "--tls-key-file", str(self.pki["server_key"]),
                "--tls-ca-cert-file", str(self.pki["ca"]),
                "--tls-auth-clients", "yes" if self.client_certs else "no",
                "--user", "default", "off",
                "--user", self.username, "on", f">{self.password}", "~*", "&*", "+@all",
                "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--protected-mode", "no",
                "--loglevel", "warning", "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server (TLS) exited: "
                                   f"{(self.dir / 'redis.log').read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"redis-server (TLS) on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def _listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True
        return False

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
