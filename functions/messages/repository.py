"""Queries over the outbox: a person's notifications, and e-mail delivery claims."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lib.db import rowcount
from lib.fastreads import Reads, read_rows
from lib.outbox import OutboxMessage
from lib.pagination import AFTER
from lib.pagination import after as past

NEWEST_FIRST = (OutboxMessage.created_at, OutboxMessage.id)
_outbox = OutboxMessage.__table__.c
# What a person's list shows of a notification.
_NOTIFICATION = select(
    _outbox.id, _outbox.kind, _outbox.payload, _outbox.created_at, _outbox.read_at
)
_RECIPIENT: BindParameter[str] = bindparam("user_id")
# Answered from the (recipient_id, read_at) index alone.
_UNREAD = select(func.count()).where(_outbox.recipient_id == _RECIPIENT, _outbox.read_at.is_(None))


@lru_cache(maxsize=4)
def _page(*, unread_only: bool, after: bool) -> Select[Any]:
    """One page, newest first (a template per shape: lib/fastreads.py)."""
    query = _NOTIFICATION.where(_outbox.recipient_id == _RECIPIENT)
    if unread_only:
        query = query.where(_outbox.read_at.is_(None))
    if after and (beyond := past(NEWEST_FIRST, AFTER, descending=True)) is not None:
        query = query.where(beyond)
    order = (_outbox.created_at.desc(), _outbox.id.desc())
    return query.order_by(*order).limit(bindparam("limit"))


async def unread_total(reads: Reads, user_id: str) -> int:
    """How many of the user's notifications are unread, by the driver."""
    return int(await reads.scalar(_UNREAD, {"user_id": user_id}) or 0)


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_user(
        self, user_id: str, *, after: tuple[Any, ...] | None, limit: int, unread_only: bool
    ) -> Sequence[Any]:
        """One page, newest first: rows of the listed columns, no ORM objects."""
        params: dict[str, Any] = {"user_id": user_id, "limit": limit}
        if after is not None:
            params.update(after_0=after[0], after_1=after[1])
        query = _page(unread_only=unread_only, after=after is not None)
        return await read_rows(self.session, query, params)

    async def unread_count(self, user_id: str) -> int:
        return int((await read_rows(self.session, _UNREAD, {"user_id": user_id}))[0][0])

    async def mark_read(self, user_id: str, message_id: str, *, now: datetime) -> bool:
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.recipient_id == user_id)
            .values(read_at=func.coalesce(OutboxMessage.read_at, now))
        )
        return rowcount(result) == 1

    async def mark_all_read(self, user_id: str, *, now: datetime) -> int:
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.recipient_id == user_id, OutboxMessage.read_at.is_(None))
            .values(read_at=now)
        )
        return rowcount(result)


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def release_stale_claims(self, *, older_than: datetime) -> None:
        """A deliverer that died mid-send leaves rows claimed; give them back."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < older_than)
            .values(status="pending", claimed_by=None)
        )

    async def claim(self, *, token: str, now: datetime, limit: int) -> list[OutboxMessage]:
        """Take up to `limit` due messages for this deliverer alone."""
        due = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
        )
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            # Two deliverers skip each other's rows instead of waiting on them.
            ids = list(
                (await self.session.execute(due.with_for_update(skip_locked=True))).scalars()
            )
            if not ids:
                return []
            condition = OutboxMessage.id.in_(ids)
        else:
            # SQLite serializes writers (BEGIN IMMEDIATE): the conditional
            # update below is the claim.
            condition = OutboxMessage.id.in_(due.scalar_subquery())
        await self.session.execute(
            update(OutboxMessage)
            .where(condition, OutboxMessage.status == "pending")
            .values(status="sending", claimed_by=token, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.claimed_by == token, OutboxMessage.status == "sending")
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
        return list(result.scalars().all())

    async def give_back(self, token: str) -> None:
        """This deliverer's claimed rows it did not send go back to the queue."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == token, OutboxMessage.status == "sending")
            .values(status="pending", claimed_by=None)
        )

    async def finish(self, message_id: str, *, token: str, values: dict[str, Any]) -> bool:
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == token)
            .values(**values)
        )
        return rowcount(result) == 1

    async def by_status(
        self, status: str, *, after: tuple[Any, ...] | None, limit: int
    ) -> list[OutboxMessage]:
        query = select(OutboxMessage).where(OutboxMessage.status == status)
        if (beyond := past(NEWEST_FIRST, after, descending=True)) is not None:
            query = query.where(beyond)
        query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        return list((await self.session.execute(query.limit(limit))).scalars().all())

    async def get(self, message_id: str) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, message_id)

    async def retry(self, message_id: str, *, now: datetime) -> bool:
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "failed")
            .values(
                status="pending", attempts=0, next_attempt_at=now, claimed_by=None, last_error=None
            )
        )
        return rowcount(result) == 1
