"""A rush on a small course through several real server processes.

Four `portal serve` processes share one database (SQLite or PostgreSQL) and one
payment simulator. Two hundred students with the same 10-seat course in their
carts check out at the same moment, spread over the four servers: exactly ten
get a seat, everyone else is told the course is full, and nothing breaks. Then
Stripe delivers one paid event twenty times at once to the four servers: it is
applied once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from functions.auth.models import User
from functions.catalog.models import Course, Enrollment
from functions.checkout.models import Payment
from functions.webhooks.models import StripeEvent
from lib.clock import SystemClock
from lib.config import DEVELOPMENT_WEBHOOK_SECRET
from lib.outbox import OutboxMessage
from lib.payments.signing import sign
from lib.runtime import Portal
from lib.security import AccessTokens, Role
from tests.functions.checkout.servers import SECRET_KEY, portal_servers
from tests.functions.checkout.support import WEBHOOK, event, prepare_rush, session_object
from tests.servers import MANY_SERVERS, rush_client

pytestmark = MANY_SERVERS

SERVERS = 4
STUDENTS = 200
SEATS = 10
DELIVERIES = 20


def _headers(tokens: AccessTokens, student: User) -> dict[str, str]:
    token, _ = tokens.issue(user_id=student.id, role=Role.STUDENT, now=SystemClock().now())
    return {"Authorization": f"Bearer {token}"}


async def test_two_hundred_students_rush_ten_seats_through_four_servers(
    local_portal: Portal, shared_database: str, backend: str, tmp_path: Path
) -> None:
    # GIVEN a 10-seat course in 200 students' carts, and four servers
    prepared = await prepare_rush(local_portal, seats=SEATS, students=STUDENTS)
    tokens = AccessTokens(SECRET_KEY, ttl=timedelta(minutes=15))
    headers = [_headers(tokens, s) for s in prepared.students]
    with portal_servers(shared_database, tmp_path, count=SERVERS) as servers:
        urls = [server.url for server in servers]
        clients = [rush_client(url, backend) for url in urls]
        try:
            # WHEN all of them check out at the same moment, spread over the servers
            responses = await asyncio.gather(
                *(
                    clients[n % SERVERS].post("/api/checkout", headers=headers[n])
                    for n in range(STUDENTS)
                )
            )

            # THEN exactly ten hold a seat and every other one is told it is full
            statuses = Counter(r.status_code for r in responses)
            assert statuses == {201: SEATS, 409: STUDENTS - SEATS}, (
                statuses,
                [r.text for r in responses if r.status_code not in {201, 409}][:3],
            )
            refusals = Counter(r.json()["error"]["code"] for r in responses if r.status_code == 409)
            assert refusals == {"course_full": STUDENTS - SEATS}
            winners = [r for r in responses if r.status_code == 201]
            assert all(r.json()["payment"]["status"] == "pending" for r in winners)

            # ... and the database agrees: ten seats, ten live enrollments, ten payments
            async with local_portal.read_sessions() as session:
                course = await session.get(Course, prepared.course.id)
                assert course is not None
                live = await session.scalar(
                    select(func.count()).where(
                        Enrollment.course_id == course.id,
                        Enrollment.status.in_(["pending_payment", "active"]),
                    )
                )
                payments = await session.scalar(select(func.count()).select_from(Payment))
            assert course.seats_taken == SEATS == live
            assert payments == SEATS

            # WHEN Stripe delivers one paid event twenty times at once to the servers
            payment_id = winners[0].json()["payment"]["id"]
            async with local_portal.read_sessions() as session:
                payment = await session.get(Payment, payment_id)
                assert payment is not None
            paid = event(
                "checkout.session.completed",
                session_object(payment, payment_intent=f"pi_rush_{payment_id}"),
            )
            body = json.dumps(paid).encode()
            signature = sign(
                body, DEVELOPMENT_WEBHOOK_SECRET, timestamp=int(SystemClock().now().timestamp())
            )
            deliveries = await asyncio.gather(
                *(
                    clients[n % SERVERS].post(
                        WEBHOOK,
                        content=body,
                        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                    )
                    for n in range(DELIVERIES)
                )
            )

            # THEN every delivery is acknowledged and exactly one applied it
            assert [d.status_code for d in deliveries] == [200] * DELIVERIES, [
                d.text for d in deliveries if d.status_code != 200
            ][:3]
            outcomes = Counter(d.json()["outcome"] for d in deliveries)
            assert outcomes == {"paid": 1, "duplicate": DELIVERIES - 1}
        finally:
            for client in clients:
                await client.aclose()

    async with local_portal.read_sessions() as session:
        payment = await session.get(Payment, payment_id)
        assert payment is not None
        assert payment.status == "paid"
        recorded = await session.scalar(select(func.count()).where(StripeEvent.id == paid["id"]))
        confirmations = await session.scalar(
            select(func.count()).where(
                OutboxMessage.kind == "checkout.payment_confirmed",
                OutboxMessage.dedupe_key == f"checkout.payment_confirmed:{payment_id}",
            )
        )
        active = await session.scalar(
            select(func.count()).where(
                Enrollment.payment_id == payment_id, Enrollment.status == "active"
            )
        )
        course = await session.get(Course, prepared.course.id)
        assert course is not None
    assert (recorded, confirmations, active) == (1, 1, 1)
    assert course.seats_taken == SEATS
