"""Real `portal serve` processes on one database, for tests that claim
something about several processes or about a process that dies."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lib.clock import SystemClock
from lib.migrate import upgrade
from lib.runtime import Portal
from tests.conftest import test_settings as settings_for

SECRET_KEY = "rush-test-secret-key-0123456789abcdef0123"
HEALTH_ATTEMPTS = 200
HEALTH_INTERVAL_SECONDS = 0.2

_OUTSIDE_SETTINGS = (
    "PORTAL_ENV",
    "REDIS_URL",
    "SMTP_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
)


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def portal_servers(
    database_url: str, workdir: Path, *, count: int, env: dict[str, str] | None = None
) -> Iterator[list[Server]]:
    """`count` servers on one database and one payment simulator (or the Stripe
    stand-in `env` names); yields them once each answers /api/health."""
    ports = [free_port() for _ in range(count)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    environment = {key: value for key, value in os.environ.items() if key not in _OUTSIDE_SETTINGS}
    environment.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8",
        PORTAL_ARGON2_PARALLELISM="1",
        PORTAL_MAIL_DIR=str(workdir / "mail"),
        PORTAL_SERVE_STATIC="0",
        PORTAL_SIMULATOR_DB=str(workdir / "stripe-simulator.db"),
        SITE_URL=urls[0],
        **(env or {}),
    )
    portal_command = str(Path(sys.executable).parent / "portal")
    with ExitStack() as stack:
        servers = []
        for index, port in enumerate(ports):
            log = stack.enter_context((workdir / f"server-{index}.log").open("wb"))
            process = subprocess.Popen(
                [portal_command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=environment,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, process)
            servers.append(Server(urls[index], process))
        for index, server in enumerate(servers):
            _wait_healthy(server, workdir / f"server-{index}.log")
        yield servers


def _wait_healthy(server: Server, log: Path) -> None:
    for _ in range(HEALTH_ATTEMPTS):
        if _is_healthy(server.url):
            return
        try:
            # Paces the polling and notices at once when the server died.
            code = server.process.wait(timeout=HEALTH_INTERVAL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"server {server.url} exited with {code}:\n{log.read_text()}")
    pytest.fail(f"server {server.url} did not become healthy:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture
async def shared_database(backend: str, database_url: str, tmp_path: Path) -> str:
    """SQLite: a file migrated as `portal migrate` does (the servers migrate it
    again on start, which must then be a no-op). PostgreSQL: the test database,
    its tables in place."""
    if backend == "postgresql":
        return database_url
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    # Alembic runs its migrations on an event loop of its own.
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.fixture
async def local_portal(shared_database: str, tmp_path: Path) -> AsyncIterator[Portal]:
    """This process's own view of the shared database, on the real clock like the servers."""
    settings = settings_for(shared_database, tmp_path, secret_key=SECRET_KEY)
    portal = Portal.build(settings, clock=SystemClock())
    try:
        yield portal
    finally:
        await portal.dispose()
