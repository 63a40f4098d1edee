"""Payment reminders with a moved clock: due soon, due tomorrow, overdue, paid in
between, a changed due date, and a checkout started but not finished."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from functions.checkout import reminders, tasks
from functions.checkout.models import Payment
from functions.messages import service as messages
from lib.clock import FrozenClock
from lib.outbox import OutboxMessage
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.checkout.support import (
    enrollment_statuses,
    outbox,
    pay_on_page,
    payment_row,
    seats_taken,
    session_id_of,
    simulator_of,
)
from tests.functions.messages.support import html_of, parse, text_of

DUE_SOON = "checkout.payment_due_soon"
OVERDUE = "checkout.payment_overdue"
UNFINISHED = "checkout.checkout_unfinished"


async def remind(portal: Portal) -> int:
    """The scheduled job `checkout.send_payment_reminders`, run once."""
    return int((await tasks.send_payment_reminders(portal))["queued"])


async def messages_about(portal: Portal, payment_id: str, *, kind: str) -> list[OutboxMessage]:
    return [m for m in await outbox(portal, kind=kind) if m.payload["payment_id"] == payment_id]


async def days_reminded(portal: Portal, payment_id: str) -> list[int]:
    rows = await messages_about(portal, payment_id, kind=DUE_SOON)
    return sorted((int(m.payload["days"]) for m in rows), reverse=True)


async def move_due_date(portal: Portal, payment_id: str, *, by: timedelta) -> Payment:
    """What an administrator's change of the due date does to the row."""
    async with portal.transaction() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        payment.due_at = payment.due_at + by
    return await payment_row(portal, payment_id)


