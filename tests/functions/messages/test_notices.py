"""Typed notices: one class per kind, sent through `notify`, stored as JSON that
rows written before (by hand-built dictionaries) still render from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.messages.notices import (
    Notice,
    PaymentConfirmed,
    PaymentDueSoon,
    ReceiptLine,
    WaitlistPromoted,
    notify,
)
from functions.messages.templates import TEMPLATES, render
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.messages.support import outbox_rows

DUE = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_every_kind_has_a_template_and_every_template_a_kind() -> None:
    assert set(TEMPLATES) >= set(Notice.KINDS)
    assert PaymentConfirmed.kind == "checkout.payment_confirmed"
    assert Notice.KINDS["checkout.payment_confirmed"] is PaymentConfirmed


def test_a_kind_is_named_once() -> None:
    with pytest.raises(TypeError):

        class Again(Notice, kind="checkout.payment_confirmed"):
            pass


def test_a_notice_round_trips_through_its_stored_json() -> None:
    notice = PaymentConfirmed(
        payment_id="p1",
        receipt_number="R-7F3A-9C2M",
        amount=17800,
        currency="usd",
        items=(ReceiptLine(description="CS-101 Intro", amount=12900),),
    )
    payload = notice.to_payload()
    assert payload["items"] == [{"description": "CS-101 Intro", "amount": 12900, "refunded": False}]
    assert PaymentConfirmed.from_payload(payload) == notice
    due = PaymentDueSoon(payment_id="p1", amount=1, currency="usd", due_at=DUE, due_in="soon")
    # Times are stored as they always were: isoformat with the offset.
    assert due.to_payload()["due_at"] == "2026-01-12T09:00:00+00:00"


# Rows as the code before typed notices wrote them.
OLD_ROWS = [
    ("auth.welcome", {}, "Welcome to the Student Portal"),
    (
        "checkout.payment_due_soon",
        {"payment_id": "pay_1", "amount": 12900, "currency": "usd",
         "due_at": "2026-01-12T09:00:00+00:00", "due_in": "in 3 days", "days": 3},
        "Payment due in 3 days",
    ),
    (
        "checkout.payment_confirmed",
        {"payment_id": "pay_1", "amount": 17800, "currency": "usd", "refunded_amount": 0,
         "items": [{"description": "CS-101 Intro", "amount": 12900, "refunded": False}]},
        "Payment received: you are enrolled",
    ),
    (
        "checkout.payment_overdue",
        {"payment_id": "pay_1", "amount": 12900, "currency": "usd",
         "due_at": "2026-01-12T09:00:00+00:00", "items": []},
        "Payment overdue: your seat was released",
    ),
    ("checkout.payment_failed", {"payment_id": "pay_1"}, "Your payment failed"),
    ("checkout.refund_issued", {"payment_id": "pay_1", "amount": 5, "currency": "usd"},
     "Refund issued"),
    (
        "catalog.waitlist_promoted",
        {"enrollment_id": "e1", "course_id": "c1", "course_code": "WL-1",
         "course_title": "Waiting", "status": "pending_payment",
         "due_at": "2026-01-12T09:00:00+00:00"},
        "A seat opened in WL-1 Waiting",
    ),
    ("catalog.waitlist_promoted", {"course_code": "X-1"}, "A seat opened in X-1"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "payload", "subject"), OLD_ROWS)
def test_rows_written_before_still_render(
    kind: str, payload: dict[str, object], subject: str
) -> None:
    rendered = render(kind, payload, recipient_name="Ada", site="http://portal")
    assert rendered.subject == subject
    assert "Hello Ada," in rendered.text


def test_a_row_that_cannot_be_read_still_says_something() -> None:
    rendered = render(
        "checkout.payment_confirmed", {"amount": "lots"}, recipient_name="Ada", site="http://p"
    )
    assert rendered.subject == "A notice from the Student Portal"


async def test_notify_queues_a_typed_notice_once_per_subject(
    portal: Portal, factory: Factory
) -> None:
    student = await factory.user()
    notice = WaitlistPromoted(enrollment_id="e1", course_id="c1", course_code="WL-1", due_at=DUE)
    async with portal.transaction() as session:
        first = await notify(session, notice, to=student.id, now=DUE, once_per="e1")
        again = await notify(session, notice, to=student.id, now=DUE, once_per="e1")
    assert (first, again) == (True, False)
    [row] = await outbox_rows(portal)
    assert (row.kind, row.dedupe_key) == (
        "catalog.waitlist_promoted",
        "catalog.waitlist_promoted:e1",
    )
    assert WaitlistPromoted.from_payload(row.payload) == notice
