"""Notifications: a person's list (in-app) and their e-mail delivery."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.messages.repository import (
    DeliveryRepository,
    NotificationRepository,
    unread_total,
)
from functions.messages.templates import Rendered, in_app, render
from lib.db import new_id
from lib.errors import Invalid, NotFound, PortalError
from lib.outbox import OutboxMessage
from lib.pagination import CursorKey
from lib.runtime import CurrentUser, Portal

log = logging.getLogger("portal.notifications")

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)
# A deliverer sends from its claim only this long, well inside STALE_CLAIM.
SEND_WITHIN = STALE_CLAIM / 2
DELIVERY_STATUSES = {"pending", "sending", "sent", "failed", "skipped"}


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 minutes between tries, at most an hour."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), timedelta(hours=1))


@dataclass
class NotificationView:
    id: str
    kind: str
    created_at: datetime
    read: bool
    rendered: Rendered


# Both lists run newest first, by (created_at, id).
PAGE_KEY = CursorKey(datetime, str)


def _key(message: OutboxMessage) -> tuple[datetime, str]:
    return message.created_at, message.id


def _row_key(row: Any) -> tuple[datetime, str]:
    return row.created_at, row.id


@dataclass
class NotificationList:
    items: list[NotificationView]
    next_cursor: str | None
    unread: int


async def notifications(
    session: AsyncSession,
    portal: Portal,
    user: CurrentUser,
    *,
    cursor: str | None,
    limit: int,
    unread_only: bool,
) -> NotificationList:
    """A person's notifications, newest first, with how many are unread."""
    repository = NotificationRepository(session)
    rows, next_cursor = PAGE_KEY.page(
        await repository.for_user(
            user.id, after=PAGE_KEY.decode(cursor), limit=limit + 1, unread_only=unread_only
        ),
        limit,
        _row_key,
    )
    # The name in the greeting is the caller's own, read when they were authenticated.
    name = (await auth.me(session, user)).full_name
    site = portal.settings.site_origin
    views = [
        NotificationView(
            m.id, m.kind, m.created_at, m.read_at is not None,
            render(m.kind, in_app(m.payload), recipient_name=name, site=site),
        )
        for m in rows
    ]  # fmt: skip
    return NotificationList(views, next_cursor, await repository.unread_count(user.id))


async def unread_count(session: AsyncSession, user: CurrentUser) -> int:
    return await NotificationRepository(session).unread_count(user.id)


async def mark_read(portal: Portal, user: CurrentUser, message_id: str, *, now: datetime) -> int:
    """Marks one read; returns how many are still unread, counted after the
    commit (the write transaction holds only the update)."""
    async with portal.transaction() as session:
        found = await NotificationRepository(session).mark_read(user.id, message_id, now=now)
    if not found:
        raise NotFound("No such notification.")
    return await unread_total(portal.reads, user.id)


async def mark_all_read(session: AsyncSession, user: CurrentUser, *, now: datetime) -> int:
    """Marks every one read; returns how many are still unread: none."""
    await NotificationRepository(session).mark_all_read(user.id, now=now)
    return 0


async def deliveries(
    session: AsyncSession, *, status: str, cursor: str | None, limit: int
) -> tuple[list[OutboxMessage], str | None]:
    if status not in DELIVERY_STATUSES:
        raise Invalid(fields={"status": "must be one of " + ", ".join(sorted(DELIVERY_STATUSES))})
    rows = await DeliveryRepository(session).by_status(
        status, after=PAGE_KEY.decode(cursor), limit=limit + 1
    )
    return PAGE_KEY.page(rows, limit, _key)


class NotRetryable(PortalError):
    status_code = 409
    code = "not_retryable"


async def retry_delivery(session: AsyncSession, message_id: str, *, now: datetime) -> None:
    deliveries_repo = DeliveryRepository(session)
    if not await deliveries_repo.retry(message_id, now=now):
        if await deliveries_repo.get(message_id) is None:
            raise NotFound("No such delivery.")
        raise NotRetryable("Only a failed delivery can be retried.")


# --- delivery ---------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


