"""`portal scheduler` stopped by SIGTERM in the middle of a job: the job finishes
its work (the e-mail it is sending goes out and is recorded), then the process
exits 0."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.messages.support import SmtpServer, outbox_rows
from tests.ports import free_port
from tests.processes import Running, migrated_sqlite, processes, seeding, wait_until

HOLD_SECONDS = 60
ARRIVAL_SECONDS = 120


@dataclass
class HoldingSmtpServer(SmtpServer):
    """A real SMTP server that keeps each message waiting in DATA until the test
    lets go: the sending job is blocked mid-way."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, HOLD_SECONDS)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def holding_smtp_server() -> Iterator[HoldingSmtpServer]:
    server = HoldingSmtpServer(port=free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        server.release.set()
        controller.stop()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path)


@pytest.fixture
async def seeded(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, Portal, Factory]]:
    """The migrated database and a portal in this process to put data in it."""
    async with seeding(database_url, tmp_path) as (portal, factory):
        yield database_url, portal, factory


def logged(process: Running, event: str) -> bool:
    return f'"event": "{event}"' in process.stdout.read_text(errors="replace")


async def test_sigterm_lets_the_running_job_finish_its_send(
    seeded: tuple[str, Portal, Factory], tmp_path: Path
) -> None:
    database_url, portal, factory = seeded
    # GIVEN a queued welcome and an SMTP server that holds the message it receives
    await factory.registered(username="held", email="held@example.com")
    with (
        holding_smtp_server() as smtp,
        processes(database_url=database_url, folder=tmp_path / "run") as group,
    ):
        group.env["SMTP_URL"] = smtp.url
        scheduler = group.start("scheduler")
        # AND `portal scheduler` in the middle of sending it
        arrived = await asyncio.to_thread(smtp.arrived.wait, ARRIVAL_SECONDS)
        assert arrived, group.output()

        # WHEN it is told to stop
        scheduler.process.terminate()

        async def stopping() -> bool:
            return logged(scheduler, "scheduler.stopping")

        await wait_until(stopping, attempts=240, describe=group.output)
        # THEN it waits for the job instead of ending it
        assert scheduler.process.poll() is None, group.output()
        assert smtp.received == []

        # WHEN the server lets the message through
        smtp.release.set()
        finished = scheduler.finish()

    # THEN the job completed and the process exited 0 after saying so
    assert finished.returncode == 0, group.output()
    events = [e.get("event") for e in finished.json_lines()]
    assert events.index("scheduler.stopping") < events.index("scheduler.stopped")
    assert events[-1] == "scheduler.stopped"
    # AND the e-mail went out once and is recorded sent
    assert [r.rcpt_tos for r in smtp.received] == [["held@example.com"]]
    [row] = await outbox_rows(portal)
    assert (row.status, row.attempts) == ("sent", 1)
