"""No Stripe call inside a database transaction, and what that leaves when
something breaks in between: Stripe failing, or the process dying, after the
seats were held. The expiry job takes each payment on its own. Refunds an
event makes owed go out after its commit, and again until Stripe takes them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from functions.catalog import service as catalog_service
from functions.checkout import tasks
from functions.checkout.models import Payment, Refund
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.payments.gateway import PaymentGateway, PaymentProviderError
from lib.runtime import Portal
from tests.conftest import test_settings as settings_for
from tests.factories import Factory
from tests.functions.checkout.servers import SECRET_KEY, portal_servers
from tests.functions.checkout.support import (
    enrollment_row,
    enrollment_statuses,
    error_code,
    event,
    expire_overdue_payments,
    pay_on_page,
    payment_row,
    post_event,
    seats_taken,
    session_id_of,
    session_object,
    simulator_of,
)

PAYMENTS = "/api/checkout/payments"


def gateway_of(portal: Portal) -> PaymentGateway:
    assert portal.payments is not None
    return portal.payments


async def down(*args: Any, **kwargs: Any) -> Any:
    raise PaymentProviderError("Stripe is down")


async def my_payments(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return list((await client.get(PAYMENTS, headers=headers)).json()["items"])


# --- Stripe fails after the seats were held --------------------------------------------


async def test_a_stripe_failure_after_the_hold_leaves_a_payment_pay_now_can_finish(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a student with a course in the cart, and Stripe not answering
    student = await factory.user()
    me = factory.headers_for(student)
    course = await factory.course(capacity=1)
    await factory.in_cart(student=student, courses=[course])
    monkeypatch.setattr(gateway_of(portal), "create_checkout_session", down)

    # WHEN the student checks out
    response = await client.post("/api/checkout", headers=me)

    # THEN they hear the provider failed, and that their seat is held and where to pay
    assert response.status_code == 502, response.text
    assert error_code(response) == "payment_provider_unavailable"
    payment_id = response.json()["error"]["fields"]["payment_id"]
    assert "held" in response.json()["error"]["message"]
    # ... the first transaction stands: seat held, payment pending without a session
    payment = await payment_row(portal, payment_id)
    assert (payment.status, payment.checkout_session_id) == ("pending", None)
    assert await enrollment_statuses(portal, payment_id) == ["pending_payment"]
    assert await seats_taken(portal, course.id) == 1
    assert [p["id"] for p in await my_payments(client, me)] == [payment_id]

    # WHEN Stripe is back and the student presses "Pay now" while it is due
    monkeypatch.undo()
    pay = await client.post(f"{PAYMENTS}/{payment_id}/pay", headers=me)

    # THEN a session opens and paying it enrols them
    assert pay.status_code == 200, pay.text
    await pay_on_page(client, session_id_of(pay.json()["checkout_url"]))
    await simulator_of(portal).deliver_pending()
    assert await enrollment_statuses(portal, payment_id) == ["active"]


async def test_a_stripe_failure_after_the_hold_is_cleaned_up_by_the_expiry_job(
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a checkout whose session Stripe never created, and someone waiting
    student = await factory.user()
    course = await factory.course(capacity=1)
    await factory.in_cart(student=student, courses=[course])
    monkeypatch.setattr(gateway_of(portal), "create_checkout_session", down)
    response = await client.post("/api/checkout", headers=factory.headers_for(student))
    payment_id = response.json()["error"]["fields"]["payment_id"]
    waiting = await factory.waitlisted(student=await factory.user(), course=course)

    # WHEN the hold's time is up and the job runs
    clock.advance(minutes=30)
    outcome = await tasks.release_expired_holds(portal)

    # THEN the payment ends, the seat goes back and on to the one waiting
    assert outcome["expired_payments"] == 1
    assert (await payment_row(portal, payment_id)).status == "expired"
    assert await enrollment_statuses(portal, payment_id) == ["expired"]
    assert (await _status(portal, waiting.id)) == "pending_payment"
    assert await seats_taken(portal, course.id) == 1


async def _status(portal: Portal, enrollment_id: str) -> str:
    return (await enrollment_row(portal, enrollment_id)).status


# --- the process dies between the two transactions ---------------------------------------


class SilentStripe:
    """A Stripe that takes the request and never answers: the portal is then
    between its two transactions, for as long as the test likes."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._release = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def _answer_never(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.append(writer)
        self.reached.set()
        await self._release.wait()
        writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        self.server = await asyncio.start_server(self._answer_never, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            self._release.set()
            self.server.close()
            await self.server.wait_closed()


async def test_a_process_killed_between_the_two_transactions_leaves_what_the_job_cleans_up(
    local_portal: Portal, shared_database: str, tmp_path: Path
) -> None:
    # GIVEN a student with a one-seat course in the cart, and a server whose
    # Stripe takes the request and never answers
    async with httpx.AsyncClient() as unused:
        factory = Factory(local_portal, unused)
        course = await factory.course(capacity=1)
        student = await factory.user()
        await factory.in_cart(student=student, courses=[course])
        headers = factory.headers_for(student)
    stripe = SilentStripe()
    async with stripe.running() as stripe_url:
        with portal_servers(
            shared_database, tmp_path, count=1, env={"STRIPE_API_BASE": stripe_url}
        ) as [server]:
            # WHEN the student checks out and the server is killed while it
            # waits for Stripe
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                checkout = asyncio.create_task(client.post("/api/checkout", headers=headers))
                await asyncio.wait_for(stripe.reached.wait(), timeout=60)
                server.process.kill()
                server.process.wait(timeout=15)
                with contextlib.suppress(httpx.TransportError):
                    await checkout

    # THEN what the first transaction did is committed: the seat is held for a
    # pending payment without a session, and the cart is empty
    payment = await _only_payment(local_portal, student.id)
    assert (payment.status, payment.checkout_session_id) == ("pending", None)
    assert await enrollment_statuses(local_portal, payment.id) == ["pending_payment"]
    assert await seats_taken(local_portal, course.id) == 1

    # WHEN the hold's time is up and the expiry job runs
    later = settings_for(shared_database, tmp_path / "later", secret_key=SECRET_KEY)
    clock = FrozenClock(payment.due_at + timedelta(seconds=1))
    job_portal = build_portal(later, clock=clock)
    try:
        outcome = await tasks.release_expired_holds(job_portal)
    finally:
        await job_portal.dispose()

    # THEN the payment has expired and the seat is back
    assert outcome["expired_payments"] == 1
    assert (await payment_row(local_portal, payment.id)).status == "expired"
    assert await enrollment_statuses(local_portal, payment.id) == ["expired"]
    assert await seats_taken(local_portal, course.id) == 0


async def _only_payment(portal: Portal, student_id: str) -> Payment:
    async with portal.read_sessions() as session:
        result = await session.execute(select(Payment).where(Payment.student_id == student_id))
        payments = list(result.scalars())
    assert len(payments) == 1, payments
    return payments[0]


# --- the expiry job takes each payment on its own ---------------------------------------


async def test_one_payment_that_fails_to_expire_holds_up_no_other(
    factory: Factory, portal: Portal, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN three overdue checkouts, one of which cannot be expired just now
    results = [
        await factory.checked_out(student=await factory.user(), courses=[await factory.course()])
        for _ in range(3)
    ]
    payments = [r.payment for r in results if r.payment is not None]
    stuck = await enrollment_statuses(portal, payments[1].id)
    assert stuck == ["pending_payment"]
    stuck_enrollments = set(results[1].enrollment_ids)
    release = catalog_service.release

    async def broken_release(session: Any, ids: Any, **kwargs: Any) -> Any:
        if stuck_enrollments & set(ids):
            raise RuntimeError("the database went away for this one")
        return await release(session, ids, **kwargs)

    monkeypatch.setattr(catalog_service, "release", broken_release)
    clock.advance(minutes=31)

    # WHEN the job runs
    expired = await expire_overdue_payments(portal)

    # THEN the others expired and freed their seats; the broken one is untouched,
    # not half done
    assert expired == 2
    assert [(await payment_row(portal, p.id)).status for p in payments] == [
        "expired",
        "pending",
        "expired",
    ]
    assert await enrollment_statuses(portal, payments[1].id) == ["pending_payment"]

    # WHEN it runs again once the fault is gone THEN that one expires too
    monkeypatch.undo()
    assert await expire_overdue_payments(portal) == 1
    assert await enrollment_statuses(portal, payments[1].id) == ["expired"]


async def test_an_unreachable_stripe_does_not_keep_overdue_seats(
    factory: Factory, portal: Portal, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await factory.checked_out(
        student=await factory.user(), courses=[await factory.course()]
    )
    assert result.payment is not None
    monkeypatch.setattr(gateway_of(portal), "expire_session", down)
    clock.advance(minutes=31)
    assert await expire_overdue_payments(portal) == 1
    assert await enrollment_statuses(portal, result.payment.id) == ["expired"]


# --- refunds an event makes owed ---------------------------------------------------------


async def test_a_refund_stripe_refuses_during_the_event_is_issued_later_by_the_job(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # GIVEN a paid payment
    result = await factory.checked_out(
        student=await factory.user(), courses=[await factory.course()]
    )
    assert result.payment is not None
    assert result.checkout_url is not None
    await pay_on_page(client, session_id_of(result.checkout_url))
    simulator = simulator_of(portal)
    await simulator.deliver_pending()
    payment = await payment_row(portal, result.payment.id)

    # WHEN a second session of it is reported paid while Stripe refuses refunds
    monkeypatch.setattr(gateway_of(portal), "refund", down)
    duplicate = session_object(payment, session_id="cs_second_tab", payment_intent="pi_second")
    response = await post_event(client, portal, event("checkout.session.completed", duplicate))

    # THEN the event is applied (Stripe need not resend it) and the refund is owed
    assert (response.status_code, response.json()["outcome"]) == (200, "refunded_duplicate")
    [owed] = await _refunds(portal)
    assert (owed.status, owed.attempts, owed.amount) == ("owed", 1, payment.amount)
    assert owed.last_error

    # WHEN Stripe takes refunds again and the job runs (twice, as two schedulers might)
    monkeypatch.undo()
    sent = []

    async def counting(**kwargs: Any) -> str:
        sent.append(kwargs["idempotency_key"])
        return "re_test_1"

    monkeypatch.setattr(gateway_of(portal), "refund", counting)
    clock.advance(minutes=5)
    assert (await tasks.issue_refunds(portal))["issued"] == 1
    assert (await tasks.issue_refunds(portal))["issued"] == 0

    # THEN it went out once, under the key that makes a retry the same refund
    assert sent == ["refund:duplicate:cs_second_tab"]
    [issued] = await _refunds(portal)
    assert (issued.status, issued.stripe_refund_id) == ("issued", "re_test_1")
    assert (await payment_row(portal, payment.id)).status == "paid"


async def _refunds(portal: Portal) -> list[Refund]:
    async with portal.read_sessions() as session:
        return list((await session.execute(select(Refund))).scalars())


# --- the payment moves on while its session is being made ----------------------------------


async def test_a_session_made_while_the_payment_expired_is_closed_and_not_recorded(
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a reservation due in a minute, and the expiry job running just
    # while Stripe makes the session the student asked for
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)
    clock.advance(days=7, minutes=-1)
    gateway = gateway_of(portal)
    create = gateway.create_checkout_session
    made: list[str] = []

    async def slow_create(**kwargs: Any) -> Any:
        created = await create(**kwargs)
        made.append(created.id)
        clock.advance(minutes=2)
        assert await expire_overdue_payments(portal) == 1
        return created

    monkeypatch.setattr(gateway, "create_checkout_session", slow_create)

    # WHEN the answer comes back
    response = await client.post(
        f"{PAYMENTS}/{payment.id}/pay", headers=factory.headers_for(student)
    )

    # THEN the student hears the payment expired, the new session is closed at
    # Stripe and not recorded: nobody can pay into a payment that has ended
    assert response.status_code == 410, response.text
    assert error_code(response) == "payment_expired"
    assert (await gateway.retrieve_session(made[0])).status == "expired"
    assert (await payment_row(portal, payment.id)).checkout_session_id != made[0]
