"""The notifications' scheduled job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from functions.messages import service
from lib.jobs import Job
from lib.runtime import Portal


async def deliver(portal: Portal) -> Mapping[str, Any]:
    return asdict(await service.deliver_due(portal))


JOBS = [
    Job(
        "notifications.deliver",
        deliver,
        every={"seconds": 10},
        description="Send queued e-mail; retry with backoff; give up after 5 tries.",
    ),
]
