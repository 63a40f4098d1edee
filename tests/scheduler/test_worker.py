"""The APScheduler worker in this process: every job runs at start, one at a
time, and a stop lets a running job finish."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from functions.messages import service
from lib.jobs import Job
from lib.runtime import Portal
from scheduler.worker import run_forever
from tests.factories import Factory
from tests.functions.messages.support import eml_by_outbox_id, outbox_rows
from tests.processes import wait_until

WAIT_SECONDS = 30


def recording(name: str, runs: list[str], *, every: Mapping[str, int] | None = None) -> Job:
    async def run(portal: Portal) -> Mapping[str, Any]:
        runs.append(name)
        return {"runs": runs.count(name)}

    return Job(name, run, every=every or {"hours": 1})


async def test_every_job_runs_once_at_start(portal: Portal) -> None:
    # GIVEN three jobs that run every hour
    runs: list[str] = []
    jobs = [recording(f"test.job_{n}", runs) for n in range(3)]
    stop = asyncio.Event()

    # WHEN the scheduler starts
    worker = asyncio.create_task(run_forever(portal, stop=stop, jobs=jobs))

    async def all_ran() -> bool:
        return len(set(runs)) == 3

    try:
        await wait_until(all_ran, attempts=WAIT_SECONDS * 4, describe=lambda: str(runs))
    finally:
        stop.set()
        await asyncio.wait_for(worker, WAIT_SECONDS)

    # THEN each ran once, without waiting an hour for its first turn
    assert sorted(runs) == ["test.job_0", "test.job_1", "test.job_2"]


async def test_a_stop_lets_the_running_job_finish(portal: Portal) -> None:
    # GIVEN a job that is in the middle of its work
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow(portal: Portal) -> Mapping[str, Any]:
        started.set()
        await release.wait()
        finished.append("slow")
        return {}

    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_forever(portal, stop=stop, jobs=[Job("test.slow", slow, every={"hours": 1})])
    )
    await asyncio.wait_for(started.wait(), WAIT_SECONDS)

    # WHEN the scheduler is told to stop
    stop.set()
    for _ in range(50):
        await asyncio.sleep(0)

    # THEN it waits for the job rather than cancelling it
    assert not worker.done()
    release.set()
    await asyncio.wait_for(worker, WAIT_SECONDS)
    assert finished == ["slow"]


async def test_a_failing_job_leaves_the_others_running(portal: Portal) -> None:
    # GIVEN a job that fails and one that works
    runs: list[str] = []

    async def broken(portal: Portal) -> Mapping[str, Any]:
        runs.append("broken")
        raise RuntimeError("this job is broken")

    jobs = [Job("test.broken", broken, every={"hours": 1}), recording("test.fine", runs)]
    stop = asyncio.Event()

    # WHEN the scheduler runs them
    worker = asyncio.create_task(run_forever(portal, stop=stop, jobs=jobs))

    async def both_ran() -> bool:
        return {"broken", "test.fine"} <= set(runs)

    try:
        await wait_until(both_ran, attempts=WAIT_SECONDS * 4, describe=lambda: str(runs))
    finally:
        stop.set()
        await asyncio.wait_for(worker, WAIT_SECONDS)

    # THEN the failure stayed inside its job and the scheduler stopped cleanly
    assert worker.exception() is None


async def test_the_real_jobs_deliver_a_welcome(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a student who just registered (the app is built: payments are wired)
    student = await factory.registered()
    [welcome] = await outbox_rows(portal)

    # WHEN the scheduler runs the portal's own jobs
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever(portal, stop=stop))

    async def delivered() -> bool:
        return welcome.id in eml_by_outbox_id(portal.settings.mail_dir)

    try:
        await wait_until(delivered, attempts=WAIT_SECONDS * 4)
    finally:
        stop.set()
        await asyncio.wait_for(worker, WAIT_SECONDS)

    # THEN the welcome went out once, to the student
    [row] = await outbox_rows(portal)
    assert (row.status, row.recipient_id) == ("sent", student.id)
    assert (await service.deliver_due(portal)).sent == 0
    assert len(eml_by_outbox_id(portal.settings.mail_dir)[welcome.id]) == 1
