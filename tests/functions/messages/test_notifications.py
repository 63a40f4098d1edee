"""The in-app channel: my notifications, newest first, with an unread count."""

from __future__ import annotations

import httpx

from functions.auth.models import User
from lib.clock import FrozenClock
from lib.outbox import OutboxMessage
from tests.factories import Factory

NOTIFICATIONS = "/api/messages/notifications"


async def three_notifications(
    factory: Factory, clock: FrozenClock, student: User
) -> list[OutboxMessage]:
    """A welcome, a reminder and a receipt, a minute apart, oldest first."""
    payloads = [
        ("auth.welcome", {}),
        ("checkout.payment_due_soon",
         {"payment_id": "pay_1", "amount": 12900, "currency": "usd",
          "due_at": "2026-01-12T09:00:00+00:00", "due_in": "in 3 days", "days": 3}),
        ("checkout.payment_confirmed",
         {"payment_id": "pay_1", "amount": 12900, "currency": "usd"}),
    ]  # fmt: skip
    queued = []
    for kind, payload in payloads:
        queued.append(await factory.queued(recipient=student, kind=kind, payload=payload))
        clock.advance(minutes=1)
    return queued


async def test_my_notifications_newest_first_with_the_unread_count(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN a student with three notifications and another student with one
    student = await factory.user()
    other = await factory.user()
    queued = await three_notifications(factory, clock, student)
    await factory.queued(recipient=other)

    # WHEN the student lists their notifications
    response = await client.get(NOTIFICATIONS, headers=factory.headers_for(student))

    # THEN they see their own three, newest first, all unread
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["unread"] == 3
    assert page["next_cursor"] is None
    assert [i["id"] for i in page["items"]] == [m.id for m in reversed(queued)]
    assert [i["read"] for i in page["items"]] == [False, False, False]
    receipt, reminder, welcome = page["items"]
    assert receipt["title"] == "Payment received: you are enrolled"
    assert receipt["link"] == "http://testserver/#/payments/pay_1"
    assert reminder["title"] == "Payment due in 3 days"
    assert "129.00 USD" in reminder["body"]
    assert welcome["title"] == "Welcome to the Student Portal"
    # AND the greeting and the sign-off of the e-mail are not in the list
    assert not any(i["body"].startswith("Hello") for i in page["items"])
    assert welcome["created_at"] == queued[0].created_at.isoformat().replace("+00:00", "Z")


async def test_pages_of_notifications_follow_the_cursor(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN six notifications
    student = await factory.user()
    queued = await three_notifications(factory, clock, student)
    queued += await three_notifications(factory, clock, student)
    headers = factory.headers_for(student)

    # WHEN they are read four at a time
    pages: list[list[str]] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(NOTIFICATIONS, params=params, headers=headers)).json()
        pages.append([i["id"] for i in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # THEN every one shows once, newest first, and a broken cursor is refused
    newest_first = [m.id for m in reversed(queued)]
    assert pages == [newest_first[:4], newest_first[4:]]
    broken = await client.get(NOTIFICATIONS, params={"cursor": "not-a-cursor"}, headers=headers)
    assert broken.status_code == 422


async def test_mark_one_read_then_all(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN three unread notifications
    student = await factory.user()
    queued = await three_notifications(factory, clock, student)
    headers = factory.headers_for(student)

    # WHEN the student reads the oldest one, twice
    first = await client.post(f"{NOTIFICATIONS}/{queued[0].id}/read", headers=headers)
    again = await client.post(f"{NOTIFICATIONS}/{queued[0].id}/read", headers=headers)

    # THEN two are left unread, and only that one is marked
    assert (first.status_code, first.json()) == (200, {"unread": 2})
    assert again.json() == {"unread": 2}
    listed = (await client.get(NOTIFICATIONS, headers=headers)).json()
    assert {i["id"]: i["read"] for i in listed["items"]} == {
        queued[0].id: True,
        queued[1].id: False,
        queued[2].id: False,
    }
    unread_only = (await client.get(NOTIFICATIONS, params={"unread": "1"}, headers=headers)).json()
    assert [i["id"] for i in unread_only["items"]] == [queued[2].id, queued[1].id]
    counted = await client.get(f"{NOTIFICATIONS}/unread", headers=headers)
    assert counted.json() == {"unread": 2}

    # WHEN they mark all read
    everything = await client.post(f"{NOTIFICATIONS}/read", headers=headers)

    # THEN none is unread
    assert (everything.status_code, everything.json()) == (200, {"unread": 0})
    listed = (await client.get(NOTIFICATIONS, headers=headers)).json()
    assert listed["unread"] == 0
    assert all(i["read"] for i in listed["items"])


async def test_someone_elses_notification_does_not_exist_for_me(
    client: httpx.AsyncClient, factory: Factory, clock: FrozenClock
) -> None:
    # GIVEN two students with notifications of their own
    owner = await factory.user()
    intruder = await factory.user()
    theirs = await three_notifications(factory, clock, owner)
    await factory.queued(recipient=intruder)
    headers = factory.headers_for(intruder)

    # WHEN one tries to mark the other's notification read, and then marks all of theirs
    response = await client.post(f"{NOTIFICATIONS}/{theirs[0].id}/read", headers=headers)
    unknown = await client.post(f"{NOTIFICATIONS}/{'f' * 32}/read", headers=headers)
    await client.post(f"{NOTIFICATIONS}/read", headers=headers)

    # THEN it is not found, and the owner's notifications stay unread
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert unknown.status_code == 404
    mine = (await client.get(NOTIFICATIONS, headers=factory.headers_for(owner))).json()
    assert mine["unread"] == 3
    assert not any(i["read"] for i in mine["items"])


async def test_notifications_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    # GIVEN no access token
    # WHEN the notification endpoints are called
    responses = [
        await client.get(NOTIFICATIONS),
        await client.get(f"{NOTIFICATIONS}/unread"),
        await client.post(f"{NOTIFICATIONS}/read"),
        await client.post(f"{NOTIFICATIONS}/{'a' * 32}/read"),
    ]

    # THEN every one answers 401
    assert [r.status_code for r in responses] == [401, 401, 401, 401]
