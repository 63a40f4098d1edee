"""The outbox: everything that tells a person something is written here in the
same transaction as the change that caused it, and delivered afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from lib.db import Base, UTCDateTime, insert_for, new_id, rowcount


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_recipient_created_at", "recipient_id", "created_at"),
        # The unread count, asked on every page change, is read from this alone.
        Index("ix_outbox_messages_recipient_read_at", "recipient_id", "read_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    recipient_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # What the message is about, under a unique key: the same reminder or
    # notice is never queued twice, whoever tries.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The e-mail channel: a deliverer claims a row before sending it, so two
    # deliverers running at once never send the same message.
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The in-app channel: the same row is the notification in the person's list.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    recipient_id: str,
    payload: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
) -> bool:
    """Queue a message; False when one under the same key exists already (a
    second scheduler, a replayed job or a repeated event queues nothing)."""
    statement = insert_for(session)(OutboxMessage).values(
        id=new_id(),
        kind=kind,
        recipient_id=recipient_id,
        payload=payload,
        dedupe_key=dedupe_key,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return rowcount(await session.execute(statement)) == 1
