"""Keyword-only helpers that build test data through the real services."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from functions.auth import service as auth
from functions.auth.models import User
from functions.catalog import seats, waitlist
from functions.catalog import service as catalog
from functions.catalog.models import Course, Enrollment
from functions.checkout import service as checkout
from functions.checkout.models import Payment
from lib.outbox import OutboxMessage, enqueue
from lib.runtime import CurrentUser, Portal
from lib.security import Role

DEFAULT_PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


@dataclass
class CheckedOut:
    """What a checkout made: the payment (None when every course was free),
    the page to pay it on, and the enrollments."""

    payment: Payment | None
    checkout_url: str | None
    enrollment_ids: list[str]


@dataclass
class SignedIn:
    user: User
    password: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Factory:
    def __init__(self, portal: Portal, client: httpx.AsyncClient) -> None:
        self.portal = portal
        self.client = client

    async def user(
        self,
        *,
        role: Role = Role.STUDENT,
        username: str | None = None,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        full_name: str | None = None,
        active: bool = True,
        verified: bool = True,
    ) -> User:
        """A user made as an administrator makes one: the address counts as
        verified unless `verified=False` (a student who may not pay yet)."""
        n = next(_counter)
        username = username or f"{role.value}{n}"
        async with self.portal.transaction() as session:
            user = await auth.create_user(
                session,
                self.portal,
                auth.NewAccount(
                    username=username,
                    email=email or f"{username}@example.com",
                    password=password,
                    full_name=full_name or f"{role.value.title()} Number {n}",
                    role=role,
                ),
            )
            user.is_active = active
            if not verified:
                user.email_verified_at = None
        return user

    async def signed_in(self, *, role: Role = Role.STUDENT, **kwargs: object) -> SignedIn:
        password = str(kwargs.pop("password", DEFAULT_PASSWORD))
        user = await self.user(role=role, password=password, **kwargs)  # type: ignore[arg-type]
        response = await self.client.post(
            "/api/auth/login", json={"login": user.username, "password": password}
        )
        assert response.status_code == 200, response.text
        # The refresh cookie belongs to this sign-in only; tests that need it read it.
        self.client.cookies.clear()
        return SignedIn(user, password, response.json()["access_token"])

    def headers_for(self, user: User) -> dict[str, str]:
        """An access token minted directly: no login, no password hashing."""
        token, _ = self.portal.tokens.issue(
            user_id=user.id, role=Role(user.role), now=self.portal.clock.now()
        )
        return {"Authorization": f"Bearer {token}"}

    async def course(
        self,
        *,
        code: str | None = None,
        title: str | None = None,
        description: str = "",
        instructor: User | None = None,
        capacity: int = 10,
        price: int = 12900,
        currency: str = "usd",
        payment_due_days: int = 0,
        starts_in_days: int = 30,
        length_days: int = 90,
        opens_in_days: int = 0,
        closes_in_days: int | None = None,
        sessions: Sequence[catalog.SessionSpec] | None = None,
    ) -> Course:
        """A course built by the catalog service; dates count from the portal clock's today."""
        n = next(_counter)
        if instructor is None:
            instructor = await self.user(role=Role.INSTRUCTOR)
        today = self.portal.clock.now().date()
        starts_on = today + timedelta(days=starts_in_days)

        def day(offset: int | None) -> date | None:
            return None if offset is None else today + timedelta(days=offset)

        spec = catalog.CourseSpec(
            code=code or f"C-{n:05d}",
            title=title or f"Course {n}",
            description=description,
            instructor_id=instructor.id,
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=length_days),
            sessions=list(sessions)
            if sessions is not None
            else [catalog.SessionSpec("monday", time(9, 0), time(10, 30), "Room 1")],
            capacity=capacity,
            price_amount=price,
            currency=currency,
            payment_due_days=payment_due_days,
            enrollment_opens_on=day(opens_in_days),
            enrollment_closes_on=day(closes_in_days),
        )
        async with self.portal.transaction() as session:
            view = await catalog.create_course(session, spec, now=self.portal.clock.now())
        return view.course

    async def enrollment(self, *, student: User, course: Course) -> Enrollment:
        """A seat held (or, for a free course, taken) through the seat rules
        alone: no payment is opened for it, as for a hold from before every
        hold had one. `reserved_seat` reserves as a student does."""
        async with self.portal.transaction() as session:
            held = await seats.hold_seats(
                session, student_id=student.id, course_ids=[course.id], now=self.portal.clock.now()
            )
        return held[0]

    async def waitlisted(self, *, student: User, course: Course) -> Enrollment:
        async with self.portal.transaction() as session:
            enrollment, _ = await waitlist.join_waitlist(
                session, student_id=student.id, course_id=course.id, now=self.portal.clock.now()
            )
        return enrollment

    async def in_cart(self, *, student: User, courses: Sequence[Course]) -> None:
        """Courses put in the student's cart through the checkout service."""
        for course in courses:
            await checkout.add_to_cart(
                self.portal, student.id, course.id, now=self.portal.clock.now()
            )

    async def reserved_seat(self, *, student: User, course: Course) -> Enrollment:
        """A seat reserved from the course page: held, with a payment of its own."""
        async with self.portal.transaction() as session:
            return await seats.enroll(
                session, student_id=student.id, course_id=course.id, now=self.portal.clock.now()
            )

    async def checked_out(self, *, student: User, courses: Sequence[Course]) -> CheckedOut:
        """The courses carted and checked out: seats held, a payment and a Checkout
        Session with the payment simulator (the app must be built, as the `client`
        fixture does)."""
        await self.in_cart(student=student, courses=courses)
        actor = CurrentUser(id=student.id, username=student.username, role=Role(student.role))
        view = await checkout.checkout(self.portal, actor)
        payment = view.payment.payment if view.payment else None
        return CheckedOut(payment, view.checkout_url, view.enrollment_ids)

    async def registered(
        self,
        *,
        username: str | None = None,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        full_name: str | None = None,
    ) -> User:
        """A student who signed up themselves: the welcome message (with the
        link that verifies the address) is queued, and the address is not
        verified yet."""
        n = next(_counter)
        username = username or f"registered{n}"
        async with self.portal.transaction() as session:
            return await auth.register(
                session,
                self.portal,
                auth.NewAccount(
                    username=username,
                    email=email or f"{username}@example.com",
                    password=password,
                    full_name=full_name or f"Registered Number {n}",
                    role=Role.STUDENT,
                ),
            )

    async def reserved(
        self, *, student: User | None = None, payment_due_days: int = 7, price: int = 12900
    ) -> Payment:
        """Reserve now, pay later: a seat held in a new course and a pending
        payment due `payment_due_days` days from the portal clock's now."""
        student = student or await self.user()
        course = await self.course(payment_due_days=payment_due_days, price=price)
        result = await self.checked_out(student=student, courses=[course])
        assert result.payment is not None
        return result.payment

    async def queued(
        self,
        *,
        recipient: User,
        kind: str = "auth.welcome",
        payload: dict[str, Any] | None = None,
    ) -> OutboxMessage:
        """A message put in the outbox as any capability puts one there."""
        key = f"test:{uuid.uuid4().hex}"
        async with self.portal.transaction() as session:
            await enqueue(
                session,
                kind=kind,
                recipient_id=recipient.id,
                payload=payload or {},
                now=self.portal.clock.now(),
                dedupe_key=key,
            )
            result = await session.execute(
                select(OutboxMessage).where(OutboxMessage.dedupe_key == key)
            )
            return result.scalar_one()
