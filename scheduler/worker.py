"""`portal scheduler`: APScheduler 3 in a process of its own (never in the API).

Each job runs at most one instance at a time in this process, late runs are
coalesced into one, and a run that missed its time by more than the grace is
skipped. Running two schedulers (or `portal run-job` beside one) is safe: every
job is idempotent and every message is keyed, so nothing goes out twice."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from lib.jobs import Job
from lib.runtime import Portal
from scheduler.registry import JOBS

log = logging.getLogger("portal.scheduler")

MISFIRE_GRACE_SECONDS = 30


async def run_job(portal: Portal, job: Job) -> Mapping[str, Any]:
    try:
        result = await job.run(portal)
    except Exception:
        log.exception(json.dumps({"event": "scheduler.job_failed", "job": job.name}))
        raise
    log.info(json.dumps({"event": "scheduler.job_done", "job": job.name, **dict(result)}))
    return result


async def run_forever(
    portal: Portal, *, stop: asyncio.Event | None = None, jobs: Iterable[Job] | None = None
) -> None:
    stop = stop or asyncio.Event()
    chosen = list(JOBS.values() if jobs is None else jobs)
    running: set[asyncio.Task[Any]] = set()

    async def tracked(job: Job) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name(job.name)
        running.add(task)
        try:
            await run_job(portal, job)
        finally:
            running.discard(task)

    scheduler = _scheduler(chosen, tracked)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    scheduler.start()
    log.info(json.dumps({"event": "scheduler.started", "jobs": sorted(j.name for j in chosen)}))
    try:
        await stop.wait()
    finally:
        await _finish_running(scheduler, running)
        for signum in signals:
            loop.remove_signal_handler(signum)
        log.info(json.dumps({"event": "scheduler.stopped"}))


def _scheduler(jobs: Iterable[Job], tracked: Callable[[Job], Awaitable[None]]) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone="UTC",
    )
    started_at = datetime.now(UTC)
    for job in jobs:
        scheduler.add_job(
            tracked,
            IntervalTrigger(**job.every),
            args=[job],
            id=job.name,
            name=job.name,
            replace_existing=True,
            # Every job runs once at start: a restart or a deploy never delays
            # reminders and e-mail by a whole interval.
            next_run_time=started_at,
        )
    return scheduler


async def _finish_running(scheduler: AsyncIOScheduler, running: set[asyncio.Task[Any]]) -> None:
    log.info(
        json.dumps(
            {"event": "scheduler.stopping", "running": sorted(t.get_name() for t in running)}
        )
    )
    # Start no new runs and let the running ones finish their work: shutting
    # APScheduler's asyncio executor down would cancel them mid-send.
    scheduler.pause()
    # One turn of the loop lets a run submitted just before the pause begin.
    await asyncio.sleep(0)
    while running:
        await asyncio.gather(*running, return_exceptions=True)
    scheduler.shutdown(wait=False)
