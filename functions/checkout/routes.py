from __future__ import annotations

from starlette.routing import Route

from functions.checkout import service
from functions.checkout.schemas import (
    CartItemIn,
    CartOut,
    CheckoutOut,
    PaymentEnvelope,
    PaymentOut,
    PaymentPage,
    PayOut,
)
from lib.http import Call, endpoint, only
from lib.pagination import parse_limit
from lib.security import Role

STUDENT = only(Role.STUDENT)
OWNER_OR_ADMIN = only(Role.STUDENT, Role.ADMIN)


@endpoint(STUDENT, response=CartOut, summary="My cart, with prices and a total")
async def get_cart(call: Call[None]) -> CartOut:
    return CartOut.of(await service.get_cart(call.session, call.me.id, now=call.now))


@endpoint(
    STUDENT,
    body=CartItemIn,
    response=CartOut,
    status=201,
    errors=[404, 409],
    summary="Add a course to my cart",
    own_transactions=True,
)
async def add_item(call: Call[CartItemIn]) -> CartOut:
    cart = await service.add_to_cart(call.portal, call.me.id, call.body.course_id, now=call.now)
    return CartOut.of(cart)


@endpoint(
    STUDENT,
    response=CartOut,
    errors=[404],
    summary="Remove a course from my cart",
    own_transactions=True,
)
async def remove_item(call: Call[None]) -> CartOut:
    cart = await service.remove_from_cart(
        call.portal, call.me.id, call.path("course_id"), now=call.now
    )
    return CartOut.of(cart)


@endpoint(
    STUDENT,
    response=CheckoutOut,
    status=201,
    errors=[409, 410, 502],
    summary="Hold a seat in every cart course (or none) and start paying",
    own_transactions=True,
)
async def checkout(call: Call[None]) -> CheckoutOut:
    return CheckoutOut.of(await service.checkout(call.portal, call.me))


@endpoint(
    OWNER_OR_ADMIN,
    response=PaymentPage,
    query=["status", "student_id", "cursor", "limit"],
    errors=[422],
    summary="Payments: mine, or everyone's for an administrator",
)
async def list_payments(call: Call[None]) -> PaymentPage:
    views, next_cursor = await service.list_payments(
        call.session, call.me,
        status=call.query("status"), student_id=call.query("student_id"),
        cursor=call.query("cursor"), limit=parse_limit(call.query("limit")),
    )  # fmt: skip
    return PaymentPage(items=[PaymentOut.of(v) for v in views], next_cursor=next_cursor)


@endpoint(OWNER_OR_ADMIN, response=PaymentEnvelope, errors=[404], summary="One payment")
async def get_payment(call: Call[None]) -> PaymentEnvelope:
    view = await service.get_payment(call.session, call.me, call.path("id"))
    return PaymentEnvelope(payment=PaymentOut.of(view))


@endpoint(
    STUDENT,
    response=PayOut,
    errors=[404, 409, 410, 502],
    summary="Pay a pending payment: its Checkout Session, a fresh one if it no longer works",
    own_transactions=True,
)
async def pay(call: Call[None]) -> PayOut:
    return PayOut.of(await service.pay_later(call.portal, call.me, call.path("id")))


@endpoint(
    STUDENT,
    response=PayOut,
    status=201,
    errors=[404, 409, 410, 502],
    summary="Pay for a seat held outside a checkout (waitlist promotion, reservation)",
    own_transactions=True,
)
async def pay_hold(call: Call[None]) -> PayOut:
    return PayOut.of(await service.pay_for_hold(call.portal, call.me, call.path("id")))


@endpoint(
    only(Role.ADMIN),
    response=PaymentEnvelope,
    errors=[404, 409, 502],
    summary="Refund a paid payment; its enrollments end as refunded",
    own_transactions=True,
)
async def refund(call: Call[None]) -> PaymentEnvelope:
    view = await service.refund(call.portal, call.path("id"))
    return PaymentEnvelope(payment=PaymentOut.of(view))


routes = [
    Route("/", checkout, methods=["POST"]),
    Route("/cart", get_cart, methods=["GET"]),
    Route("/cart/items", add_item, methods=["POST"]),
    Route("/cart/items/{course_id}", remove_item, methods=["DELETE"]),
    Route("/holds/{id}/pay", pay_hold, methods=["POST"]),
    Route("/payments", list_payments, methods=["GET"]),
    Route("/payments/{id}", get_payment, methods=["GET"]),
    Route("/payments/{id}/pay", pay, methods=["POST"]),
    Route("/payments/{id}/refund", refund, methods=["POST"]),
]
