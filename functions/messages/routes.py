from __future__ import annotations

from starlette.routing import Route

from functions.messages import service
from functions.messages.schemas import (
    DeliveryOut,
    DeliveryPage,
    NotificationPage,
    UnreadOut,
)
from lib.http import SIGNED_IN, Call, endpoint, only
from lib.pagination import parse_limit
from lib.security import Role


@endpoint(
    SIGNED_IN,
    response=NotificationPage,
    query=["unread", "cursor", "limit"],
    errors=[422],
    summary="My notifications, newest first, with the unread count",
)
async def list_notifications(call: Call[None]) -> NotificationPage:
    listed = await service.notifications(
        call.session, call.portal, call.me,
        cursor=call.query("cursor"), limit=parse_limit(call.query("limit")),
        unread_only=call.query("unread") in {"1", "true"},
    )  # fmt: skip
    return NotificationPage.of(listed)


@endpoint(SIGNED_IN, response=UnreadOut, summary="How many notifications I have not read")
async def unread_count(call: Call[None]) -> UnreadOut:
    return UnreadOut(unread=await service.unread_count(call.session, call.me))


@endpoint(
    SIGNED_IN,
    response=UnreadOut,
    errors=[404],
    summary="Mark one notification read",
    own_transactions=True,
)
async def mark_read(call: Call[None]) -> UnreadOut:
    return UnreadOut(
        unread=await service.mark_read(call.portal, call.me, call.path("id"), now=call.now)
    )


@endpoint(SIGNED_IN, response=UnreadOut, summary="Mark all my notifications read")
async def mark_all_read(call: Call[None]) -> UnreadOut:
    return UnreadOut(unread=await service.mark_all_read(call.session, call.me, now=call.now))


@endpoint(
    only(Role.ADMIN),
    response=DeliveryPage,
    query=["status", "cursor", "limit"],
    errors=[422],
    summary="E-mail deliveries by status (failed by default)",
)
async def list_deliveries(call: Call[None]) -> DeliveryPage:
    rows, next_cursor = await service.deliveries(
        call.session, status=call.query("status") or "failed",
        cursor=call.query("cursor"), limit=parse_limit(call.query("limit")),
    )  # fmt: skip
    return DeliveryPage(items=[DeliveryOut.of(r) for r in rows], next_cursor=next_cursor)


@endpoint(only(Role.ADMIN), status=204, errors=[404, 409], summary="Send a failed e-mail again")
async def retry_delivery(call: Call[None]) -> None:
    await service.retry_delivery(call.session, call.path("id"), now=call.now)


routes = [
    Route("/notifications", list_notifications, methods=["GET"]),
    Route("/notifications/unread", unread_count, methods=["GET"]),
    Route("/notifications/read", mark_all_read, methods=["POST"]),
    Route("/notifications/{id}/read", mark_read, methods=["POST"]),
    Route("/deliveries", list_deliveries, methods=["GET"]),
    Route("/deliveries/{id}/retry", retry_delivery, methods=["POST"]),
]
