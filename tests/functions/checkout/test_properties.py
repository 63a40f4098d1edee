"""Thousands of random, interleaved operations: checkouts, payments on the hosted
page (paid, declined, bank debits that settle or fail), Stripe's events delivered
in random order and replayed, time passing with the sweeps, refunds, drops and
waitlist joins and leaves. After every step the books must balance:

- every course's seats_taken equals its seat-holding enrollments, within capacity;
- a paid payment's enrollments are active (or dropped since), or their line was
  refunded; a payment that ended without money holds no seat;
- no enrollment of a paid course is active without a paid payment;
- every event is applied once: any delivery after the first that applied it is a
  duplicate.

At the end of a run every event is delivered, and the money Stripe kept for
each payment is what the payment says it kept.

The test plays the network between Stripe and the portal: the simulator's
outgoing events are caught (its `deliver` hook, which the app wires to the
webhook) and delivered by the test, signed as Stripe signs them, in a random
order, some of them twice.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from functions.auth.models import User
from functions.catalog.models import Course, Enrollment
from functions.checkout import service as cart
from functions.checkout.models import Payment
from lib.clock import FrozenClock
from lib.errors import PortalError
from lib.outbox import OutboxMessage
from lib.payments.simulator import Deliver
from lib.runtime import Portal
from lib.security import Role
from tests.factories import Factory
from tests.functions.checkout.support import (
    CONFIRMED,
    DECLINED_CARD,
    PAYING_CARD,
    assert_consistent,
    expire_overdue_payments,
    pay_on_page,
    release_expired_holds,
    session_id_of,
    signed,
    simulator_of,
)

RUNS = {"sqlite": 20, "postgresql": 8}
STEPS = {"sqlite": 150, "postgresql": 120}
STUDENTS = 6
TIME_STEPS = [
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(minutes=31),
    timedelta(hours=2),
    timedelta(days=1),
]
PAY_METHODS = [
    ("card", PAYING_CARD, 6),
    ("card", DECLINED_CARD, 2),
    ("bank_debit", "", 2),
    ("bank_debit_fail", "", 2),
]


@dataclass
class Network:
    """Stripe's deliveries, held by the test and sent in any order."""

    queue: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    applied: Counter[str] = field(default_factory=Counter)

    async def catch(self, body: bytes, headers: dict[str, str]) -> int:
        payload = json.loads(body)
        if payload["id"] not in self.seen:
            self.seen.add(payload["id"])
            self.queue.append(payload)
        return 200