async def test_nothing_is_due_right_after_checkout(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a seat reserved in a course whose payment is due in 7 days
    payment = await factory.reserved(payment_due_days=7)
    assert payment.due_at == clock.now() + timedelta(days=7)

    # WHEN the reminder job runs at once and again just before the 3-day mark
    first = await remind(portal)
    clock.set(payment.due_at - timedelta(days=3, minutes=1))
    second = await remind(portal)

    # THEN nothing is queued
    assert (first, second) == (0, 0)
    assert await outbox(portal, kind=DUE_SOON) == []


async def test_three_days_before_one_reminder_once(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment due in 7 days, and the clock at 3 days before it
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)
    clock.set(payment.due_at - timedelta(days=3))

    # WHEN the job runs, and runs again an hour later
    first = await remind(portal)
    clock.advance(hours=1)
    second = await remind(portal)

    # THEN exactly one "due in 3 days" reminder went to the student
    assert (first, second) == (1, 0)
    [reminder] = await messages_about(portal, payment.id, kind=DUE_SOON)
    assert reminder.recipient_id == student.id
    assert reminder.payload["days"] == 3
    assert reminder.payload["due_at"] == payment.due_at.isoformat()
    assert reminder.payload["amount"] == payment.amount


async def test_one_day_before_one_more_reminder(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment reminded 3 days before its due date
    payment = await factory.reserved(payment_due_days=7)
    clock.set(payment.due_at - timedelta(days=3))
    assert await remind(portal) == 1

    # WHEN the clock reaches the day before, and the job runs twice
    clock.set(payment.due_at - timedelta(days=1, minutes=-5))
    first = await remind(portal)
    second = await remind(portal)

    # THEN one more reminder, for tomorrow, and no repeat of either
    assert (first, second) == (1, 0)
    assert await days_reminded(portal, payment.id) == [3, 1]
    [tomorrow] = [
        m for m in await messages_about(portal, payment.id, kind=DUE_SOON) if m.payload["days"] == 1
    ]
    assert tomorrow.payload["due_in"] == "tomorrow"


async def test_a_late_first_run_sends_only_the_most_urgent_reminder(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment whose reminder job did not run between 3 days and 1 day before
    payment = await factory.reserved(payment_due_days=7)
    clock.set(payment.due_at - timedelta(hours=12))

    # WHEN it runs now
    queued = await remind(portal)

    # THEN only the "tomorrow" reminder goes out, not a stale "in 3 days"
    assert queued == 1
    assert await days_reminded(portal, payment.id) == [1]


async def test_overdue_payment_expires_releases_the_seat_and_says_so_once(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN an unpaid reservation holding a seat, reminded 3 days and 1 day before
    student = await factory.user()
    course = await factory.course(payment_due_days=7, capacity=3)
    result = await factory.checked_out(student=student, courses=[course])
    assert result.payment is not None
    payment = result.payment
    assert await seats_taken(portal, course.id) == 1
    for before in (timedelta(days=3), timedelta(days=1)):
        clock.set(payment.due_at - before)
        assert await remind(portal) == 1

    # WHEN the due time passes and the scheduled jobs run, twice
    clock.set(payment.due_at + timedelta(minutes=1))
    assert await remind(portal) == 0
    first = await tasks.release_expired_holds(portal)
    second = await tasks.release_expired_holds(portal)

    # THEN the payment is expired, the seat is free again, and one overdue notice is queued
    assert first["expired_payments"] == 1
    assert second == {"expired_payments": 0, "released_holds": 0}
    assert (await payment_row(portal, payment.id)).status == "expired"
    assert await enrollment_statuses(portal, payment.id) == ["expired"]
    assert await seats_taken(portal, course.id) == 0
    [overdue] = await messages_about(portal, payment.id, kind=OVERDUE)
    assert overdue.recipient_id == student.id
    assert overdue.payload["due_at"] == payment.due_at.isoformat()
    # AND no due-soon reminder follows an expired payment
    clock.advance(days=1)
    assert await remind(portal) == 0
    assert await days_reminded(portal, payment.id) == [3, 1]


async def test_paid_in_between_gets_no_reminder(
    client: httpx.AsyncClient, factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a reservation paid two days after checkout, from a fresh Checkout Session
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)
    clock.advance(days=2)
    opened = await client.post(
        f"/api/checkout/payments/{payment.id}/pay", headers=factory.headers_for(student)
    )
    assert opened.status_code == 200, opened.text
    paid = await pay_on_page(client, session_id_of(opened.json()["checkout_url"]))
    assert paid.status_code == 303, paid.text
    # The first session's expiry and the payment reach the webhook.
    await simulator_of(portal).deliver_pending()
    assert (await payment_row(portal, payment.id)).status == "paid"

    # WHEN the reminder jobs run at 3 days, 1 day before and after the old due date
    queued = []
    for moment in (timedelta(days=-3), timedelta(days=-1), timedelta(minutes=1)):
        clock.set(payment.due_at + moment)
        queued.append(await remind(portal))
        queued.append(int((await tasks.remind_pending_checkouts(portal))["queued"]))
        await tasks.release_expired_holds(portal)

    # THEN nothing about a due payment was queued and the payment stays paid
    assert queued == [0] * 6
    assert await messages_about(portal, payment.id, kind=DUE_SOON) == []
    assert await messages_about(portal, payment.id, kind=OVERDUE) == []
    assert await messages_about(portal, payment.id, kind=UNFINISHED) == []
    assert (await payment_row(portal, payment.id)).status == "paid"
    assert len(await messages_about(portal, payment.id, kind="checkout.payment_confirmed")) == 1


async def test_a_later_due_date_brings_reminders_for_the_new_date(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment already reminded 3 days before its due date
    payment = await factory.reserved(payment_due_days=7)
    old_due = payment.due_at
    clock.set(old_due - timedelta(days=3))
    assert await remind(portal) == 1

    # WHEN the due date moves a week later
    moved = await move_due_date(portal, payment.id, by=timedelta(days=7))
    new_due = moved.due_at

    # THEN nothing is sent at the old dates
    clock.set(old_due - timedelta(days=1))
    assert await remind(portal) == 0
    clock.set(old_due + timedelta(minutes=1))
    assert await remind(portal) == 0
    await tasks.release_expired_holds(portal)
    assert (await payment_row(portal, payment.id)).status == "pending"
    # AND the reminders come again before the new date, each once, naming it
    clock.set(new_due - timedelta(days=3))
    assert (await remind(portal), await remind(portal)) == (1, 0)
    clock.set(new_due - timedelta(days=1))
    assert (await remind(portal), await remind(portal)) == (1, 0)
    rows = await messages_about(portal, payment.id, kind=DUE_SOON)
    assert sorted((r.payload["due_at"], r.payload["days"]) for r in rows) == sorted(
        [(old_due.isoformat(), 3), (new_due.isoformat(), 3), (new_due.isoformat(), 1)]
    )


async def test_an_earlier_due_date_reminds_for_the_new_date(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment due in 7 days, not reminded yet
    payment = await factory.reserved(payment_due_days=7)
    old_due = payment.due_at

    # WHEN, a day later, the due date is brought forward by two days
    clock.advance(days=1)
    moved = await move_due_date(portal, payment.id, by=timedelta(days=-2))
    assert await remind(portal) == 0

    # THEN the 3-day reminder goes out 3 days before the new date, once
    clock.set(moved.due_at - timedelta(days=3))
    assert clock.now() < old_due - timedelta(days=3)
    assert (await remind(portal), await remind(portal)) == (1, 0)
    [reminder] = await messages_about(portal, payment.id, kind=DUE_SOON)
    assert (reminder.payload["days"], reminder.payload["due_at"]) == (3, moved.due_at.isoformat())


async def test_a_payment_made_two_days_before_due_never_gets_the_three_day_one(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a payment due 2 days after it was made
    payment = await factory.reserved(payment_due_days=2)

    # WHEN the reminder job runs at once, on every hour until the day before, and then
    first = await remind(portal)
    hourly = []
    while clock.now() < payment.due_at - timedelta(days=1):
        clock.advance(hours=1)
        hourly.append(await remind(portal))

    # THEN only the "tomorrow" reminder went out, once
    assert first == 0
    assert sum(hourly) == 1
    assert hourly[-1] == 1
    assert await days_reminded(portal, payment.id) == [1]


async def test_thresholds_come_from_the_settings(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN reminders configured for 5 days and 2 days before, and a payment due in 10 days
    configured = replace(portal, settings=replace(portal.settings, reminder_days=(5, 2)))
    payment = await factory.reserved(payment_due_days=10)

    # WHEN the job runs just before 5 days, at 5, 3, 2 and 1 day before the due date
    queued = {}
    for before in (timedelta(days=5, minutes=1), *(timedelta(days=d) for d in (5, 3, 2, 1))):
        clock.set(payment.due_at - before)
        queued[before] = await remind(configured)

    # THEN reminders went out at the configured thresholds only
    assert list(queued.values()) == [0, 1, 0, 1, 0]
    assert await days_reminded(portal, payment.id) == [5, 2]
    due_in = {m.payload["due_in"] for m in await messages_about(portal, payment.id, kind=DUE_SOON)}
    assert due_in == {"in 5 days", "in 2 days"}


async def test_no_reminder_while_a_bank_payment_is_under_way(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a reservation whose bank debit has started (the money is on its way)
    payment = await factory.reserved(payment_due_days=7)
    async with portal.transaction() as session:
        await session.execute(
            update(Payment).where(Payment.id == payment.id).values(processing=True)
        )

    # WHEN the reminder jobs run at 3 days and 1 day before
    queued = []
    for before in (timedelta(days=3), timedelta(days=1)):
        clock.set(payment.due_at - before)
        queued.append(await remind(portal))
        queued.append(int((await tasks.remind_pending_checkouts(portal))["queued"]))

    # THEN the student is not told to pay what is already being paid
    assert queued == [0, 0, 0, 0]


async def test_every_payment_is_reminded_whatever_the_page_size(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN five reservations due at the same moment
    payments = [await factory.reserved(payment_due_days=7) for _ in range(5)]
    clock.set(payments[0].due_at - timedelta(days=3))

    # WHEN the reminders are queued two payments at a time, twice
    async with portal.transaction() as session:
        first = await reminders.send_payment_reminders(
            session, now=clock.now(), days=(3, 1), batch=2
        )
    async with portal.transaction() as session:
        second = await reminders.send_payment_reminders(
            session, now=clock.now(), days=(3, 1), batch=2
        )
    async with portal.transaction() as session:
        unfinished = await reminders.remind_pending_checkouts(session, now=clock.now(), batch=2)

    # THEN each payment got its reminder once, past the first page too
    assert (first, second, unfinished) == (5, 0, 5)
    for payment in payments:
        assert await days_reminded(portal, payment.id) == [3]
        assert len(await messages_about(portal, payment.id, kind=UNFINISHED)) == 1


async def test_unfinished_checkout_reminded_after_an_hour_never_twice(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN a checkout started and not paid
    student = await factory.user()
    payment = await factory.reserved(student=student, payment_due_days=7)

    async def run() -> int:
        return int((await tasks.remind_pending_checkouts(portal))["queued"])

    # WHEN the job runs right away and 59 minutes later
    early = [await run()]
    clock.advance(minutes=59)
    early.append(await run())
    # AND at one hour, and again later on
    clock.advance(minutes=1)
    on_time = await run()
    clock.advance(hours=5)
    later = await run()

    # THEN one "finish your checkout" reminder, queued at the hour
    assert early == [0, 0]
    assert (on_time, later) == (1, 0)
    [reminder] = await messages_about(portal, payment.id, kind=UNFINISHED)
    assert reminder.recipient_id == student.id
    assert reminder.created_at == payment.created_at + timedelta(hours=1)


@pytest.mark.parametrize("days", [3, 1])
async def test_the_reminder_mail_says_when_and_links_to_the_payment(
    factory: Factory, portal: Portal, clock: FrozenClock, days: int
) -> None:
    # GIVEN a reminder queued `days` days before the due date
    student = await factory.user(email="due.student@example.com")
    payment = await factory.reserved(student=student, payment_due_days=7)
    clock.set(payment.due_at - timedelta(days=days))
    assert await remind(portal) == 1

    # WHEN the deliverer sends it
    report = await messages.deliver_due(portal)

    # THEN the mail names the due date and the amount, and links to the payment
    assert report.sent == 1
    [path] = portal.settings.mail_dir.glob("*.eml")
    mail = parse(path.read_bytes())
    assert mail["Subject"] == ("Payment due tomorrow" if days == 1 else "Payment due in 3 days")
    assert mail["To"] == "due.student@example.com"
    text = text_of(mail)
    assert f"http://testserver/#/payments/{payment.id}" in text
    assert "129.00 USD" in text
    assert payment.due_at.strftime("%A %d %B %Y, %H:%M UTC") in text
    assert payment.due_at.strftime("%d %B %Y") in html_of(mail)
