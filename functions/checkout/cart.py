"""The cart: courses a student is about to enroll in, their total, and how
they clash with each other and with the student's timetable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from functions.catalog import service as catalog
from functions.catalog.errors import AlreadyEnrolled, CourseClosed, CourseFull, CourseNotFound
from functions.catalog.models import LIVE_STATUSES
from functions.catalog.rules import accepting
from functions.catalog.service import Clash, CourseView
from functions.checkout.errors import AlreadyInCart, NotInCart
from functions.checkout.repository import CartRepository
from lib.runtime import Portal


@dataclass
class Cart:
    courses: list[CourseView]
    total: int
    currency: str | None
    # A warning, never a refusal: the student may mean to take both.
    clashes: list[Clash]


def enrolled_meanwhile(view: CourseView) -> bool:
    # Enrolled (or waitlisted) some other way since it was put in the cart.
    return view.mine is not None and view.mine.status in LIVE_STATUSES


async def in_cart(session: AsyncSession, student_id: str, *, now: datetime) -> list[CourseView]:
    """The cart's courses, in the order they were added, as the student sees them."""
    course_ids = await CartRepository(session).course_ids(student_id)
    views = await catalog.course_views(session, course_ids, now=now, student_id=student_id)
    return [views[course_id] for course_id in course_ids if course_id in views]


async def get_cart(session: AsyncSession, student_id: str, *, now: datetime) -> Cart:
    """Read only: a course enrolled meanwhile is left out here and leaves the
    cart on the next change to it."""
    return await _current(session, student_id, now=now, prune=False)


async def _current(session: AsyncSession, student_id: str, *, now: datetime, prune: bool) -> Cart:
    """The cart as it stands, read once; with `prune`, the courses enrolled
    meanwhile leave it."""
    courses = await in_cart(session, student_id, now=now)
    stale = [v.course.id for v in courses if enrolled_meanwhile(v)]
    if prune and stale:
        await CartRepository(session).remove(student_id, stale)
    return await _cart_of(session, student_id, [v for v in courses if not enrolled_meanwhile(v)])


async def _cart_of(session: AsyncSession, student_id: str, courses: list[CourseView]) -> Cart:
    currencies = {v.course.currency for v in courses}
    found = await catalog.clashes(
        session, student_id=student_id, course_ids=[v.course.id for v in courses]
    )
    return Cart(
        courses=courses,
        total=sum(v.course.price_amount for v in courses),
        currency=currencies.pop() if len(currencies) == 1 else None,
        clashes=found,
    )


async def prune(session: AsyncSession, student_id: str, *, now: datetime) -> list[CourseView]:
    """Drop the courses enrolled meanwhile from the cart; the ones left."""
    courses = await in_cart(session, student_id, now=now)
    stale = [v.course.id for v in courses if enrolled_meanwhile(v)]
    await CartRepository(session).remove(student_id, stale)
    return [v for v in courses if not enrolled_meanwhile(v)]


# A change to the cart writes only the change: every other writer waits while
# a write transaction is open (on SQLite for the whole database). Whether the
# course may be added is read at the latest commit before it (checkout checks
# every course again when it holds the seats), and the cart that answers is
# read after the commit.


async def add_to_cart(portal: Portal, student_id: str, course_id: str, *, now: datetime) -> Cart:
    async with portal.read_sessions() as reader:
        views = await catalog.course_views(reader, [course_id], now=now, student_id=student_id)
    refuse_unless_enrollable(views.get(course_id), now=now)
    async with portal.transaction() as session:
        added = await CartRepository(session).add(student_id, course_id, now=now)
    if not added:
        raise AlreadyInCart()
    return await _after_change(portal, student_id, now=now)


def refuse_unless_enrollable(view: CourseView | None, *, now: datetime) -> None:
    """Why the student could not enroll in the course, as `check_enrollable`
    says it, from the course as they see it (one kept read)."""
    course = None if view is None else view.course
    if view is None or course is None or course.archived_at is not None:
        raise CourseNotFound()
    if not accepting(course, now):
        raise CourseClosed([course.code])
    if enrolled_meanwhile(view):
        raise AlreadyEnrolled([course.code])
    if course.seats_taken >= course.capacity:
        raise CourseFull([course.id], [course.code])


async def remove_from_cart(
    portal: Portal, student_id: str, course_id: str, *, now: datetime
) -> Cart:
    async with portal.transaction() as session:
        removed = await CartRepository(session).remove(student_id, [course_id])
    if not removed:
        raise NotInCart()
    return await _after_change(portal, student_id, now=now)


async def _after_change(portal: Portal, student_id: str, *, now: datetime) -> Cart:
    """The cart after a change, read after its commit; a course enrolled
    meanwhile leaves it (one more short write, only then)."""
    async with portal.read_sessions() as reader:
        courses = await in_cart(reader, student_id, now=now)
        stale = [v.course.id for v in courses if enrolled_meanwhile(v)]
        cart = await _cart_of(reader, student_id, [v for v in courses if v.course.id not in stale])
    if stale:
        async with portal.transaction() as session:
            await CartRepository(session).remove(student_id, stale)
    return cart