@dataclass
class Run:
    seed: int
    rng: random.Random
    client: httpx.AsyncClient
    factory: Factory
    portal: Portal
    clock: FrozenClock
    students: list[User]
    admin: User
    courses: list[Course]
    network: Network = field(default_factory=Network)
    payment_ids: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    step: int = 0
    log: list[str] = field(default_factory=list)

    def where(self) -> str:
        recent = "; ".join(self.log[-8:])
        return f"seed {self.seed}, step {self.step}, last: {recent}"

    def headers(self, user: User) -> dict[str, str]:
        return self.factory.headers_for(user)

    def expect(self, response: httpx.Response, *allowed: int) -> None:
        assert response.status_code in allowed, (
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]} ({self.where()})"
        )

    async def rows(self, model: type[Any], **where: Any) -> list[Any]:
        async with self.portal.read_sessions() as session:
            query = select(model)
            for name, value in where.items():
                column = getattr(model, name)
                query = query.where(
                    column.in_(value) if isinstance(value, list) else column == value
                )
            return list((await session.execute(query)).scalars().all())

    async def payments(self, *statuses: str) -> list[Payment]:
        if not self.payment_ids:
            return []
        rows = await self.rows(Payment, id=self.payment_ids)
        return sorted((p for p in rows if not statuses or p.status in statuses), key=lambda p: p.id)

    async def enrollments(self, *statuses: str) -> list[Enrollment]:
        rows = await self.rows(Enrollment, course_id=[c.id for c in self.courses])
        return sorted((e for e in rows if e.status in statuses), key=lambda e: e.id)

    # --- operations ---------------------------------------------------------------------

    async def checkout(self) -> None:
        student = self.rng.choice(self.students)
        wanted = self.rng.sample(self.courses, self.rng.choice([1, 1, 2]))
        self.log.append(f"checkout {student.username} {[c.code for c in wanted]}")
        # The cart is filled through the service (its own HTTP is tested elsewhere);
        # a course it refuses simply stays out.
        for course in wanted:
            with contextlib.suppress(PortalError):
                await cart.add_to_cart(self.portal, student.id, course.id, now=self.clock.now())
        response = await self.client.post("/api/checkout", headers=self.headers(student))
        self.expect(response, 201, 409)
        if response.status_code == 201:
            body = response.json()
            if body["payment"] is not None:
                self.payment_ids.append(body["payment"]["id"])
                self.sessions.append(session_id_of(body["checkout_url"]))
            return
        assert response.json()["error"]["code"] in {
            "course_full",
            "already_enrolled",
            "cart_empty",
        }, f"{response.text} ({self.where()})"
        async with self.portal.read_sessions() as session:
            left = (await cart.get_cart(session, student.id, now=self.clock.now())).courses
        for course in left:
            await cart.remove_from_cart(
                self.portal, student.id, course.course.id, now=self.clock.now()
            )

    async def pay(self) -> None:
        pending = [p for p in await self.payments("pending") if p.checkout_session_id]
        if pending and self.rng.random() < 0.85:
            session_id = str(self.rng.choice(pending).checkout_session_id)
        elif self.sessions:
            # A stale tab: a session that may have been closed or replaced.
            session_id = self.rng.choice(self.sessions)
        else:
            return
        method, card, _ = self.rng.choices(PAY_METHODS, weights=[m[2] for m in PAY_METHODS])[0]
        self.log.append(f"pay {session_id[-6:]} {method} {card[-4:]}")
        response = await pay_on_page(self.client, session_id, method=method, card=card)
        self.expect(response, 303, 402, 410)

    async def pay_later(self) -> None:
        pending = await self.payments("pending")
        if not pending:
            return
        payment = self.rng.choice(pending)
        owner = next(s for s in self.students if s.id == payment.student_id)
        self.log.append(f"pay later {payment.id[-6:]}")
        response = await self.client.post(
            f"/api/checkout/payments/{payment.id}/pay", headers=self.headers(owner)
        )
        self.expect(response, 200, 409, 410)
        if response.status_code == 200 and response.json()["checkout_url"]:
            self.sessions.append(session_id_of(response.json()["checkout_url"]))

    async def deliver(self) -> None:
        if not self.network.queue:
            return
        payload = self.network.queue.pop(self.rng.randrange(len(self.network.queue)))
        await self.send(payload)

    async def send(self, payload: dict[str, Any]) -> httpx.Response:
        body, headers = signed(self.portal, payload)
        self.log.append(f"deliver {payload['type']} {payload['id'][-6:]}")
        response = await self.client.post("/api/webhooks/stripe", content=body, headers=headers)
        self.expect(response, 200, 409)
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "event_not_ready", self.where()
            self.network.queue.append(payload)
            return response
        outcome = response.json()["outcome"]
        if outcome == "duplicate":
            assert self.network.applied[payload["id"]] == 1, (
                f"{payload['id']} answered duplicate before it was applied ({self.where()})"
            )
        else:
            self.network.applied[payload["id"]] += 1
            assert self.network.applied[payload["id"]] == 1, (
                f"{payload['id']} applied twice: {outcome} ({self.where()})"
            )
            self.network.delivered.append(payload)
        return response

    async def replay(self) -> None:
        if not self.network.delivered:
            return
        payload = self.rng.choice(self.network.delivered)
        response = await self.send(payload)
        assert response.json()["outcome"] == "duplicate", self.where()

    async def time_passes(self) -> None:
        delta = self.rng.choice(TIME_STEPS)
        self.clock.advance(delta)
        self.log.append(f"time +{delta}")
        if self.rng.random() < 0.7:
            await simulator_of(self.portal).tick()
        if self.rng.random() < 0.6:
            await expire_overdue_payments(self.portal)
        if self.rng.random() < 0.6:
            await release_expired_holds(self.portal)

    async def refund(self) -> None:
        paid = await self.payments("paid")
        if not paid:
            return
        payment = self.rng.choice(paid)
        self.log.append(f"refund {payment.id[-6:]}")
        response = await self.client.post(
            f"/api/checkout/payments/{payment.id}/refund", headers=self.headers(self.admin)
        )
        self.expect(response, 200)
        assert response.json()["payment"]["status"] == "refunded", self.where()

    async def drop(self) -> None:
        live = await self.enrollments("pending_payment", "active")
        if not live:
            return
        enrollment = self.rng.choice(live)
        owner = next(s for s in self.students if s.id == enrollment.student_id)
        self.log.append(f"drop {enrollment.id[-6:]} ({enrollment.status})")
        response = await self.client.post(
            f"/api/catalog/enrollments/{enrollment.id}/drop", headers=self.headers(owner)
        )
        self.expect(response, 200, 409)

    async def join_waitlist(self) -> None:
        student = self.rng.choice(self.students)
        course = self.rng.choice(self.courses)
        self.log.append(f"waitlist {student.username} {course.code}")
        response = await self.client.post(
            f"/api/catalog/courses/{course.id}/waitlist", headers=self.headers(student)
        )
        self.expect(response, 201, 409)

    async def leave_waitlist(self) -> None:
        waiting = await self.enrollments("waitlisted")
        if not waiting:
            return
        enrollment = self.rng.choice(waiting)
        owner = next(s for s in self.students if s.id == enrollment.student_id)
        self.log.append(f"leave waitlist {enrollment.id[-6:]}")
        response = await self.client.delete(
            f"/api/catalog/courses/{enrollment.course_id}/waitlist", headers=self.headers(owner)
        )
        self.expect(response, 200)

    # --- checks ------------------------------------------------------------------------

    async def collect_events(self) -> None:
        await simulator_of(self.portal).deliver_pending()

    async def check(self) -> None:
        await assert_consistent(
            self.portal, context=self.where(), course_ids=[c.id for c in self.courses]
        )
        async with self.portal.read_sessions() as session:
            keys = await session.execute(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == CONFIRMED)
            )
            confirmed = Counter(str(key).rsplit(":", 1)[-1] for key in keys.scalars())
            statuses = await session.execute(
                select(Payment.id, Payment.status).where(Payment.id.in_(self.payment_ids))
            )
            for payment_id, status in statuses.all():
                expected = 1 if status in {"paid", "refunded"} else 0
                assert confirmed[payment_id] == expected, (
                    f"payment {payment_id} is {status} with {confirmed[payment_id]} "
                    f"confirmations ({self.where()})"
                )

    async def settle_everything(self) -> None:
        """Let every bank debit settle and every event land, retrying as Stripe does."""
        for _ in range(20):
            self.clock.advance(minutes=2)
            await simulator_of(self.portal).tick()
            await self.collect_events()
            if not self.network.queue:
                return
            for payload in list(self.network.queue):
                self.network.queue.remove(payload)
                await self.send(payload)
            await self.collect_events()
        assert not self.network.queue, (
            f"events never accepted: {[e['type'] for e in self.network.queue]} ({self.where()})"
        )

    async def check_money(self) -> None:
        """Per payment, what Stripe kept (charged less refunded) is what the payment
        says it kept: its amount less its refunds when paid, nothing otherwise."""
        charged: dict[str, tuple[str, int]] = {}
        refunded: dict[str, int] = {}
        for payload in await simulator_of(self.portal).events():
            obj = payload["data"]["object"]
            paid_session = (
                payload["type"]
                in {
                    "checkout.session.completed",
                    "checkout.session.async_payment_succeeded",
                }
                and obj["payment_status"] == "paid"
            )
            if paid_session:
                charged[obj["payment_intent"]] = (
                    obj["metadata"]["payment_id"],
                    obj["amount_total"],
                )
            elif payload["type"] == "charge.refunded":
                intent = obj["payment_intent"]
                refunded[intent] = max(refunded.get(intent, 0), obj["amount_refunded"])
        kept: Counter[str] = Counter()
        for intent, (payment_id, amount) in charged.items():
            kept[payment_id] += amount - refunded.get(intent, 0)
        for payment in await self.payments():
            expected = payment.amount - payment.refunded_amount if payment.status == "paid" else 0
            assert kept[payment.id] == expected, (
                f"payment {payment.id} is {payment.status} (amount {payment.amount}, "
                f"refunded {payment.refunded_amount}) but Stripe kept {kept[payment.id]} "
                f"({self.where()})"
            )


