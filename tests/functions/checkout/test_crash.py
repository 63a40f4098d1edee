"""A server killed with SIGKILL in the middle of a checkout rush.

Three `portal serve` processes share one database (a SQLite file or
PostgreSQL). Ninety students check out a 12-seat course at once, spread over
the servers. Server 0 talks to a Stripe that never answers, so the moment its
first checkout calls Stripe is known: it is inside a checkout, seats held and
locks taken (SQLite's write lock, PostgreSQL's row locks). Right then it is
killed with `kill -9`: no shutdown, no rollback of its own, its six requests cut
off. Afterwards every request answered 2xx has all its rows, the seats add up
and never overbook, nothing is half written, the other servers were not stuck
behind the dead one's locks, a student whose request was cut off finds out
where they stand by trying again, and once the holds run out the expiry job
frees every seat, any the dead process left behind included.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from functions.auth.models import User
from functions.catalog.models import SEAT_STATUSES, Course, Enrollment
from functions.checkout.models import CartItem, Payment, PaymentItem
from functions.runtime import build_portal, post_to_webhook
from functions.webhooks.models import StripeEvent
from lib.clock import FrozenClock, SystemClock
from lib.runtime import Portal
from lib.security import Role
from scheduler.registry import JOBS
from tests.conftest import test_settings as settings_for
from tests.functions.checkout.support import assert_consistent, prepare_rush, simulator_of
from tests.servers import (
    MANY_SERVERS,
    SECRET_KEY,
    Server,
    is_healthy,
    portal_environment,
    running_servers,
    rush_client,
)

pytestmark = MANY_SERVERS

SERVERS = 3
STUDENTS = 90
SEATS = 12
DEAD_SERVERS_SHARE = SEATS // 2
STRIPE_DEADLINE_SECONDS = 60
# Sent and never answered: the server died with the request in its hands.
CUT_OFF = {"RemoteProtocolError", "ReadError"}


@dataclass
class Attempt:
    student: User
    server: int
    response: httpx.Response | None = None
    failure: str | None = None

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code


async def test_a_server_killed_mid_rush_loses_no_committed_write(
    local_portal: Portal, shared_database: str, backend: str, tmp_path: Path
) -> None:
    # GIVEN a 12-seat course in 90 students' carts, and three servers, the
    # first of which talks to a Stripe that never answers
    rush = await prepare_rush(local_portal, seats=SEATS, students=STUDENTS)
    env = portal_environment(shared_database, tmp_path)
    async with _stripe_that_never_answers() as (stripe_url, stripe_called):
        envs = [{**env, "STRIPE_API_BASE": stripe_url}] + [env] * (SERVERS - 1)
        with running_servers(envs, tmp_path) as servers:
            # WHEN they all check out at once and server 0 is killed (kill -9)
            # inside a checkout, as it waits for Stripe
            attempts = await _rush(local_portal, servers, rush.students, backend, stripe_called)
            assert servers[0].process.returncode == -9
            await _after_the_kill(
                local_portal, servers, attempts, course_id=rush.course.id, backend=backend
            )

    # WHEN the holds run out and the expiry job runs
    await _expire_everything(shared_database, tmp_path)
    # THEN every seat is free again
    after = await _rows(local_portal, rush.course.id)
    assert after.course.seats_taken == 0
    assert after.seated == []
    assert {p.status for p in after.payments.values()} == {"expired"}
    await assert_consistent(local_portal, context="after expiry", course_ids=[rush.course.id])


async def _after_the_kill(
    portal: Portal,
    servers: Sequence[Server],
    attempts: list[Attempt],
    *,
    course_id: str,
    backend: str,
) -> None:
    # THEN every request to the dead server was cut off, some mid-flight
    assert all(a.failure for a in attempts if a.server == 0)
    assert any(a.failure in CUT_OFF for a in attempts), "no request was in flight"
    # AND the others answered every one of theirs: a seat or "full", no errors
    answered = Counter(a.status for a in attempts if a.server != 0)
    assert set(answered) <= {201, 409}, answered
    # AND they still answer, also to those cut off, who learn where they
    # stand by trying again
    assert all([await asyncio.to_thread(is_healthy, s.url) for s in servers[1:]])
    retried = await _retry(portal, servers[1], [a for a in attempts if a.failure], backend)

    rows = await _rows(portal, course_id)
    _every_answer_matches_the_rows(attempts, rows)
    _retries_match_the_rows(retried, rows)
    # AND the seats add up: the course is full, never over, counted right
    assert rows.course.seats_taken == SEATS == len(rows.seated)
    winners = [a for a in attempts if a.status == 201]
    unanswered_holds = [a for a in attempts if a.failure and a.student.id in rows.payments]
    assert len(winners) + len(unanswered_holds) == SEATS
    await assert_consistent(portal, context="after the kill", course_ids=[course_id])
    _nothing_half_written(rows, cut_off={a.student.id for a in attempts if a.failure})


@asynccontextmanager
async def _stripe_that_never_answers() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """An HTTP endpoint that takes requests and never answers them; the event
    is set when the first one arrives."""
    called = asyncio.Event()
    connections: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.readline()
        called.set()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", called
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def _rush(
    portal: Portal,
    servers: Sequence[Server],
    students: Sequence[User],
    backend: str,
    stripe_called: asyncio.Event,
) -> list[Attempt]:
    """Server 0's share of the students first; once it is inside a checkout
    (Stripe was called), everyone else's and the kill; then every answer."""

    async def check_out(attempt: Attempt, client: httpx.AsyncClient) -> None:
        headers = _bearer(portal, attempt.student)
        try:
            attempt.response = await client.post("/api/checkout", headers=headers)
        except httpx.TransportError as exc:
            attempt.failure = type(exc).__name__

    # Server 0 takes fewer students than there are seats: however quickly it
    # serves them before the kill, the others still have seats to sell.
    attempts = [
        Attempt(s, 0 if n < DEAD_SERVERS_SHARE else 1 + n % (len(servers) - 1))
        for n, s in enumerate(students)
    ]
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(rush_client(s.url, backend)) for s in servers]
        first = [asyncio.create_task(check_out(a, clients[0])) for a in attempts if a.server == 0]
        await asyncio.wait_for(stripe_called.wait(), STRIPE_DEADLINE_SECONDS)
        others = [a for a in attempts if a.server != 0]
        rest = [asyncio.create_task(check_out(a, clients[a.server])) for a in others]
        servers[0].kill()
        await asyncio.gather(*first, *rest)
    return attempts


