"""The checkout's rules, one module per concern; this is what the routes, the
webhooks, the jobs and other capabilities call.

- `cart`: the cart, its total and its timetable clashes;
- `payments`: checkout and paying (seats held and the payment written in one
  transaction, Stripe called between that one and the next), reading payments;
- `sessions`: Stripe Checkout Sessions;
- `refunds`: an administrator's refunds and the refunds events make owed;
- `expiry`: payments that fall due unpaid;
- `events`: how each Stripe event moves a payment;
- `ledger`: what the catalog asks of the checkout (it imports no catalog)."""

from __future__ import annotations

from functions.checkout.cart import Cart, add_to_cart, get_cart, remove_from_cart
from functions.checkout.events import (
    Outcome,
    SessionFacts,
    async_payment_failed,
    async_payment_succeeded,
    charge_refunded,
    session_completed,
    session_expired,
)
from functions.checkout.expiry import expire_overdue_payments
from functions.checkout.payments import (
    PaymentView,
    PayView,
    checkout,
    get_payment,
    list_payments,
    pay_for_hold,
    pay_later,
)
from functions.checkout.refunds import issue as issue_refunds
from functions.checkout.refunds import issue_due as issue_due_refunds
from functions.checkout.refunds import refund
from functions.checkout.sessions import STRIPE_MAX_SESSION, STRIPE_MIN_SESSION

__all__ = [
    "STRIPE_MAX_SESSION",
    "STRIPE_MIN_SESSION",
    "Cart",
    "Outcome",
    "PayView",
    "PaymentView",
    "SessionFacts",
    "add_to_cart",
    "async_payment_failed",
    "async_payment_succeeded",
    "charge_refunded",
    "checkout",
    "expire_overdue_payments",
    "get_cart",
    "get_payment",
    "issue_due_refunds",
    "issue_refunds",
    "list_payments",
    "pay_for_hold",
    "pay_later",
    "refund",
    "remove_from_cart",
    "session_completed",
    "session_expired",
]