OPERATIONS = [
    (Run.checkout, 6),
    (Run.pay, 6),
    (Run.pay_later, 1),
    (Run.deliver, 8),
    (Run.replay, 2),
    (Run.time_passes, 3),
    (Run.refund, 1),
    (Run.drop, 2),
    (Run.join_waitlist, 2),
    (Run.leave_waitlist, 1),
]

# What can make Stripe send an event: paying, a new session closing the old one,
# a refund (ours, or a late payment's), and time (expiries, bank settlements).
SENDS_EVENTS = {Run.pay, Run.pay_later, Run.deliver, Run.refund, Run.time_passes}


async def build_run(
    seed: int,
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    clock: FrozenClock,
    network: Network,
) -> Run:
    courses = [
        await factory.course(capacity=2, price=10000, starts_in_days=60),
        await factory.course(capacity=2, price=5000, payment_due_days=2, starts_in_days=60),
        await factory.course(capacity=3, price=7000, starts_in_days=60),
        await factory.course(capacity=2, price=0, starts_in_days=60),
    ]
    students = [await factory.user() for _ in range(STUDENTS)]
    admin = await factory.user(role=Role.ADMIN)
    return Run(
        seed=seed,
        rng=random.Random(seed),
        client=client,
        factory=factory,
        portal=portal,
        clock=clock,
        students=students,
        admin=admin,
        courses=courses,
        network=network,
    )


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
def deliver_webhook(network: Network) -> Deliver:
    # The test stands between Stripe (the simulator) and the webhook.
    return network.catch