def _bearer(portal: Portal, student: User) -> dict[str, str]:
    token, _ = portal.tokens.issue(user_id=student.id, role=Role.STUDENT, now=SystemClock().now())
    return {"Authorization": f"Bearer {token}"}


async def _retry(
    portal: Portal, server: Server, failed: list[Attempt], backend: str
) -> list[Attempt]:
    async with rush_client(server.url, backend) as client:
        return [
            Attempt(
                a.student,
                server=1,
                response=await client.post("/api/checkout", headers=_bearer(portal, a.student)),
            )
            for a in failed
        ]


@dataclass
class Rows:
    course: Course
    enrollments: dict[str, Enrollment]  # by student
    payments: dict[str, Payment]  # by student
    items: list[PaymentItem]
    carts: set[str]  # students with the course still in their cart

    @property
    def seated(self) -> list[Enrollment]:
        return [e for e in self.enrollments.values() if e.status in SEAT_STATUSES]


async def _rows(portal: Portal, course_id: str) -> Rows:
    async with portal.read_sessions() as session:
        course = await session.get(Course, course_id)
        assert course is not None
        enrollments = list(
            (
                await session.execute(select(Enrollment).where(Enrollment.course_id == course_id))
            ).scalars()
        )
        payments = list((await session.execute(select(Payment))).scalars())
        items = list((await session.execute(select(PaymentItem))).scalars())
        carts = (
            await session.execute(select(CartItem).where(CartItem.course_id == course_id))
        ).scalars()
        cart_students = {c.student_id for c in carts}
    by_student = {e.student_id: e for e in enrollments}
    assert len(by_student) == len(enrollments), "a student holds two enrollments"
    paid_by = {p.student_id: p for p in payments}
    assert len(paid_by) == len(payments), "a student has two payments"
    return Rows(course, by_student, paid_by, items, cart_students)


