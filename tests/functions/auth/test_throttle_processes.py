"""Failed sign-ins are counted across server processes, not per process.

Two real `portal serve` processes share one database; failures sent to either
one count for the account, so the sixth attempt is refused by both.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from lib.security import Role
from tests.factories import Factory

ADMIN_USERNAME = "root"
ADMIN_EMAIL = "root@example.com"
ADMIN_PASSWORD = "a-long-admin-passphrase"
WRONG_PASSWORD = "not-the-password"
HEALTH_ATTEMPTS = 150
HEALTH_INTERVAL_SECONDS = 0.2
COMMAND_TIMEOUT_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 30

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(database_url: str, workdir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _OUTSIDE_SETTINGS}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="process-test-secret-key-0123456789abcdef",
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8",
        PORTAL_ARGON2_PARALLELISM="1",
        PORTAL_MAIL_DIR=str(workdir / "mail"),
        PORTAL_SERVE_STATIC="0",
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
    port = _free_port()
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


def test_failed_logins_are_counted_across_processes_on_sqlite(tmp_path: Path) -> None:
    env = _server_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    _run([_portal_command(), "migrate"], env=env, cwd=tmp_path)
    _run(
        [_portal_command(), "create-admin", "--username", ADMIN_USERNAME, "--email", ADMIN_EMAIL],
        env={**env, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD},
        cwd=tmp_path,
    )

    _assert_failures_are_shared(env, tmp_path)


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
