"""Every query of the checkout: carts, payments, their items, refunds owed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from functions.checkout.models import (
    CartItem,
    Payment,
    PaymentItem,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from lib.db import insert_for, new_id, rowcount
from lib.fastreads import read_rows
from lib.pagination import AFTER
from lib.pagination import after as past

_cart = cast(Table, CartItem.__table__)


_CART_COURSES = (
    select(_cart.c.course_id)
    .where(_cart.c.student_id == bindparam("student_id"))
    .order_by(_cart.c.added_at, _cart.c.id)
)


class CartRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def course_ids_of(student_id: str | ColumnElement[str]) -> Select[Any]:
        return select(CartItem.course_id).where(CartItem.student_id == student_id)

    async def course_ids(self, student_id: str) -> list[str]:
        """The cart's courses, in the order they were added."""
        rows = await read_rows(self.session, _CART_COURSES, {"student_id": student_id})
        return [row[0] for row in rows]

    async def add(self, student_id: str, course_id: str, *, now: datetime) -> bool:
        """False when the course is in the cart already (the unique key decides)."""
        statement = insert_for(self.session)(CartItem).values(
            id=new_id(), student_id=student_id, course_id=course_id, added_at=now
        )
        statement = statement.on_conflict_do_nothing(index_elements=["student_id", "course_id"])
        return rowcount(await self.session.execute(statement)) == 1

    async def remove(self, student_id: str, course_ids: Sequence[str]) -> int:
        if not course_ids:
            return 0
        result = await self.session.execute(
            delete(CartItem).where(
                CartItem.student_id == student_id, CartItem.course_id.in_(course_ids)
            )
        )
        return rowcount(result)

    async def clear(self, student_id: str) -> None:
        await self.session.execute(delete(CartItem).where(CartItem.student_id == student_id))


AnyRow = Row[*tuple[Any, ...]]
_payments = cast(Table, Payment.__table__)
_items = cast(Table, PaymentItem.__table__)
# What an answer shows of a payment's items.
_ITEM = select(
    _items.c.payment_id,
    _items.c.course_id,
    _items.c.enrollment_id,
    _items.c.description,
    _items.c.amount,
    _items.c.refunded,
)


_PAYMENT = select(_payments).where(_payments.c.id == bindparam("payment_id"))
_ITEMS_OF = _ITEM.where(_items.c.payment_id.in_(bindparam("ids", expanding=True))).order_by(
    _items.c.id
)


