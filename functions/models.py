"""Imports every table so that one metadata describes the whole schema."""

from functions.auth.models import AccountToken, RefreshToken, User
from functions.catalog import versioning  # noqa: F401 - the catalog version's triggers
from functions.catalog.models import Course, CourseSession, Enrollment
from functions.checkout.models import CartItem, Payment, PaymentItem, Refund
from functions.webhooks.models import StripeEvent
from lib.caching import catalog_versions
from lib.db import Base
from lib.outbox import OutboxMessage
from lib.throttle import ThrottleHit

metadata = Base.metadata

__all__ = [
    "AccountToken",
    "CartItem",
    "Course",
    "CourseSession",
    "Enrollment",
    "OutboxMessage",
    "Payment",
    "PaymentItem",
    "RefreshToken",
    "Refund",
    "StripeEvent",
    "ThrottleHit",
    "User",
    "catalog_versions",
    "metadata",
]
