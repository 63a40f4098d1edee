"""Each event is recorded under its Stripe id and applied once, however often
and however concurrently Stripe delivers it; events we do not handle are
acknowledged and ignored."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from functions.checkout.models import Payment
from lib.payments.gateway import LineItem
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.checkout.support import (
    CONFIRMED,
    WEBHOOK,
    enrollment_statuses,
    event,
    outbox,
    pay_on_page,
    payment_items,
    payment_row,
    post_event,
    recorded_events,
    seats_taken,
    session_object,
    signed,
    simulator_of,
)

CONCURRENT_DELIVERIES = 20


async def test_an_event_type_we_do_not_handle_is_acknowledged_and_ignored(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN an event of a type the portal does not handle, about our payment
    unknown = event("customer.created", {"id": "cus_1", "object": "customer"})
    lookalike = event(
        "checkout.session.async_payment_pending",
        session_object(pending_payment, payment_intent="pi_x"),
    )

    # WHEN Stripe delivers each, and then delivers the first again
    first = await post_event(client, portal, unknown)
    other = await post_event(client, portal, lookalike)
    again = await post_event(client, portal, unknown)

    # THEN they are acknowledged (so Stripe stops sending) and change nothing
    assert (first.status_code, first.json()["outcome"]) == (200, "ignored")
    assert (other.status_code, other.json()["outcome"]) == (200, "ignored")
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert sorted((e.id, e.outcome) for e in await recorded_events(portal)) == sorted(
        [(unknown["id"], "ignored"), (lookalike["id"], "ignored")]
    )
    assert (await payment_row(portal, pending_payment.id)).status == "pending"


async def test_the_same_event_delivered_twice_is_applied_once(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN a paid event
    paid = event(
        "checkout.session.completed", session_object(pending_payment, payment_intent="pi_1")
    )

    # WHEN Stripe delivers it twice
    first = await post_event(client, portal, paid)
    second = await post_event(client, portal, paid)

    # THEN the second is acknowledged as a duplicate and nothing happens twice
    assert (first.status_code, first.json()["outcome"]) == (200, "paid")
    assert (second.status_code, second.json()["outcome"]) == (200, "duplicate")
    assert len(await outbox(portal, kind=CONFIRMED)) == 1
    assert [(e.id, e.outcome) for e in await recorded_events(portal)] == [(paid["id"], "paid")]


async def test_twenty_concurrent_deliveries_of_one_event_are_applied_once(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN one paid event, signed once
    paid = event(
        "checkout.session.completed", session_object(pending_payment, payment_intent="pi_2")
    )
    body, headers = signed(portal, paid)
    (item,) = await payment_items(portal, pending_payment.id)

    # WHEN Stripe delivers it twenty times at the same moment
    responses = await asyncio.gather(
        *(client.post(WEBHOOK, content=body, headers=headers) for _ in range(CONCURRENT_DELIVERIES))
    )

    # THEN every delivery is acknowledged, exactly one applied it
    assert [r.status_code for r in responses] == [200] * CONCURRENT_DELIVERIES, [
        r.text for r in responses if r.status_code != 200
    ]
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate"] * (CONCURRENT_DELIVERIES - 1) + ["paid"]
    # ... one confirmation, one active enrollment holding one seat, one record
    assert len(await outbox(portal, kind=CONFIRMED)) == 1
    assert await enrollment_statuses(portal, pending_payment.id) == ["active"]
    assert await seats_taken(portal, item.course_id) == 1
    assert [(e.id, e.outcome) for e in await recorded_events(portal)] == [(paid["id"], "paid")]


async def test_a_failed_application_is_not_recorded_so_the_retry_applies_it(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN a refund event that overtook the payment's own confirmation
    intent = "pi_3"
    refunded = event(
        "charge.refunded",
        {
            "id": "ch_3",
            "object": "charge",
            "payment_intent": intent,
            "amount": pending_payment.amount,
            "amount_refunded": pending_payment.amount,
            "currency": "usd",
            "refunded": True,
            "metadata": {"payment_id": pending_payment.id},
        },
    )
    not_ready = await post_event(client, portal, refunded)

    # THEN Stripe is told to try again later, and nothing is on record
    assert not_ready.status_code == 409
    assert not_ready.json()["error"]["code"] == "event_not_ready"
    assert await recorded_events(portal) == []

    # WHEN the paid event lands and Stripe retries the refund event
    paid = event(
        "checkout.session.completed", session_object(pending_payment, payment_intent=intent)
    )
    assert (await post_event(client, portal, paid)).json()["outcome"] == "paid"
    retried = await post_event(client, portal, refunded)

    # THEN the retry is applied, once
    assert (retried.status_code, retried.json()["outcome"]) == (200, "refunded")
    assert (await payment_row(portal, pending_payment.id)).status == "refunded"
    assert await enrollment_statuses(portal, pending_payment.id) == ["refunded"]
    again = await post_event(client, portal, refunded)
    assert again.json()["outcome"] == "duplicate"


async def test_a_paid_session_that_is_not_ours_is_left_alone(
    client: httpx.AsyncClient, portal: Portal, pending_payment: Payment
) -> None:
    # GIVEN a paid session from elsewhere in the same Stripe account: it names
    # no payment of ours
    foreign = session_object(pending_payment, payment_intent="pi_shop_order")
    foreign["id"] = "cs_from_the_shop"
    foreign["metadata"] = {}
    foreign["client_reference_id"] = None

    # WHEN its event arrives
    response = await post_event(client, portal, event("checkout.session.completed", foreign))

    # THEN it is acknowledged and nothing is touched: no refund of someone else's sale
    assert (response.status_code, response.json()["outcome"]) == (200, "unknown_payment")
    assert (await payment_row(portal, pending_payment.id)).status == "pending"


async def test_money_for_a_payment_we_never_recorded_goes_back(
    client: httpx.AsyncClient, factory: Factory, portal: Portal
) -> None:
    # GIVEN a session at Stripe that names a payment the portal does not have
    # (its checkout's transaction never committed), and it is paid
    assert portal.payments is not None
    orphan = await portal.payments.create_checkout_session(
        payment_id="payment-that-was-rolled-back",
        lines=[LineItem("Lost course", 7700, "usd")],
        customer_email="lost@example.com",
        success_url="http://testserver/ok",
        cancel_url="http://testserver/cancel",
        expires_at=portal.clock.now() + timedelta(minutes=30),
        idempotency_key="orphan-1",
    )
    assert (await pay_on_page(client, orphan.id)).status_code == 303
    simulator = simulator_of(portal)

    # WHEN its event is delivered
    assert await simulator.deliver_pending() == 1

    # THEN the money is refunded in full
    assert [(e.type, e.outcome) for e in await recorded_events(portal)] == [
        ("checkout.session.completed", "refunded_unknown")
    ]
    refund = (await simulator.events())[-1]
    assert refund["type"] == "charge.refunded"
    assert refund["data"]["object"]["amount_refunded"] == 7700
