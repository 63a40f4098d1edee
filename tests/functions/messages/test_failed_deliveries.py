"""Failed e-mail as administrators see it: listed, retried, then delivered once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from functions.messages import service
from functions.messages.service import MAX_ATTEMPTS
from lib.clock import FrozenClock
from lib.config import Settings
from lib.runtime import Portal
from lib.security import Role
from tests import conftest
from tests.factories import Factory
from tests.functions.messages.support import SmtpServer, outbox_row, outbox_rows

DELIVERIES = "/api/messages/deliveries"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return conftest.test_settings(database_url, tmp_path, smtp_url=smtp.url)


async def fail_every_attempt(portal: Portal, clock: FrozenClock) -> None:
    """Run the deliverer each time the queue falls due until it gives up."""
    for _ in range(MAX_ATTEMPTS):
        await service.deliver_due(portal)
        clock.advance(hours=1)


async def test_failed_mail_is_listed_retried_and_then_delivered_once(
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    smtp: SmtpServer,
    clock: FrozenClock,
) -> None:
    # GIVEN a welcome and a second message that the server refused five times each
    student = await factory.registered(username="failing", email="failing@example.com")
    refund = {"payment_id": "p9", "amount": 4900, "currency": "usd"}
    clock.advance(minutes=1)
    await factory.queued(recipient=student, kind="checkout.refund_issued", payload=refund)
    smtp.refuse = "451 try later"
    await fail_every_attempt(portal, clock)
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    assert {r.status for r in await outbox_rows(portal)} == {"failed"}

    # WHEN an administrator lists failed deliveries
    listed = await client.get(DELIVERIES, params={"status": "failed"}, headers=admin)

    # THEN both are there, newest first, with the attempts and the reason
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["kind"] for i in items] == ["checkout.refund_issued", "auth.welcome"]
    for item in items:
        assert item["status"] == "failed"
        assert item["attempts"] == MAX_ATTEMPTS
        assert item["recipient_id"] == student.id
        assert "451" in item["last_error"]
        assert item["sent_at"] is None
    # AND without a status the list is the failed one
    default = await client.get(DELIVERIES, headers=admin)
    assert [i["id"] for i in default.json()["items"]] == [i["id"] for i in items]

    # WHEN the server works again and the administrator retries the welcome
    smtp.refuse = None
    welcome_id = items[1]["id"]
    retried = await client.post(f"{DELIVERIES}/{welcome_id}/retry", headers=admin)

    # THEN it is pending again, due now, with a fresh count of attempts
    assert retried.status_code == 204, retried.text
    row = await outbox_row(portal, welcome_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert row.next_attempt_at == clock.now()
    pending = await client.get(DELIVERIES, params={"status": "pending"}, headers=admin)
    assert [i["id"] for i in pending.json()["items"]] == [welcome_id]

    # WHEN the deliverer runs twice
    first = await service.deliver_due(portal)
    second = await service.deliver_due(portal)

    # THEN the welcome was delivered once and the other message stays failed
    assert (first.sent, second.sent) == (1, 0)
    assert [r.outbox_id for r in smtp.received] == [welcome_id]
    assert (await outbox_row(portal, welcome_id)).status == "sent"
    still_failed = await client.get(DELIVERIES, params={"status": "failed"}, headers=admin)
    assert [i["kind"] for i in still_failed.json()["items"]] == ["checkout.refund_issued"]
    sent = await client.get(DELIVERIES, params={"status": "sent"}, headers=admin)
    assert [(i["id"], i["attempts"]) for i in sent.json()["items"]] == [(welcome_id, 1)]

    # AND a sent message cannot be retried
    again = await client.post(f"{DELIVERIES}/{welcome_id}/retry", headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_retryable"
    assert len(smtp.received) == 1


async def test_pending_and_unknown_deliveries_are_not_retryable(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a message waiting for its first delivery
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    student = await factory.registered()
    [row] = await outbox_rows(portal)

    # WHEN an administrator asks to retry it, or an id that does not exist
    pending = await client.post(f"{DELIVERIES}/{row.id}/retry", headers=admin)
    unknown = await client.post(f"{DELIVERIES}/{'0' * 32}/retry", headers=admin)

    # THEN the pending one is not retryable, the unknown one not found, and the row untouched
    assert pending.status_code == 409
    assert pending.json()["error"]["code"] == "not_retryable"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    after = await outbox_row(portal, row.id)
    assert (after.status, after.attempts, after.recipient_id) == ("pending", 0, student.id)


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR])
async def test_only_administrators_see_and_retry_deliveries(
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    smtp: SmtpServer,
    clock: FrozenClock,
    role: Role,
) -> None:
    # GIVEN a failed delivery addressed to a student
    student = await factory.registered(username="victim", email="victim@example.com")
    smtp.refuse = "451 try later"
    await fail_every_attempt(portal, clock)
    [row] = await outbox_rows(portal)
    assert row.status == "failed"
    caller = factory.headers_for(student if role == Role.STUDENT else await factory.user(role=role))

    # WHEN a student or an instructor lists or retries deliveries
    listed = await client.get(DELIVERIES, params={"status": "failed"}, headers=caller)
    retried = await client.post(f"{DELIVERIES}/{row.id}/retry", headers=caller)
    anonymous = await client.get(DELIVERIES)

    # THEN they are refused and the delivery stays failed
    assert (listed.status_code, retried.status_code) == (403, 403)
    assert listed.json()["error"]["code"] == "forbidden"
    assert anonymous.status_code == 401
    assert (await outbox_row(portal, row.id)).status == "failed"


async def test_an_unknown_status_is_invalid(client: httpx.AsyncClient, factory: Factory) -> None:
    # GIVEN an administrator
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))

    # WHEN they ask for deliveries in a status that does not exist
    response = await client.get(DELIVERIES, params={"status": "lost"}, headers=admin)

    # THEN the answer names the field
    assert response.status_code == 422
    assert "status" in response.json()["error"]["fields"]


async def test_failed_deliveries_page_with_a_cursor(
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    smtp: SmtpServer,
    clock: FrozenClock,
) -> None:
    # GIVEN five failed deliveries queued a minute apart
    student = await factory.user()
    for _ in range(5):
        await factory.queued(recipient=student)
        clock.advance(minutes=1)
    smtp.refuse = "451 try later"
    await fail_every_attempt(portal, clock)
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))

    # WHEN an administrator pages through them two at a time
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"status": "failed", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(DELIVERIES, params=params, headers=admin)).json()
        seen.extend(i["id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # THEN each appears once, newest first
    rows = await outbox_rows(portal)
    assert seen == [r.id for r in reversed(rows)]
