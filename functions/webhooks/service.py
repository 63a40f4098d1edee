"""Stripe's events: verified, recorded under their id, applied once.

The event is recorded and applied in the request's one transaction: if
applying fails, the record goes too and Stripe's retry applies it again. A
repeated or concurrent delivery of the same id finds the record and is
acknowledged without being applied twice."""

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

Handler = Callable[[AsyncSession, Portal, checkout.SessionFacts], Awaitable[str]]

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


async def receive(
    session: AsyncSession, portal: Portal, *, payload: bytes, signature: str | None
) -> str:
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
    events = EventRepository(session)
    if not await events.record(event_id, event_type, now=now):
        return "duplicate"
    if event_type not in HANDLED:
        await events.set_outcome(event_id, "ignored")
        return "ignored"
    if event_type == "charge.refunded":
        metadata = obj.get("metadata") or {}
        outcome = await checkout.charge_refunded(
            session,
            portal,
            payment_intent=obj.get("payment_intent"),
            payment_id=metadata.get("payment_id"),
            amount_refunded=int(obj.get("amount_refunded") or 0),
            fully=bool(obj.get("refunded")),
        )
    else:
        outcome = await SESSION_EVENTS[event_type](session, portal, _facts(obj))
    await events.set_outcome(event_id, outcome)
    return outcome
