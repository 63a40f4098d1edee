"""Stripe's events: verified, recorded under their id, applied once.

The event is recorded and applied in one transaction: if applying fails, the
record goes too and Stripe's retry applies it again. A repeated or concurrent
delivery of the same id finds the record and is acknowledged without being
applied twice. Refunds the event made owed are sent to Stripe after that
transaction commits (never inside it); one that fails is retried by a job."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from functions.checkout import service as checkout
from functions.webhooks.repository import EventRepository
from lib.errors import PortalError
from lib.payments import signing
from lib.runtime import Portal

Handler = Callable[[AsyncSession, Portal, checkout.SessionFacts], Awaitable[checkout.Outcome]]

SESSION_EVENTS: dict[str, Handler] = {
    "checkout.session.completed": checkout.session_completed,
    "checkout.session.async_payment_succeeded": checkout.async_payment_succeeded,
    "checkout.session.async_payment_failed": checkout.async_payment_failed,
    "checkout.session.expired": checkout.session_expired,
}
HANDLED = {*SESSION_EVENTS, "charge.refunded"}


class MalformedEvent(PortalError):
    status_code = 400
    code = "malformed_event"


def _facts(obj: dict[str, Any]) -> checkout.SessionFacts:
    metadata = obj.get("metadata") or {}
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    expires = obj.get("expires_at")
    return checkout.SessionFacts(
        session_id=str(obj.get("id", "")),
        payment_id=metadata.get("payment_id") or obj.get("client_reference_id"),
        payment_status=str(obj.get("payment_status") or ""),
        amount_total=obj.get("amount_total"),
        currency=obj.get("currency"),
        payment_intent=intent,
        expires_at=datetime.fromtimestamp(int(expires), tz=UTC) if expires else None,
    )


async def receive(portal: Portal, *, payload: bytes, signature: str | None) -> str:
    now = portal.clock.now()
    signing.verify(payload, signature, portal.settings.stripe_webhook_secret, now=now)
    try:
        event = json.loads(payload)
        event_id = str(event["id"])
        event_type = str(event["type"])
        obj = event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise MalformedEvent("The event is not a Stripe event.") from None
    if not isinstance(obj, dict):
        raise MalformedEvent("The event has no object.")
    async with portal.transaction() as session:
        applied = await _apply(session, portal, event_id, event_type, obj)
    if applied.refunds:
        await checkout.issue_refunds(portal, applied.refunds)
    return applied.outcome


async def _apply(
    session: AsyncSession, portal: Portal, event_id: str, event_type: str, obj: dict[str, Any]
) -> checkout.Outcome:
    events = EventRepository(session)
    if not await events.record(event_id, event_type, now=portal.clock.now()):
        return checkout.Outcome("duplicate")
    if event_type not in HANDLED:
        applied = checkout.Outcome("ignored")
    elif event_type == "charge.refunded":
        metadata = obj.get("metadata") or {}
        applied = await checkout.charge_refunded(
            session,
            portal,
            payment_intent=obj.get("payment_intent"),
            payment_id=metadata.get("payment_id"),
            amount_refunded=int(obj.get("amount_refunded") or 0),
            fully=bool(obj.get("refunded")),
        )
    else:
        applied = await SESSION_EVENTS[event_type](session, portal, _facts(obj))
    await events.set_outcome(event_id, applied.outcome)
    return applied
