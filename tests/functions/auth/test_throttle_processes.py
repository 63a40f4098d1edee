"""Failed sign-ins are counted across server processes, not per process.

Real `portal serve` processes share one database (or one Redis): failures sent
to any of them count for the account, so the sixth attempt is refused by all,
and a burst of simultaneous guesses spread over four of them gets no more
password checks than the limit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import coredis
import httpx
import pytest

from lib.security import Role
from lib.throttle import redis_key_prefix
from tests.factories import Factory
from tests.ports import free_port
from tests.servers import MANY_SERVERS, TEST_SERVER_POOL_SIZE

pytestmark = MANY_SERVERS

ADMIN_USERNAME = "root"
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "a-long-admin-passphrase"
WRONG_PASSWORD = "not-the-password"
HEALTH_ATTEMPTS = 150
HEALTH_INTERVAL_SECONDS = 0.2
COMMAND_TIMEOUT_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 30
BURST = 30
BURST_SERVERS = 4

# Settings that would point the servers somewhere outside this test.
_OUTSIDE_SETTINGS = (
    "PORTAL_ENV",
    "REDIS_URL",
    "SMTP_URL",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
)


def _portal_command() -> str:
    return str(Path(sys.executable).parent / "portal")


def _server_env(database_url: str, workdir: Path, *, memory_cost: int = 8) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _OUTSIDE_SETTINGS}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="process-test-secret-key-0123456789abcdef",
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST=str(memory_cost),
        PORTAL_ARGON2_PARALLELISM="1",
        PORTAL_MAIL_DIR=str(workdir / "mail"),
        PORTAL_SERVE_STATIC="0",
        PORTAL_DB_POOL_SIZE=str(TEST_SERVER_POOL_SIZE),
    )
    return env


def _run(args: list[str], *, env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(args[1:])} exited with {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )


def _is_healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _server(env: dict[str, str], workdir: Path, name: str) -> Iterator[str]:
    """A `portal serve` process; yields its base URL once /api/health answers."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [_portal_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(HEALTH_ATTEMPTS):
                if _is_healthy(base_url):
                    break
                try:
                    # Paces the polling and notices at once when the server died.
                    code = process.wait(timeout=HEALTH_INTERVAL_SECONDS)
                except subprocess.TimeoutExpired:
                    continue
                pytest.fail(f"{name} exited with {code}:\n{log_path.read_text()}")
            else:
                pytest.fail(f"{name} did not become healthy:\n{log_path.read_text()}")
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _login(base_url: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/auth/login",
        json={"login": ADMIN_USERNAME, "password": password},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def _assert_failures_are_shared(env: dict[str, str], workdir: Path) -> None:
    with ExitStack() as stack:
        # GIVEN two server processes on one database
        servers = [stack.enter_context(_server(env, workdir, f"server-{n}")) for n in (1, 2)]

        # WHEN five failed sign-ins alternate between them
        for attempt in range(5):
            response = _login(servers[attempt % 2], WRONG_PASSWORD)
            assert response.status_code == 401, response.text

        # THEN the sixth attempt, even with the right password, is refused by either
        for base_url in servers:
            response = _login(base_url, ADMIN_PASSWORD)
            assert response.status_code == 429, response.text
            assert response.json()["error"]["code"] == "too_many_attempts"
            assert 1 <= int(response.headers["Retry-After"]) <= 900


def _burst(servers: list[str], passwords: list[str]) -> Counter[int]:
    """Every sign-in at the same moment, spread over the servers, each on a
    connection of its own that is closed afterwards."""
    start = threading.Barrier(len(passwords))

    def one(n: int) -> int:
        with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS) as client:
            start.wait()
            response = client.post(
                f"{servers[n % len(servers)]}/api/auth/login",
                json={"login": ADMIN_USERNAME, "password": passwords[n]},
                headers={"Connection": "close"},
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=len(passwords)) as pool:
        return Counter(pool.map(one, range(len(passwords))))


