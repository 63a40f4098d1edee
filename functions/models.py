"""Imports every table so that one metadata describes the whole schema."""

from functions.auth.models import RefreshToken, User
from functions.catalog.models import Course, CourseSession, Enrollment
from lib.db import Base
from lib.outbox import OutboxMessage
from lib.throttle import ThrottleHit

metadata = Base.metadata

__all__ = [
    "Course",
    "CourseSession",
    "Enrollment",
    "OutboxMessage",
    "RefreshToken",
    "ThrottleHit",
    "User",
    "metadata",
]
