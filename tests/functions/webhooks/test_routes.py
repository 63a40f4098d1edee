"""POST /api/webhooks/stripe accepts only what Stripe signed, recently, with
our secret; everything else is refused before anything is recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from functions.checkout.models import Payment
from functions.router import create_app
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.payments.signing import sign
from lib.runtime import Portal
from tests.conftest import test_settings as settings_for
from tests.functions.checkout.support import (
    WEBHOOK,
    event,
    payment_row,
    recorded_events,
    session_object,
    signed,
)


def paid_event(payment: Payment) -> dict[str, object]:
    return event(
        "checkout.session.completed",
        session_object(payment, payment_intent=f"pi_for_{payment.id}"),
    )


async def test_a_signed_event_is_accepted(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN a paid event signed with our secret, now
    body, headers = signed(portal, paid_event(pending_payment))

    # WHEN Stripe posts it
    response = await client.post(WEBHOOK, content=body, headers=headers)

    # THEN it is applied
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "outcome": "paid"}
    assert (await payment_row(portal, pending_payment.id)).status == "paid"


async def assert_refused(
    response: httpx.Response, portal: Portal, payment: Payment, *, status: int, code: str
) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await recorded_events(portal) == []
    assert (await payment_row(portal, payment.id)).status == "pending"


async def test_a_missing_signature_is_refused(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN a well-formed event without a Stripe-Signature header
    body = json.dumps(paid_event(pending_payment)).encode()

    # WHEN it is posted
    response = await client.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/json"}
    )

    # THEN 400 bad_signature, and nothing is recorded or applied
    await assert_refused(response, portal, pending_payment, status=400, code="bad_signature")


async def test_a_signature_with_another_secret_is_refused(
    client: httpx.AsyncClient, portal: Portal, clock: FrozenClock, pending_payment: Payment
) -> None:
    # GIVEN an event signed with a secret that is not ours
    body = json.dumps(paid_event(pending_payment)).encode()
    header = sign(body, "whsec_someone_else", timestamp=int(clock.now().timestamp()))

    # WHEN it is posted
    response = await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": header})

    # THEN it is refused
    await assert_refused(response, portal, pending_payment, status=400, code="bad_signature")


async def test_a_body_changed_after_signing_is_refused(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN a signed event whose amount is changed on the way
    original = paid_event(pending_payment)
    _, headers = signed(portal, original)
    tampered = json.loads(json.dumps(original))
    tampered["data"]["object"]["amount_total"] = 1

    # WHEN the changed body is posted with the original signature
    response = await client.post(WEBHOOK, content=json.dumps(tampered).encode(), headers=headers)

    # THEN it is refused
    await assert_refused(response, portal, pending_payment, status=400, code="bad_signature")


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=,v1=", "t=abc,v1=00", "v1=00", "t=1767603600", "t=1767603600,v0=00"],
)
async def test_a_malformed_signature_header_is_refused(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment, header: str
) -> None:
    body = json.dumps(paid_event(pending_payment)).encode()
    response = await client.post(WEBHOOK, content=body, headers={"Stripe-Signature": header})
    await assert_refused(response, portal, pending_payment, status=400, code="bad_signature")


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301)])
async def test_a_signature_more_than_five_minutes_off_is_refused(
    client: httpx.AsyncClient,
    portal: Portal,
    clock: FrozenClock,
    pending_payment: Payment,
    offset: timedelta,
) -> None:
    # GIVEN an event signed five minutes and a second away from now (a replay)
    body, headers = signed(portal, paid_event(pending_payment), at=clock.now() + offset)

    # WHEN it is posted
    response = await client.post(WEBHOOK, content=body, headers=headers)

    # THEN it is refused
    await assert_refused(response, portal, pending_payment, status=400, code="bad_signature")


async def test_a_signature_just_under_five_minutes_old_is_accepted(
    client: httpx.AsyncClient, portal: Portal, clock: FrozenClock, pending_payment: Payment
) -> None:
    # GIVEN an event signed 300 seconds ago (Stripe's tolerance, inclusive)
    body, headers = signed(
        portal, paid_event(pending_payment), at=clock.now() - timedelta(seconds=300)
    )

    # WHEN it is posted, THEN it is applied
    response = await client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "paid"


async def test_any_valid_signature_among_several_is_enough(
    client: httpx.AsyncClient, portal: Portal, clock: FrozenClock, pending_payment: Payment
) -> None:
    # GIVEN a header with an old secret's signature next to the current one
    # (what Stripe sends while an endpoint's secret is being rolled)
    body, headers = signed(portal, paid_event(pending_payment))
    stamp = int(clock.now().timestamp())
    old = sign(body, "whsec_rolled_away", timestamp=stamp).split(",")[1]
    headers["Stripe-Signature"] = f"{headers['Stripe-Signature']},{old}"

    # WHEN it is posted, THEN it is applied
    response = await client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"id": "evt_1", "type": "checkout.session.completed"}',
        b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": "x"}}',
        b'{"type": "checkout.session.completed", "data": {"object": {}}}',
    ],
)
async def test_a_signed_body_that_is_not_an_event_is_refused(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment, body: bytes
) -> None:
    # GIVEN a correctly signed body that is not a Stripe event
    _, headers = signed(portal, body)

    # WHEN it is posted
    response = await client.post(WEBHOOK, content=body, headers=headers)

    # THEN 400 malformed_event, nothing recorded
    await assert_refused(response, portal, pending_payment, status=400, code="malformed_event")


@pytest.fixture
async def portal_without_secret(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Portal]:
    built = build_portal(
        settings_for(database_url, tmp_path, stripe_webhook_secret=""), clock=clock
    )
    try:
        yield built
    finally:
        await built.dispose()


async def test_without_a_secret_the_endpoint_is_off(portal_without_secret: Portal) -> None:
    # GIVEN a portal configured without a webhook secret
    app = create_app(portal=portal_without_secret)
    transport = httpx.ASGITransport(app=app)
    body = json.dumps(event("checkout.session.completed", {"id": "cs_1"})).encode()

    # WHEN anything is posted, even "signed" with the empty secret
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        unsigned = await client.post(WEBHOOK, content=body)
        empty = await client.post(
            WEBHOOK,
            content=body,
            headers={"Stripe-Signature": sign(body, "", timestamp=1767603600)},
        )

    # THEN the endpoint answers 503 webhooks_off and records nothing
    for response in (unsigned, empty):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "webhooks_off"
    assert await recorded_events(portal_without_secret) == []
