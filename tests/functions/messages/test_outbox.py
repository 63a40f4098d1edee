"""The outbox is written in the request's own transaction: what rolls back is
never told, and a key names each message once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.routing import Route

from functions.asgi import build_app
from functions.messages import service
from lib.clock import FrozenClock
from lib.errors import PortalError
from lib.http import SIGNED_IN, Call, endpoint
from lib.outbox import enqueue
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.messages.support import eml_files, outbox_rows


class ProbeRefused(PortalError):
    status_code = 409
    code = "probe_refused"


@endpoint(SIGNED_IN, status=204, query=["fail"], errors=[409], summary="Queue, then maybe fail")
async def tell_then_maybe_fail(call: Call[None]) -> None:
    await enqueue(
        call.session, kind="auth.welcome", recipient_id=call.me.id, payload={}, now=call.now
    )
    if call.query("fail"):
        raise ProbeRefused("The work after the notice failed.")


@pytest.fixture
async def probe(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    """A tiny app with one endpoint that queues a message and then may fail."""
    app = build_app(
        {"probe": [Route("/tell", tell_then_maybe_fail, methods=["POST"])]},
        portal=portal,
        serve_static=False,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_failed_request_queues_nothing_and_a_successful_one_does(
    probe: httpx.AsyncClient, portal: Portal
) -> None:
    # GIVEN a signed-in student
    student = await Factory(portal, probe).user()
    headers = Factory(portal, probe).headers_for(student)

    # WHEN a request queues a notice and then fails
    failed = await probe.post("/api/probe/tell", params={"fail": "1"}, headers=headers)

    # THEN the notice is gone with the rest of the request, and nothing is sent
    assert failed.status_code == 409
    assert await outbox_rows(portal) == []
    assert (await service.deliver_due(portal)).sent == 0
    assert eml_files(portal.settings.mail_dir) == []

    # WHEN the same request succeeds
    succeeded = await probe.post("/api/probe/tell", headers=headers)

    # THEN its notice is listed and sent
    assert succeeded.status_code == 204
    [row] = await outbox_rows(portal)
    assert row.recipient_id == student.id
    assert (await service.deliver_due(portal)).sent == 1
    assert len(eml_files(portal.settings.mail_dir)) == 1


async def test_a_checkout_refused_as_course_full_tells_no_one(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a student whose cart holds a free course and a one-seat course someone else took
    late = await factory.user()
    free = await factory.course(price=0)
    one_seat = await factory.course(capacity=1, payment_due_days=7)
    await factory.in_cart(student=late, courses=[free, one_seat])
    await factory.checked_out(student=await factory.user(), courses=[one_seat])
    before = await outbox_rows(portal)

    # WHEN the student checks out
    response = await client.post("/api/checkout", headers=factory.headers_for(late))

    # THEN it is refused, no seat is held, and no notice was queued or sent
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "course_full"
    mine = await client.get("/api/catalog/enrollments", headers=factory.headers_for(late))
    assert mine.json()["items"] == []
    assert [r.id for r in await outbox_rows(portal)] == [r.id for r in before]
    await service.deliver_due(portal)
    assert all(r.recipient_id != late.id for r in await outbox_rows(portal))
    assert not any(late.email in path.read_text() for path in eml_files(portal.settings.mail_dir))


async def test_one_message_per_key_whoever_queues_it(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a student
    student = await factory.user()

    # WHEN the same notice is queued three times under one key, in separate transactions
    outcomes = []
    for _ in range(3):
        async with portal.transaction() as session:
            outcomes.append(
                await enqueue(
                    session,
                    kind="checkout.refund_issued",
                    recipient_id=student.id,
                    payload={"payment_id": "p1"},
                    now=clock.now(),
                    dedupe_key="checkout.refund_issued:p1",
                )
            )
        clock.advance(minutes=1)

    # THEN only the first went in, and one mail goes out
    assert outcomes == [True, False, False]
    [row] = await outbox_rows(portal)
    assert row.dedupe_key == "checkout.refund_issued:p1"
    assert (await service.deliver_due(portal)).sent == 1
    assert len(eml_files(portal.settings.mail_dir)) == 1
