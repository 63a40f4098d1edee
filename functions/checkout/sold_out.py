"""A checkout that cannot get its seats is refused before it queues to write.

In a rush on one course, all but a few checkouts find it full. Each used to
learn that inside a write transaction, one at a time behind the others
(SQLite has one writer; on PostgreSQL they queue on the course's row). Here
the cart is read first, without a transaction, at the latest commit: when
nothing else would refuse this checkout and a course in it has no seat left
at that moment, the checkout is refused as full at once, as the write would
have refused it at that same moment. Anything else (a course enrolled
meanwhile, a closed course, an unconfirmed address, ...) goes on to the
write, which decides and says why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.auth.errors import EmailNotVerified
from functions.catalog.errors import CourseFull
from functions.catalog.rules import accepting
from functions.checkout.cart import enrolled_meanwhile, in_cart


async def refuse_if_sold_out(session: AsyncSession, student_id: str, *, now: datetime) -> None:
    courses = await in_cart(session, student_id, now=now)
    if not courses or any(enrolled_meanwhile(v) for v in courses):
        return
    if len({v.course.currency for v in courses if v.course.price_amount > 0}) > 1:
        return
    if any(not accepting(v.course, now) for v in courses):
        return
    full = sorted((v.course for v in courses if v.course.seats_taken >= v.course.capacity),
                  key=lambda c: c.id)  # fmt: skip
    if not full:
        return
    if any(v.course.price_amount > 0 for v in courses):
        try:
            await auth.require_verified(session, student_id)
        except EmailNotVerified:
            return
    raise CourseFull([c.id for c in full], [c.code for c in full])