def _every_answer_matches_the_rows(attempts: list[Attempt], rows: Rows) -> None:
    for attempt in attempts:
        student = attempt.student.id
        if attempt.status == 201:
            # A 2xx was sent after the commit: its hold, payment and line are there.
            body = attempt.response.json() if attempt.response else {}
            payment = rows.payments.get(student)
            assert payment is not None, f"{student}: 201 but no payment"
            assert (payment.id, payment.status) == (body["payment"]["id"], "pending")
            assert rows.enrollments[student].status == "pending_payment"
            assert rows.enrollments[student].payment_id == payment.id
            assert student not in rows.carts
        elif attempt.status == 409:
            assert attempt.response is not None
            assert attempt.response.json()["error"]["code"] == "course_full"
            _untouched(student, rows)
        elif student in rows.payments:
            # Cut off after its commit: the whole checkout is there.
            assert rows.enrollments[student].payment_id == rows.payments[student].id
            assert student not in rows.carts
        else:
            # Cut off before its commit: nothing of it is there.
            _untouched(student, rows)


def _untouched(student: str, rows: Rows) -> None:
    assert student not in rows.enrollments, f"{student}: an enrollment without a checkout"
    assert student not in rows.payments, f"{student}: a payment without a checkout"
    assert student in rows.carts, f"{student}: the cart was emptied without a checkout"


def _retries_match_the_rows(retried: list[Attempt], rows: Rows) -> None:
    for attempt in retried:
        assert attempt.response is not None
        code = attempt.response.json()["error"]["code"]
        expected = "cart_empty" if attempt.student.id in rows.payments else "course_full"
        assert (attempt.status, code) == (409, expected)


def _nothing_half_written(rows: Rows, *, cut_off: set[str]) -> None:
    by_payment: dict[str, list[PaymentItem]] = {}
    for item in rows.items:
        by_payment.setdefault(item.payment_id, []).append(item)
    enrollments = {e.id: e for e in rows.enrollments.values()}
    for payment in rows.payments.values():
        lines = by_payment.get(payment.id, [])
        assert len(lines) == 1, f"payment {payment.id} has {len(lines)} lines"
        assert lines[0].amount == payment.amount
        assert enrollments[lines[0].enrollment_id].payment_id == payment.id
        # A checkout cut off between holding its seats and hearing back from
        # Stripe may have no session; the expiry job frees it (checked later).
        if payment.student_id not in cut_off:
            assert payment.checkout_session_id, f"payment {payment.id} has no Checkout Session"
    for enrollment in rows.enrollments.values():
        assert enrollment.payment_id in {p.id for p in rows.payments.values()}


async def _expire_everything(database_url: str, workdir: Path) -> None:
    """The scheduler's expiry job once every hold has run out (a portal on a
    clock an hour ahead), then Stripe's own expiry of the sessions, whose
    events reach this portal's webhook and must change nothing more."""
    later = FrozenClock(SystemClock().now() + timedelta(hours=1))
    answers: list[int] = []
    built: list[Portal] = []

    async def recorded(body: bytes, headers: dict[str, str]) -> int:
        answers.append(await post_to_webhook(built[0], body, headers))
        return answers[-1]

    portal = build_portal(
        settings_for(database_url, workdir, secret_key=SECRET_KEY),
        clock=later,
        deliver_webhook=recorded,
    )
    built.append(portal)
    try:
        result = await JOBS["checkout.release_expired_holds"].run(portal)
        assert result["expired_payments"] == SEATS
        simulator = simulator_of(portal)
        await simulator.tick()
        async with portal.read_sessions() as session:
            outcomes = Counter(
                e.outcome
                for e in (await session.execute(select(StripeEvent))).scalars()
                if e.type == "checkout.session.expired"
            )
    finally:
        await portal.dispose()
    assert answers, "Stripe sent no expiry events"
    assert set(answers) == {200}, answers
    assert set(outcomes) == {"unchanged"}, outcomes
