"""The checkout's scheduled jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.catalog import service as catalog
from functions.checkout import reminders, service
from lib.jobs import Job
from lib.runtime import Portal


async def release_expired_holds(portal: Portal) -> Mapping[str, Any]:
    # Each overdue payment in a transaction of its own; then the holds that no
    # payment answers for (from before every hold had one), together.
    payments = await service.expire_overdue_payments(portal)
    async with portal.transaction() as session:
        holds = await catalog.release_expired_holds(session, now=portal.clock.now())
    return {"expired_payments": payments, "released_holds": holds}


async def issue_refunds(portal: Portal) -> Mapping[str, Any]:
    return {"issued": await service.issue_due_refunds(portal)}


async def send_payment_reminders(portal: Portal) -> Mapping[str, Any]:
    async with portal.transaction() as session:
        queued = await reminders.send_payment_reminders(
            session, now=portal.clock.now(), days=portal.settings.reminder_days
        )
    return {"queued": queued}


async def remind_pending_checkouts(portal: Portal) -> Mapping[str, Any]:
    async with portal.transaction() as session:
        queued = await reminders.remind_pending_checkouts(session, now=portal.clock.now())
    return {"queued": queued}


JOBS = [
    Job(
        "checkout.release_expired_holds",
        release_expired_holds,
        every={"minutes": 1},
        description="Seats held past their due time go back; the waitlist moves up.",
    ),
    Job(
        "checkout.issue_refunds",
        issue_refunds,
        every={"minutes": 1},
        description="Refunds Stripe's events made owed and that did not go out at once.",
    ),
    Job(
        "checkout.send_payment_reminders",
        send_payment_reminders,
        every={"minutes": 5},
        description="Payment due soon (3 days and 1 day before by default).",
    ),
    Job(
        "checkout.remind_pending_checkouts",
        remind_pending_checkouts,
        every={"minutes": 5},
        description="A checkout started an hour ago and not finished.",
    ),
]
