"""Every query of the checkout: carts, payments and their items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from functions.checkout.models import CartItem, Payment, PaymentItem
from lib.db import rowcount


def _after(column: Any, key: tuple[datetime, str]) -> Any:
    stamp, last_id = key
    return or_(column > stamp, and_(column == stamp, Payment.id > last_id))


class CartRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def items(self, student_id: str) -> list[CartItem]:
        result = await self.session.execute(
            select(CartItem)
            .where(CartItem.student_id == student_id)
            .order_by(CartItem.added_at, CartItem.id)
        )
        return list(result.scalars().all())

    async def has(self, student_id: str, course_id: str) -> bool:
        result = await self.session.execute(
            select(CartItem.id).where(
                CartItem.student_id == student_id, CartItem.course_id == course_id
            )
        )
        return result.first() is not None

    async def add(self, item: CartItem) -> None:
        self.session.add(item)
        await self.session.flush()

    async def remove(self, student_id: str, course_id: str) -> bool:
        result = await self.session.execute(
            delete(CartItem).where(
                CartItem.student_id == student_id, CartItem.course_id == course_id
            )
        )
        return rowcount(result) == 1

    async def clear(self, student_id: str) -> None:
        await self.session.execute(delete(CartItem).where(CartItem.student_id == student_id))


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, payment: Payment, items: Sequence[PaymentItem]) -> None:
        self.session.add(payment)
        self.session.add_all(items)
        await self.session.flush()

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
            select(PaymentItem).where(PaymentItem.payment_id == payment_id).order_by(PaymentItem.id)
        )
        return list(result.scalars().all())

    async def items_for(self, payment_ids: Sequence[str]) -> dict[str, list[PaymentItem]]:
        if not payment_ids:
            return {}
        result = await self.session.execute(
            select(PaymentItem).where(PaymentItem.payment_id.in_(payment_ids))
        )
        grouped: dict[str, list[PaymentItem]] = {pid: [] for pid in payment_ids}
        for item in result.scalars():
            grouped[item.payment_id].append(item)
        return grouped

    async def move(
        self,
        payment_id: str,
        *,
        from_statuses: Sequence[str],
        values: dict[str, Any],
    ) -> bool:
        """Change a payment only from the expected statuses: state moves forward once."""
        result = await self.session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status.in_(from_statuses))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def overdue(self, *, now: datetime, limit: int) -> list[Payment]:
        result = await self.session.execute(
            select(Payment)
            .where(
                Payment.status == "pending",
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
            Payment.status == "pending",
            Payment.processing.is_(False),
            Payment.due_at > now,
            Payment.due_at <= until,
        )
        if after:
            query = query.where(_after(Payment.due_at, after))
        result = await self.session.execute(query.order_by(Payment.due_at, Payment.id).limit(limit))
        return list(result.scalars().all())

    async def pending_started_before(
        self,
        *,
        before: datetime,
        now: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[Payment]:
        """Pending payments started by `before`, by (created_at, id) after `after`."""
        query = select(Payment).where(
            Payment.status == "pending",
            Payment.processing.is_(False),
            Payment.created_at <= before,
            Payment.due_at > now,
        )
        if after:
            query = query.where(_after(Payment.created_at, after))
        result = await self.session.execute(
            query.order_by(Payment.created_at, Payment.id).limit(limit)
        )
        return list(result.scalars().all())

    async def mark_item_refunded(self, item_id: str) -> None:
        await self.session.execute(
            update(PaymentItem).where(PaymentItem.id == item_id).values(refunded=True)
        )

    async def search(
        self,
        *,
        student_id: str | None,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Payment]:
        query = select(Payment)
        if student_id:
            query = query.where(Payment.student_id == student_id)
        if status:
            query = query.where(Payment.status == status)
        if after:
            stamp, last_id = after
            query = query.where(
                or_(
                    Payment.created_at < stamp,
                    and_(Payment.created_at == stamp, Payment.id < last_id),
                )
            )
        query = query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
        return list((await self.session.execute(query)).scalars().all())