def _email(portal: Portal, message: OutboxMessage, *, to: str, rendered: Rendered) -> EmailMessage:
    email = EmailMessage()
    email["From"] = portal.settings.mail_from
    # One recipient per message: nobody ever sees another person's address.
    email["To"] = to
    email["Subject"] = rendered.subject
    email["Date"] = format_datetime(portal.clock.now())
    email["Message-ID"] = make_msgid(idstring=message.id, domain="student-portal")
    email["X-Portal-Message-Id"] = message.id
    # Quoted-printable keeps the message 7-bit: a server that does not offer
    # 8BITMIME (smtplib never checks) takes names and dashes unharmed.
    email.set_content(rendered.text, cte="quoted-printable")
    email.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    return email


async def deliver_due(portal: Portal, *, batch: int = 50) -> DeliveryReport:
    """Send due e-mail: claim, send outside any transaction, record each outcome
    as soon as it is known."""
    if portal.mailer is None:
        raise RuntimeError("no mailer configured")
    token = new_id()
    claimed_at = portal.clock.now()
    report = DeliveryReport()
    async with portal.transaction() as session:
        outgoing = await _claim_and_write(session, portal, token, batch, report)
    for index, (message, email) in enumerate(outgoing):
        if portal.clock.now() - claimed_at >= SEND_WITHIN:
            # Past this point another deliverer may take these rows back as
            # stale and send them too: hand the unsent ones back instead.
            async with portal.transaction() as session:
                await DeliveryRepository(session).give_back(token)
            log.warning("notifications.batch_cut %s left for later", len(outgoing) - index)
            break
        values = await _send(portal, message, email, report)
        # Recorded at once: a deliverer that dies later sends this one again never.
        async with portal.transaction() as session:
            await DeliveryRepository(session).finish(message.id, token=token, values=values)
    return report


async def _claim_and_write(
    session: AsyncSession, portal: Portal, token: str, batch: int, report: DeliveryReport
) -> list[tuple[OutboxMessage, EmailMessage]]:
    """Claim due messages for this deliverer and write each as an e-mail; one
    to an inactive account is skipped, one that cannot be written fails."""
    deliveries_repo = DeliveryRepository(session)
    now = portal.clock.now()
    await deliveries_repo.release_stale_claims(older_than=now - STALE_CLAIM)
    outgoing = []
    for message in await deliveries_repo.claim(token=token, now=now, limit=batch):
        user = await auth.get_user(session, message.recipient_id)
        if not user.is_active:
            report.skipped += 1
            values: dict[str, object] = {"status": "skipped", "claimed_by": None}
            await deliveries_repo.finish(message.id, token=token, values=values)
            continue
        try:
            rendered = render(
                message.kind, message.payload, recipient_name=user.full_name,
                site=portal.settings.site_origin,
            )  # fmt: skip
            outgoing.append((message, _email(portal, message, to=user.email, rendered=rendered)))
        except Exception as exc:
            # A message that cannot be written never will be: it fails at
            # once instead of blocking every later delivery run.
            report.failed += 1
            log.exception("notifications.render_failed %s", message.id)
            error = f"{type(exc).__name__}: {exc}"[:500]
            values = {"status": "failed", "last_error": error, "claimed_by": None}
            await deliveries_repo.finish(message.id, token=token, values=values)
    return outgoing


async def _send(
    portal: Portal, message: OutboxMessage, email: EmailMessage, report: DeliveryReport
) -> dict[str, object]:
    assert portal.mailer is not None
    attempts = message.attempts + 1
    try:
        await portal.mailer.send(email)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("notifications.send_failed %s attempt %s: %s", message.id, attempts, error)
        if attempts >= MAX_ATTEMPTS:
            report.failed += 1
            return {
                "status": "failed",
                "attempts": attempts,
                "last_error": error,
                "claimed_by": None,
            }
        report.retrying += 1
        return {
            "status": "pending",
            "attempts": attempts,
            "last_error": error,
            "next_attempt_at": portal.clock.now() + backoff(attempts),
            "claimed_by": None,
        }
    report.sent += 1
    return {
        "status": "sent",
        "sent_at": portal.clock.now(),
        "attempts": attempts,
        "claimed_by": None,
    }
