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
from collections.abc import Mapping
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from functions.router import create_app
from lib.config import Settings
from lib.jobs import Job
from lib.runtime import Portal
from scheduler.registry import JOBS

log = logging.getLogger("portal.scheduler")

MISFIRE_GRACE_SECONDS = 30


def build_portal(settings: Settings) -> Portal:
    portal = Portal.build(settings)
    # Building the app wires the payment gateway (and the simulator) into the portal.
    create_app(portal=portal)
    return portal


async def run_job(portal: Portal, job: Job) -> Mapping[str, Any]:
    try:
        result = await job.run(portal)
    except Exception:
        log.exception(json.dumps({"event": "scheduler.job_failed", "job": job.name}))
        raise
    log.info(json.dumps({"event": "scheduler.job_done", "job": job.name, **dict(result)}))
    return result


async def run_forever(portal: Portal, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    scheduler = AsyncIOScheduler(
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone="UTC",
    )
    for job in JOBS.values():
        scheduler.add_job(
            run_job,
            IntervalTrigger(**job.every),
            args=[portal, job],
            id=job.name,
            name=job.name,
            replace_existing=True,
        )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler.start()
    log.info(json.dumps({"event": "scheduler.started", "jobs": sorted(JOBS)}))
    try:
        await stop.wait()
    finally:
        # Let running jobs finish their transaction; start no new ones.
        scheduler.shutdown(wait=True)
        log.info(json.dumps({"event": "scheduler.stopped"}))
