"""Every query of the checkout: carts, payments, their items, refunds owed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, Table, delete, select, update
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
from lib.pagination import after as past

_cart = cast(Table, CartItem.__table__)


class CartRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def course_ids_of(student_id: str | ColumnElement[str]) -> Select[Any]:
        return select(CartItem.course_id).where(CartItem.student_id == student_id)

    async def course_ids(self, student_id: str) -> list[str]:
        """The cart's courses, in the order they were added."""
        result = await self.session.execute(
            select(_cart.c.course_id)
            .where(_cart.c.student_id == student_id)
            .order_by(_cart.c.added_at, _cart.c.id)
        )
        return list(result.scalars())

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


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- read paths: Core rows, no ORM objects ---------------------------------

    async def row(self, payment_id: str) -> AnyRow | None:
        result = await self.session.execute(select(_payments).where(_payments.c.id == payment_id))
        return result.first()

    async def item_rows(self, payment_ids: Sequence[str]) -> dict[str, list[AnyRow]]:
        """The items of every payment asked about, in one statement."""
        if not payment_ids:
            return {}
        query = _ITEM.where(_items.c.payment_id.in_(payment_ids)).order_by(_items.c.id)
        grouped: dict[str, list[AnyRow]] = {pid: [] for pid in payment_ids}
        for item in await self.session.execute(query):
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
        query = select(_payments)
        if student_id:
            query = query.where(_payments.c.student_id == student_id)
        if status:
            query = query.where(_payments.c.status == status)
        newest_first = (_payments.c.created_at, _payments.c.id)
        if (beyond := past(newest_first, after, descending=True)) is not None:
            query = query.where(beyond)
        query = query.order_by(_payments.c.created_at.desc(), _payments.c.id.desc()).limit(limit)
        return list(await self.session.execute(query))

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
