"""Every scheduled job, by its dotted name."""

from __future__ import annotations

from functions.checkout.tasks import JOBS as CHECKOUT_JOBS
from functions.messages.tasks import JOBS as MESSAGE_JOBS
from lib.jobs import Job

JOBS: dict[str, Job] = {job.name: job for job in [*CHECKOUT_JOBS, *MESSAGE_JOBS]}


def find(name: str) -> Job | None:
    return JOBS.get(name)