# Each seed is a test of its own, on a fresh database, so that a failure is
# reproduced by running that one test (e.g. `-k "sqlite-seed7"`).
CASES = [(backend, seed) for backend, runs in RUNS.items() for seed in range(runs)]


@pytest.mark.parametrize(
    ("backend", "seed"), CASES, ids=[f"{backend}-seed{seed}" for backend, seed in CASES]
)
async def test_random_interleavings_keep_the_books_balanced(
    client: httpx.AsyncClient,
    factory: Factory,
    portal: Portal,
    clock: FrozenClock,
    backend: str,
    seed: int,
    network: Network,
) -> None:
    # GIVEN courses (tight, pay-later, roomy, free), students and an admin, and
    # the test standing between Stripe and the webhook
    run = await build_run(seed, client, factory, portal, clock, network)
    operations = [op for op, _ in OPERATIONS]
    weights = [weight for _, weight in OPERATIONS]
    for step in range(STEPS[backend]):
        run.step = step
        # WHEN a random operation happens
        operation = run.rng.choices(operations, weights=weights)[0]
        await operation(run)
        if operation in SENDS_EVENTS:
            await run.collect_events()
        # THEN the books balance
        await run.check()
    # ... and once everything has landed, the money does too
    await run.settle_everything()
    await run.check()
    await run.check_money()