@lru_cache(maxsize=8)
def _payments_page(by_student: bool, by_status: bool, *, after: bool) -> Select[Any]:
    """Newest first, by (created_at, id): a template per shape (lib/fastreads.py)."""
    query = select(_payments)
    if by_student:
        query = query.where(_payments.c.student_id == bindparam("student_id"))
    if by_status:
        query = query.where(_payments.c.status == bindparam("status"))
    newest_first = (_payments.c.created_at, _payments.c.id)
    if after and (beyond := past(newest_first, AFTER, descending=True)) is not None:
        query = query.where(beyond)
    order = (_payments.c.created_at.desc(), _payments.c.id.desc())
    return query.order_by(*order).limit(bindparam("limit"))


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- read paths: Core rows, no ORM objects ---------------------------------

    async def row(self, payment_id: str) -> AnyRow | None:
        found = await read_rows(self.session, _PAYMENT, {"payment_id": payment_id})
        return found[0] if found else None

    async def item_rows(self, payment_ids: Sequence[str]) -> dict[str, list[AnyRow]]:
        """The items of every payment asked about, in one statement."""
        if not payment_ids:
            return {}
        grouped: dict[str, list[AnyRow]] = {pid: [] for pid in payment_ids}
        for item in await read_rows(self.session, _ITEMS_OF, {"ids": list(payment_ids)}):
            grouped[item.payment_id].append(item)
        return grouped

    async def page(
        self,
        *,
        student_id: str | None,
        status: str | None,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[AnyRow]:
        """Newest first, by (created_at, id)."""
        params: dict[str, Any] = {"student_id": student_id, "status": status, "limit": limit}
        if after is not None:
            params.update(after_0=after[0], after_1=after[1])
        query = _payments_page(bool(student_id), bool(status), after=after is not None)
        return list(await read_rows(self.session, query, params))

    # --- write paths --------------------------------------------------------------

    async def add(self, payment: Payment, items: Sequence[PaymentItem]) -> bool:
        """False when the receipt number is taken already (the caller draws another)."""
        try:
            async with self.session.begin_nested():
                self.session.add(payment)
                self.session.add_all(items)
                await self.session.flush()
        except IntegrityError as exc:
            if "receipt_number" not in str(exc.orig).lower():
                raise
            return False
        return True

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        query = (
            select(Payment)
            .where(Payment.id == payment_id)
            .execution_options(populate_existing=True)
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def by_intent(self, payment_intent: str) -> Payment | None:
        result = await self.session.execute(
            select(Payment).where(Payment.payment_intent == payment_intent)
        )
        return result.scalar_one_or_none()

    async def items(self, payment_id: str) -> list[PaymentItem]:
        result = await self.session.execute(
            select(PaymentItem)
            .where(PaymentItem.payment_id == payment_id)
            .order_by(PaymentItem.id)
            .execution_options(populate_existing=True)
        )
        return list(result.scalars().all())

    async def move(
        self,
        payment_id: str,
        *,
        from_statuses: Sequence[str],
        values: dict[str, Any],
        where: Sequence[Any] = (),
    ) -> bool:
        """Change a payment only from the expected statuses (and `where`): state
        moves forward once, and the loser of a race changes nothing."""
        result = await self.session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_(from_statuses), *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def overdue(self, *, now: datetime, limit: int) -> list[Payment]:
        result = await self.session.execute(
            select(Payment)
            .where(
                Payment.status == PaymentStatus.PENDING,
                Payment.processing.is_(False),
                Payment.due_at <= now,
            )
            .order_by(Payment.due_at)
            .limit(limit)
        )
        return list(result.scalars().all())

    async def pending_due_by(
        self,
        *,
        until: datetime,
        now: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[Payment]:
        """Pending payments falling due in (now, until], by (due_at, id) after `after`."""
        query = select(Payment).where(
            Payment.status == PaymentStatus.PENDING,
            Payment.processing.is_(False),
            Payment.due_at > now,
            Payment.due_at <= until,
        )
        if (beyond := past((Payment.due_at, Payment.id), after)) is not None:
            query = query.where(beyond)
        result = await self.session.execute(query.order_by(Payment.due_at, Payment.id).limit(limit))
        return list(result.scalars().all())

    async def checkouts_started_before(
        self,
        *,
        before: datetime,
        now: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[Payment]:
        """Pending payments whose checkout (a Checkout Session) was started by
        `before`, by (created_at, id) after `after`. A seat reserved to pay
        later has a payment too, but no checkout was started for it."""
        query = select(Payment).where(
            Payment.status == PaymentStatus.PENDING,
            Payment.processing.is_(False),
            Payment.sessions_started > 0,
            Payment.created_at <= before,
            Payment.due_at > now,
        )
        if (beyond := past((Payment.created_at, Payment.id), after)) is not None:
            query = query.where(beyond)
        result = await self.session.execute(
            query.order_by(Payment.created_at, Payment.id).limit(limit)
        )
        return list(result.scalars().all())

    async def mark_item_refunded(self, item_id: str) -> None:
        await self.session.execute(
            update(PaymentItem).where(PaymentItem.id == item_id).values(refunded=True)
        )


class RefundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owe(self, values: dict[str, Any]) -> None:
        """Record a refund owed, once per idempotency key: a replayed event owes nothing more."""
        statement = insert_for(self.session)(Refund).values(**values)
        await self.session.execute(
            statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
        )

    async def get(self, key: str) -> Refund | None:
        result = await self.session.execute(
            select(Refund)
            .where(Refund.idempotency_key == key)
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def due(self, *, now: datetime, limit: int) -> list[Refund]:
        result = await self.session.execute(
            select(Refund)
            .where(Refund.status == RefundStatus.OWED, Refund.next_attempt_at <= now)
            .order_by(Refund.next_attempt_at, Refund.id)
            .limit(limit)
        )
        return list(result.scalars().all())

    async def settle(self, key: str, values: dict[str, Any]) -> bool:
        """Record what became of an owed refund; only while it is still owed."""
        result = await self.session.execute(
            update(Refund)
            .where(Refund.idempotency_key == key, Refund.status == RefundStatus.OWED)
            .values(**values)
        )
        return rowcount(result) == 1
