"""Running the installed `portal` command as separate processes (servers and
schedulers), and waiting for what they do by watching for it, a bounded number
of times."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.migrate import upgrade
from lib.runtime import Portal
from tests.conftest import TEST_SECRET, test_settings
from tests.factories import Factory
from tests.ports import free_port
from tests.servers import TEST_SERVER_POOL_SIZE

PORTAL = Path(sys.executable).parent / "portal"
RUN_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.25

# Settings from the surrounding shell that would point a process elsewhere.
OUTSIDE_SETTINGS = (
    "DATABASE_URL", "SECRET_KEY", "PORTAL_ENV", "SITE_URL", "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "REDIS_URL", "SMTP_URL", "PORTAL_MAIL_DIR",
    "PORTAL_MAIL_FROM", "PORTAL_SIMULATOR_DB", "PORTAL_REMINDER_DAYS", "PORTAL_SERVE_STATIC",
    "PORTAL_TRUSTED_PROXY_HOPS", "PORTAL_ADMIN_PASSWORD", "PORTAL_API_BASE",
    "FORWARDED_ALLOW_IPS", "PORT", "HOST",
)  # fmt: skip


def outside_env() -> dict[str, str]:
    """This shell's environment without any portal setting."""
    return {name: value for name, value in os.environ.items() if name not in OUTSIDE_SETTINGS}


def migrated_sqlite(folder: Path) -> str:
    """A SQLite file brought up to date by the migrations, as `portal migrate` does."""
    url = f"sqlite:///{folder / 'portal.db'}"
    upgrade(url)
    return url


@asynccontextmanager
async def seeding(database_url: str, folder: Path) -> AsyncIterator[tuple[Portal, Factory]]:
    """A portal in this process to put data in the database, its clock at the real
    now (which the `portal` processes use)."""
    portal = build_portal(test_settings(database_url, folder), clock=FrozenClock(datetime.now(UTC)))
    transport = httpx.ASGITransport(app=create_app(portal=portal))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield portal, Factory(portal, client)
    finally:
        await portal.dispose()


def portal_env(*, database_url: str, folder: Path) -> dict[str, str]:
    env = outside_env()
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=TEST_SECRET,
        PORTAL_MAIL_DIR=str(folder / "mail"),
        PORTAL_SIMULATOR_DB=str(folder / "stripe-simulator.db"),
        PORTAL_DB_POOL_SIZE=str(TEST_SERVER_POOL_SIZE),
        PORTAL_ARGON2_TIME_COST="1",
        PORTAL_ARGON2_MEMORY_COST="8",
        PORTAL_ARGON2_PARALLELISM="1",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return (
            f"--- {self.name} stdout\n{self.stdout.read_text(errors='replace')}"
            f"--- {self.name} stderr\n{self.stderr.read_text(errors='replace')}"
        )

    def finish(self, timeout: float = RUN_TIMEOUT_SECONDS) -> Finished:
        returncode = self.process.wait(timeout=timeout)
        return Finished(
            returncode,
            self.stdout.read_text(errors="replace"),
            self.stderr.read_text(errors="replace"),
        )

    def terminate(self, timeout: float = STOP_TIMEOUT_SECONDS) -> Finished:
        self.process.send_signal(signal.SIGTERM)
        return self.finish(timeout)


@dataclass
class Processes:
    """`portal` processes started in one folder; whatever still runs at the end
    of the test is killed (by its own process id)."""

    folder: Path
    env: dict[str, str]
    started: list[Running] = field(default_factory=list)

    def start(self, *args: str) -> Running:
        n = len(self.started) + 1
        name = f"{n}-{'-'.join(args)}"
        logs = self.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stdout, stderr = logs / f"{name}.out", logs / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [str(PORTAL), *args],
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        running = Running(name, process, stdout, stderr)
        self.started.append(running)
        return running

    def output(self) -> str:
        return "\n".join(r.output() for r in self.started)

    def kill_all(self) -> None:
        for running in self.started:
            if running.process.poll() is None:
                running.process.kill()
                running.process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def processes(*, database_url: str, folder: Path) -> Iterator[Processes]:
    folder.mkdir(parents=True, exist_ok=True)
    group = Processes(folder, portal_env(database_url=database_url, folder=folder))
    try:
        yield group
    finally:
        group.kill_all()


def run_portal(*args: str, database_url: str, folder: Path) -> Finished:
    """One `portal` command to the end."""
    with processes(database_url=database_url, folder=folder) as group:
        return group.start(*args).finish()


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    *,
    attempts: int,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Check `condition` up to `attempts` times, a short pause apart."""
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(POLL_INTERVAL_SECONDS)
    raise AssertionError(f"still not true after {attempts} checks\n{describe()}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_for_health(
    server: Running, base_url: str, *, deadline: float = RUN_TIMEOUT_SECONDS
) -> None:
    """Poll /api/health until it answers 200; fail at once if the server died."""
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if answers(f"{base_url}/api/health"):
            return
        try:
            code = server.process.wait(timeout=POLL_INTERVAL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"the server exited with {code}\n{server.output()}")
    raise AssertionError(f"the server never answered /api/health\n{server.output()}")


def start_server(group: Processes, **env: str) -> tuple[Running, str]:
    """`portal serve` on a free loopback port; returns it once healthy, and its address."""
    port = free_port()
    group.env.update(env)
    server = group.start("serve", "--host", "127.0.0.1", "--port", str(port))
    base_url = f"http://127.0.0.1:{port}"
    wait_for_health(server, base_url)
    return server, base_url
