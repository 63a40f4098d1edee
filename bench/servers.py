"""The processes under load: `portal serve` and the ceiling, started and
stopped by the benchmark, and their workers' memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import memory
from bench.memory import Memory

SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
# Settings from the surrounding shell that would point the server elsewhere.
PORTAL_COMMAND = [str(Path(sys.executable).parent / "portal"), "serve"]
CEILING_COMMAND = [sys.executable, "-m", "bench.ceiling"]
_OUTSIDE_SETTINGS = (
    "PORTAL_ENV", "REDIS_URL", "SMTP_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE", "PORTAL_ARGON2_TIME_COST", "PORTAL_ARGON2_MEMORY_COST",
    "PORTAL_ARGON2_PARALLELISM", "PORTAL_TRUSTED_PROXY_HOPS",
)  # fmt: skip


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def worker_memory(self) -> list[Memory]:
        """The memory of each process that answers requests: the uvicorn
        process itself with one worker, its children with several."""
        children = _children(self.process.pid)
        return [memory.read(pid) for pid in (children or [self.process.pid])]


def settle(url: str, *, quiet_ms: float = 25, timeout_seconds: float = 60) -> None:
    """Wait until the server has finished what an earlier run left in flight
    (wrk stops sending at the end of a run, not the server working): two
    health checks in a row answered quickly."""
    deadline = time.monotonic() + timeout_seconds
    quick = 0
    with httpx.Client(timeout=timeout_seconds) as client:
        while quick < 2 and time.monotonic() < deadline:
            started = time.perf_counter()
            client.get(url + "/api/health")
            quick = quick + 1 if (time.perf_counter() - started) * 1000 < quiet_ms else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def portal_environment(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE_SETTINGS}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET,
        PORTAL_SERVE_STATIC="0",
        PORTAL_COUNT_STATEMENTS="1",
        PORTAL_MAIL_DIR=str(folder / "mail"),
        PORTAL_SIMULATOR_DB=str(folder / "stripe-simulator.db"),
        **extra,
    )
    return env


@contextmanager
def portal_and_ceiling(
    env: Mapping[str, str], folder: Path, *, workers: int
) -> Iterator[tuple[Server, Server]]:
    """Both started at once (their start-up overlaps), measured one after the other."""
    with ExitStack() as stack:
        portal = stack.enter_context(_spawned(PORTAL_COMMAND, env, folder, workers=workers))
        ceiling = stack.enter_context(
            _spawned(CEILING_COMMAND, os.environ, folder, workers=workers)
        )
        _wait_until_up(portal, "/api/health")
        _wait_until_up(ceiling, "/hello")
        yield portal, ceiling


@contextmanager
def portal(env: Mapping[str, str], folder: Path, *, workers: int) -> Iterator[Server]:
    with _spawned(PORTAL_COMMAND, env, folder, workers=workers) as server:
        _wait_until_up(server, "/api/health")
        yield server


@contextmanager
def _spawned(
    command: list[str], env: Mapping[str, str], folder: Path, *, workers: int
) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / f"server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env={"SITE_URL": url, **env, "PYTHONPATH": str(Path(__file__).parent.parent)},
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Server(url, process, log_path)
    finally:
        _stop(process)
        log.close()


def _wait_until_up(server: Server, health: str) -> None:
    process, url, log = server.process, server.url + health, server.log
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:
            code = process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"the server exited with {code}:\n{log.read_text()[-3000:]}")
    raise RuntimeError(f"the server did not answer {url}:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    # uvicorn's supervisor may also start multiprocessing's resource tracker,
    # which serves nothing.
    return [child for child in found if "resource_tracker" not in _cmdline(child)]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
