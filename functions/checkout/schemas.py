from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from functions.catalog.schemas import ClashOut, CourseOut, course_out
from functions.checkout.service import Cart, PaymentView, PayView
from lib.schemas import Body, MoneyOut

PaymentStatusName = Literal["pending", "paid", "failed", "expired", "refunded"]


class CartItemIn(Body):
    course_id: str


class CartOut(BaseModel):
    items: list[CourseOut]
    total: MoneyOut
    # Cart courses that meet at the same time as each other (each pair once)
    # or as the student's live enrollments: a warning, checkout still works.
    clashes: list[ClashOut]

    @classmethod
    def of(cls, cart: Cart) -> CartOut:
        return cls(
            items=[course_out(v) for v in cart.courses],
            total=MoneyOut(amount=cart.total, currency=cart.currency),
            clashes=[ClashOut.of(c) for c in cart.clashes],
        )


class PaymentItemOut(BaseModel):
    course_id: str
    enrollment_id: str
    description: str
    amount: int
    refunded: bool


class PaymentOut(BaseModel):
    id: str
    # The short form a person reads and quotes, e.g. "R-7F3A-9C2M".
    receipt_number: str
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
            receipt_number=p.receipt_number,
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

    @classmethod
    def of(cls, view: PayView) -> CheckoutOut:
        return cls(
            payment=PaymentOut.of(view.payment) if view.payment else None,
            checkout_url=view.checkout_url,
            enrollment_ids=view.enrollment_ids,
        )


class PayOut(BaseModel):
    payment: PaymentOut
    checkout_url: str | None

    @classmethod
    def of(cls, view: PayView) -> PayOut:
        assert view.payment is not None
        return cls(payment=PaymentOut.of(view.payment), checkout_url=view.checkout_url)
