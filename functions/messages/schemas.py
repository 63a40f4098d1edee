from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from functions.messages.service import NotificationList, NotificationView
from lib.outbox import OutboxMessage


class NotificationOut(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    link: str
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, view: NotificationView) -> NotificationOut:
        text = view.rendered.text.split("\n\n")
        # The greeting and the sign-off belong to the e-mail, not the list.
        body = "\n\n".join(text[1:-2]) if len(text) > 3 else view.rendered.text
        return cls(
            id=view.id,
            kind=view.kind,
            title=view.rendered.subject,
            body=body,
            link=view.rendered.link,
            created_at=view.created_at,
            read=view.read,
        )


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int

    @classmethod
    def of(cls, listed: NotificationList) -> NotificationPage:
        return cls(
            items=[NotificationOut.of(v) for v in listed.items],
            next_cursor=listed.next_cursor,
            unread=listed.unread,
        )


class UnreadOut(BaseModel):
    unread: int


class DeliveryOut(BaseModel):
    id: str
    kind: str
    recipient_id: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, message: OutboxMessage) -> DeliveryOut:
        return cls(
            id=message.id,
            kind=message.kind,
            recipient_id=message.recipient_id,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            created_at=message.created_at,
            next_attempt_at=message.next_attempt_at,
            sent_at=message.sent_at,
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