def _assert_a_burst_gets_at_most_five_checks(env: dict[str, str], workdir: Path) -> None:
    with ExitStack() as stack:
        # GIVEN four server processes on one store of counts
        servers = [
            stack.enter_context(_server(env, workdir, f"burst-{n}")) for n in range(BURST_SERVERS)
        ]

        # WHEN thirty wrong passwords arrive at once
        first = _burst(servers, [WRONG_PASSWORD] * BURST)

        # THEN five got a password check (401) and the rest were refused (429)
        assert first == Counter({401: 5, 429: BURST - 5}), first

        # WHEN another burst carries the right password in its middle
        guesses = [WRONG_PASSWORD] * BURST
        guesses[BURST // 2] = ADMIN_PASSWORD
        second = _burst(servers, guesses)

        # THEN nothing gets in, the right password neither, and nothing is checked
        assert second == Counter({429: BURST}), second
        for base_url in servers:
            assert _login(base_url, ADMIN_PASSWORD).status_code == 429


def _sqlite_portal(tmp_path: Path, **env_options: int) -> dict[str, str]:
    env = _server_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, **env_options)
    _run([_portal_command(), "migrate"], env=env, cwd=tmp_path)
    _run(
        [_portal_command(), "create-admin", "--username", ADMIN_USERNAME, "--email", ADMIN_EMAIL],
        env={**env, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD},
        cwd=tmp_path,
    )
    return env


# A slower hash (8 MiB) widens the moment between checking the count and
# counting a failure, which is where simultaneous guesses used to slip through.
BURST_MEMORY_COST = 8192


def test_failed_logins_are_counted_across_processes_on_sqlite(tmp_path: Path) -> None:
    _assert_failures_are_shared(_sqlite_portal(tmp_path), tmp_path)


def test_a_burst_over_four_processes_gets_at_most_five_checks_on_sqlite(tmp_path: Path) -> None:
    env = _sqlite_portal(tmp_path, memory_cost=BURST_MEMORY_COST)
    _assert_a_burst_gets_at_most_five_checks(env, tmp_path)


def test_a_burst_over_four_processes_gets_at_most_five_checks_on_redis(
    tmp_path: Path, redis_url: str
) -> None:
    env = _sqlite_portal(tmp_path, memory_cost=BURST_MEMORY_COST)
    env["REDIS_URL"] = redis_url
    try:
        _assert_a_burst_gets_at_most_five_checks(env, tmp_path)
    finally:
        _delete_redis_keys(redis_url, redis_key_prefix(env["DATABASE_URL"]))


def _delete_redis_keys(redis_url: str, prefix: str) -> None:
    async def delete() -> None:
        client = coredis.Redis.from_url(redis_url)
        try:
            keys: list[str | bytes] = [k async for k in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(keys)
        finally:
            client.connection_pool.disconnect()

    asyncio.run(delete())


@pytest.fixture
async def postgres_admin(factory: Factory) -> None:
    # The tables come from the test schema (no Alembic), so the administrator
    # is made through the service rather than `portal create-admin`.
    await factory.user(
        role=Role.ADMIN, username=ADMIN_USERNAME, email=ADMIN_EMAIL, password=ADMIN_PASSWORD
    )


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.usefixtures("postgres_admin")
def test_failed_logins_are_counted_across_processes_on_postgresql(
    database_url: str, tmp_path: Path
) -> None:
    _assert_failures_are_shared(_server_env(database_url, tmp_path), tmp_path)


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.usefixtures("postgres_admin")
def test_a_burst_over_four_processes_gets_at_most_five_checks_on_postgresql(
    database_url: str, tmp_path: Path
) -> None:
    env = _server_env(database_url, tmp_path, memory_cost=BURST_MEMORY_COST)
    _assert_a_burst_gets_at_most_five_checks(env, tmp_path)
