from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from functions.catalog.schemas import CourseOut, course_out
from functions.checkout.service import Cart, PaymentView

PaymentStatusName = Literal["pending", "paid", "failed", "expired", "refunded"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CartItemIn(Body):
    course_id: str


class MoneyOut(BaseModel):
    amount: int
    currency: str | None


class CartOut(BaseModel):
    items: list[CourseOut]
    total: MoneyOut

    @classmethod
    def of(cls, cart: Cart) -> CartOut:
        return cls(
            items=[course_out(v) for v in cart.courses],
            total=MoneyOut(amount=cart.total, currency=cart.currency),
        )


class PaymentItemOut(BaseModel):
    course_id: str
    enrollment_id: str
    description: str
    amount: int
    refunded: bool


class PaymentOut(BaseModel):
    id: str
    status: PaymentStatusName
    amount: int
    currency: str
    due_at: datetime
    course_ids: list[str]
    checkout_session_id: str | None
    checkout_url: str | None
    processing: bool
    refunded_amount: int
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None
    student_id: str
    items: list[PaymentItemOut]

    @classmethod
    def of(cls, view: PaymentView) -> PaymentOut:
        p = view.payment
        return cls(
            id=p.id,
            status=p.status,
            amount=p.amount,
            currency=p.currency,
            due_at=p.due_at,
            course_ids=[i.course_id for i in view.items],
            checkout_session_id=p.checkout_session_id,
            checkout_url=p.checkout_url if p.status == "pending" else None,
            processing=p.processing,
            refunded_amount=p.refunded_amount,
            created_at=p.created_at,
            paid_at=p.paid_at,
            refunded_at=p.refunded_at,
            student_id=p.student_id,
            items=[
                PaymentItemOut(
                    course_id=i.course_id,
                    enrollment_id=i.enrollment_id,
                    description=i.description,
                    amount=i.amount,
                    refunded=i.refunded,
                )
                for i in view.items
            ],
        )


class PaymentEnvelope(BaseModel):
    payment: PaymentOut


class PaymentPage(BaseModel):
    items: list[PaymentOut]
    next_cursor: str | None


class CheckoutOut(BaseModel):
    payment: PaymentOut | None
    checkout_url: str | None
    enrollment_ids: list[str]


class PayOut(BaseModel):
    payment: PaymentOut
    checkout_url: str | None
