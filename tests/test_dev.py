"""`python3 dev.py start` runs the whole portal: the API and the scheduler, one
command, both stopped by Ctrl+C. Here `dev.py run`, what `start` runs after its
set-up (the install into .venv, which this test's own environment already is)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import dev
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.messages.support import eml_by_outbox_id, outbox_rows, parse, text_of
from tests.ports import free_port
from tests.processes import (
    Running,
    migrated_sqlite,
    portal_env,
    seeding,
    wait_for_health,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT_SECONDS = 60


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path)


@pytest.fixture
async def seeded(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Portal, Factory]]:
    async with seeding(database_url, tmp_path) as (portal, factory):
        yield portal, factory


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def start_dev(folder: Path, env: dict[str, str]) -> Running:
    logs = folder / "dev.log"
    with logs.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "dev.py"), "run"],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Running("dev.py", process, logs, logs)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads child processes from /proc")
async def test_dev_py_runs_the_api_and_the_scheduler_until_ctrl_c(
    seeded: tuple[Portal, Factory], database_url: str, tmp_path: Path
) -> None:
    # GIVEN a student who just registered: a welcome e-mail waits in the outbox
    portal, factory = seeded
    await factory.registered(username="newcomer")
    [welcome] = await outbox_rows(portal)
    port = free_port()
    env = {**portal_env(database_url=database_url, folder=tmp_path), "PORT": str(port)}
    env.pop("SITE_URL", None)

    # WHEN `dev.py` runs the portal with PORT set
    running = start_dev(tmp_path, env)
    dev = running.process
    try:
        # THEN the API answers on that port
        wait_for_health(running, f"http://127.0.0.1:{port}")

        # AND the scheduler sends the welcome, with links to the port the portal serves on
        async def delivered() -> bool:
            return welcome.id in eml_by_outbox_id(tmp_path / "mail")

        await wait_until(delivered, attempts=240, describe=running.output)
        [path] = eml_by_outbox_id(tmp_path / "mail")[welcome.id]
        assert f"http://localhost:{port}/" in text_of(parse(path.read_bytes()))
        children = children_of(dev.pid)
        assert len(children) == 2, running.output()

        # WHEN Ctrl+C reaches dev.py
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=STOP_TIMEOUT_SECONDS)
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()

    # THEN it and both of its processes ended cleanly, and none is left behind
    output = running.output()
    assert code == 0, output
    assert not [pid for pid in children if alive(pid)], output
    assert '"event": "scheduler.stopped"' in output
    assert "Finished server process" in output


def test_dev_py_test_runs_pytest_in_parallel_unless_told_otherwise() -> None:
    # THEN the suite gets a worker per core (four at most), the groups kept together ...
    default = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadgroup"]
    assert dev.parallel([]) == default
    assert dev.parallel(["tests/lib", "-k", "backup"]) == default
    # ... but a caller's own choice stands
    assert dev.parallel(["-n", "0"]) == []
    assert dev.parallel(["-n4"]) == []
    assert dev.parallel(["--numprocesses=3"]) == []
    assert dev.parallel(["-p", "no:xdist"]) == []
