"""Migration 0006 brings rows written under the old rules under the new ones:
every payment gets a receipt number, a seat held without a payment gets one,
a held seat falls due with its payment, and no payment line is lost."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from functions.catalog.models import Course, Enrollment
from functions.checkout.models import Payment, PaymentItem
from functions.models import metadata
from lib.db import create_engine
from lib.migrate import upgrade
from tests.lib.test_migrations import empty_database

__all__ = ["empty_database"]

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RECEIPT = re.compile(r"^R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def _rows() -> dict[str, list[dict[str, Any]]]:
    """A student with a paid checkout, a pending one whose hold shows another
    due time, and a seat reserved before every hold had a payment."""
    person = {"full_name": "P", "password_hash": "x", "is_active": True,
              "created_at": NOW, "updated_at": NOW}  # fmt: skip
    course = {"description": "", "starts_on": date(2026, 3, 2), "ends_on": date(2026, 6, 1),
              "enrollment_opens_on": date(2026, 1, 1), "enrollment_closes_on": date(2026, 3, 2),
              "capacity": 10, "seats_taken": 1, "price_amount": 5000, "currency": "usd",
              "payment_due_days": 7, "waitlist_counter": 0, "search_text": "",
              "created_at": NOW, "updated_at": NOW}  # fmt: skip
    payment = {"student_id": "s", "amount": 5000, "currency": "usd", "sessions_started": 1,
               "processing": False, "refunded_amount": 0, "created_at": NOW,
               "updated_at": NOW}  # fmt: skip
    return {
        "users": [
            {
                **person,
                "id": "t",
                "username": "t",
                "email": "t@x.org",
                "email_key": "t@x.org",
                "role": "instructor",
            },
            {
                **person,
                "id": "s",
                "username": "s",
                "email": "s@x.org",
                "email_key": "s@x.org",
                "role": "student",
            },
        ],
        "courses": [
            {**course, "id": c, "code": f"C-{c}", "title": c, "instructor_id": "t"}
            for c in ("paid", "pending", "reserved")
        ],
        "payments": [
            {**payment, "id": "p1", "status": "paid", "due_at": NOW},
            {**payment, "id": "p2", "status": "pending", "due_at": NOW + timedelta(minutes=30)},
        ],
        "enrollments": [
            {
                "id": "e1",
                "course_id": "paid",
                "student_id": "s",
                "status": "active",
                "payment_id": "p1",
                "created_at": NOW,
                "updated_at": NOW,
            },
            {
                "id": "e2",
                "course_id": "pending",
                "student_id": "s",
                "status": "pending_payment",
                "payment_id": "p2",
                "due_at": NOW + timedelta(days=7),
                "created_at": NOW,
                "updated_at": NOW,
            },
            {
                "id": "e3",
                "course_id": "reserved",
                "student_id": "s",
                "status": "pending_payment",
                "due_at": NOW + timedelta(days=7),
                "created_at": NOW,
                "updated_at": NOW,
            },
        ],
        "payment_items": [
            {
                "id": f"i{n}",
                "payment_id": f"p{n}",
                "course_id": c,
                "enrollment_id": f"e{n}",
                "description": c,
                "amount": 5000,
                "refunded": False,
            }
            for n, c in ((1, "paid"), (2, "pending"))
        ],
    }


async def _fill(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table, rows in _rows().items():
                for row in rows:
                    await connection.execute(insert(metadata.tables[table]).values(**row))
    finally:
        await engine.dispose()


async def _read(url: str) -> tuple[list[Payment], list[PaymentItem], dict[str, Enrollment]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            payments = (await connection.execute(select(Payment.__table__))).all()
            items = (await connection.execute(select(PaymentItem.__table__))).all()
            enrollments = (await connection.execute(select(Enrollment.__table__))).all()
            assert (await connection.execute(select(Course.__table__))).all()
    finally:
        await engine.dispose()
    return payments, items, {e.id: e for e in enrollments}  # type: ignore[return-value]


async def test_old_rows_come_under_the_new_rules(empty_database: str) -> None:
    # GIVEN a database at 0004 with payments and holds written under the old rules
    await asyncio.to_thread(upgrade, empty_database, "0004")
    await _fill(empty_database)

    # WHEN it is brought up to date
    await asyncio.to_thread(upgrade, empty_database, "head")

    # THEN every payment has its own receipt number
    payments, items, enrollments = await _read(empty_database)
    numbers = [p.receipt_number for p in payments]
    assert len(payments) == 3
    assert all(RECEIPT.match(n) for n in numbers), numbers
    assert len(set(numbers)) == 3
    # ... the seat reserved without a payment now has one, due when it is
    reserved = enrollments["e3"]
    assert reserved.payment_id not in (None, "p1", "p2")
    [opened] = [p for p in payments if p.id == reserved.payment_id]
    assert (opened.status, opened.amount, opened.currency) == ("pending", 5000, "usd")
    assert opened.due_at == reserved.due_at
    # ... the held seat falls due with its pending payment
    assert enrollments["e2"].due_at == next(p.due_at for p in payments if p.id == "p2")
    # ... and no payment line was lost on the way
    assert sorted((i.payment_id, i.enrollment_id) for i in items) == sorted(
        [("p1", "e1"), ("p2", "e2"), (reserved.payment_id, "e3")]
    )
