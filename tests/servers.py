"""Real `portal serve` processes, for tests that claim something about several
processes at once: concurrency, crashes, a shared simulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

PORTAL = Path(sys.executable).parent / "portal"
SECRET_KEY = "servers-test-secret-key-0123456789abcdef"
HEALTH_ATTEMPTS = 200
HEALTH_INTERVAL_SECONDS = 0.2
STOP_TIMEOUT_SECONDS = 15
REQUEST_TIMEOUT_SECONDS = 60
# PostgreSQL allows 100 connections by default, shared by everyone on the test
# server; each portal process may open up to 30. Requests in flight per server
# are capped there so that a rush measures seats, not connection slots.
POSTGRES_IN_FLIGHT_PER_SERVER = 12
# Up to 15 connections per portal process (lib.db's pool): two modules with four
# servers each, at once in two pytest-xdist workers, could pass the 100. Such
# modules share this group, which `--dist loadgroup` runs in one worker, one
# module after the other.
MANY_SERVERS = pytest.mark.xdist_group("many-servers")

# Settings from the surrounding shell that would point the servers elsewhere.
_OUTSIDE_SETTINGS = (
    "PORTAL_ENV",
    "REDIS_URL",
    "SMTP_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as when a machine or a container dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def is_healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


TEST_SERVER_POOL_SIZE = 8


def portal_environment(database_url: str, workdir: Path) -> dict[str, str]:
    """Servers on one database and one payment simulator, with cheap hashing.
    Up to four of them share PostgreSQL's 100 connections with the other test
    worker's engines, so each keeps a small pool (the default, 40 divided
    among one server's workers, is for a database of the server's own)."""
    env = {key: value for key, value in os.environ.items() if key not in _OUTSIDE_SETTINGS}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8",
        PORTAL_ARGON2_PARALLELISM="1",
        PORTAL_MAIL_DIR=str(workdir / "mail"),
        PORTAL_SERVE_STATIC="0",
        PORTAL_SIMULATOR_DB=str(workdir / "stripe-simulator.db"),
        PORTAL_DB_POOL_SIZE=str(TEST_SERVER_POOL_SIZE),
    )
    return env


@contextmanager
def running_servers(envs: Sequence[Mapping[str, str]], workdir: Path) -> Iterator[list[Server]]:
    """A `portal serve` process for each environment; yields them once each
    answers /api/health and stops whichever still runs at the end."""
    ports = [free_port() for _ in envs]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    with ExitStack() as stack:
        servers = []
        for index, (port, env) in enumerate(zip(ports, envs, strict=True)):
            log_path = workdir / f"server-{index}.log"
            log = stack.enter_context(log_path.open("wb"))
            process = subprocess.Popen(
                [str(PORTAL), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env={"SITE_URL": urls[0], **env},
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, process)
            servers.append(Server(urls[index], process, log_path))
        for server in servers:
            _wait_until_healthy(server)
        yield servers


def _wait_until_healthy(server: Server) -> None:
    for _ in range(HEALTH_ATTEMPTS):
        if is_healthy(server.url):
            return
        try:
            # Paces the polling and notices at once when the server died.
            code = server.process.wait(timeout=HEALTH_INTERVAL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"{server.url} exited with {code}:\n{server.log.read_text()}")
    pytest.fail(f"{server.url} did not become healthy:\n{server.log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def rush_client(base_url: str, backend: str) -> httpx.AsyncClient:
    """A client for one server in a rush. No kept-alive connections: between
    two bursts the servers close idle ones (after 5 s), and reusing one at
    that moment fails with ReadError."""
    in_flight = None if backend == "sqlite" else POSTGRES_IN_FLIGHT_PER_SERVER
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits)
