"""A seeded database for the benchmark, written with bulk INSERTs.

Plain INSERT statements (executemany, in chunks) rather than COPY: every
trigger the schema carries (search index, catalog version) fires for every
row, so derived tables stay right without a rebuild.

Besides the catalog at large, the seed sets aside what the write kinds
consume: students whose carts already hold a course (one checkout each),
shop courses with room for every cart, and a 50-seat course for the rush.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from functions.auth.models import User
from functions.catalog.models import Course, CourseSession, Enrollment
from functions.checkout.models import CartItem, Payment, PaymentItem
from lib.db import Base, create_engine
from lib.outbox import OutboxMessage
from lib.security import PasswordHashing

PASSWORD = "bench-password-2026"
CHUNK = 2000
WORDS = [
    *("algebra", "biology", "chemistry", "design", "economics", "french", "geometry"),
    *("history", "informatics", "journalism", "law", "music", "nursing", "optics"),
    *("painting", "physics", "robotics", "statistics", "theatre", "writing"),
]
ROOMS = ("Room 1", "Room 2", "Lab A", "Hall B", "Online")
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHOP_COURSES = 20
CHECKOUT_COURSES = 16
RUSH_SEATS = 50
BIG_CAPACITY = 1_000_000


@dataclass(frozen=True)
class Sizes:
    courses: int = 10_000
    students: int = 50_000
    enrollments: int = 200_000
    instructors: int = 20
    # Signed-in users of the read kinds: payments and notifications of their own.
    bench_users: int = 2_000
    # Students with one course in their cart: each checks out once.
    payers: int = 8_000
    # Students who fill their cart in the rush (the course has RUSH_SEATS seats).
    rushers: int = 1_000


@dataclass
class Seeded:
    """What the request plans need to know about the seeded database."""

    course_ids: list[str] = field(default_factory=list)
    instructor_ids: list[str] = field(default_factory=list)
    bench_users: list[str] = field(default_factory=list)
    notifications: dict[str, list[str]] = field(default_factory=dict)
    shoppers: list[str] = field(default_factory=list)
    shop_courses: list[str] = field(default_factory=list)
    payers: list[str] = field(default_factory=list)
    rushers: list[str] = field(default_factory=list)
    rush_course: str = ""
    logins: list[str] = field(default_factory=list)


async def seed(url: str, sizes: Sizes, *, seed_value: int = 7) -> Seeded:
    """Fill a migrated, empty database. The password hash is one real Argon2id
    hash with the portal's default parameters, shared by every account, so a
    sign-in verifies (and never rehashes) exactly as in production."""
    password_hash = await PasswordHashing(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(
        PASSWORD
    )
    builder = _Builder(random.Random(seed_value), datetime.now(UTC), password_hash)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await builder.write(conn, sizes)
    finally:
        await engine.dispose()
    await analyze(url)
    return builder.seeded


async def add_courses(url: str, count: int, *, start: int, seed_value: int = 11) -> None:
    """More catalog (the scale scenario grows one database step by step)."""
    builder = _Builder(random.Random(seed_value + start), datetime.now(UTC), "-")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            found = await conn.execute(select(User.id).where(User.role == "instructor"))
            instructors = [row[0] for row in found]
            builder.seeded.instructor_ids = instructors
            courses = [builder.course(start + n) for n in range(count)]
            await _insert(conn, Course, courses)
            await _insert(conn, CourseSession, builder.sessions_for(courses))
    finally:
        await engine.dispose()
    await analyze(url)


async def analyze(url: str) -> None:
    """Statistics (and on PostgreSQL the trigram index's pending list merged),
    as a database that grew by use has them: without them the planners may
    pass over the search index right after a bulk load."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")
            else:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()
    finally:
        await engine.dispose()


async def _insert(conn: AsyncConnection, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Rows straight to the driver: COPY on PostgreSQL (row triggers fire for
    COPY too), executemany of one INSERT on SQLite. SQLAlchemy's per-value
    type processing would take most of the seeding time."""
    if not rows:
        return
    table: Any = model.__table__
    columns = list(rows[0])
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        records = [tuple(_for_postgres(row[c]) for c in columns) for row in rows]
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(table.name, records=records, columns=columns)
        return
    marks = ", ".join("?" * len(columns))
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    for start in range(0, len(rows), CHUNK):
        chunk = [tuple(_for_sqlite(row[c]) for c in columns) for row in rows[start : start + CHUNK]]
        await conn.exec_driver_sql(statement, chunk)


def _for_postgres(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict) else value


def _for_sqlite(value: Any) -> Any:
    # As SQLAlchemy's SQLite types store them (lib.db.UTCDateTime: naive UTC).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.%f")
    if isinstance(value, dict):
        return json.dumps(value)
    return value


class _Builder:
    def __init__(self, rng: random.Random, now: datetime, password_hash: str) -> None:
        self.rng, self.now, self.password_hash = rng, now, password_hash
        self.today: date = now.date()
        self.seeded = Seeded()
        self.receipts = 0

    def new_id(self) -> str:
        # The shape of lib.db.new_id (32 hex digits), without uuid4's cost.
        return f"{self.rng.getrandbits(128):032x}"

    async def write(self, conn: AsyncConnection, sizes: Sizes) -> None:
        students = self.users(sizes)
        await _insert(conn, User, students)
        courses = [self.course(n) for n in range(sizes.courses)]
        specials = self.special_courses(sizes.courses)
        await _insert(conn, Course, courses + specials)
        await _insert(conn, CourseSession, self.sessions_for(courses + specials))
        enrollments, payments, items = self.enrollments(courses, students, sizes.enrollments)
        await _insert(conn, Enrollment, enrollments)
        paid, paid_items = self.paid_payments(enrollments, courses)
        await _insert(conn, Payment, payments + paid)
        await _insert(conn, PaymentItem, items + paid_items)
        await self.update_seats(conn, courses)
        await _insert(conn, OutboxMessage, self.notifications())
        await _insert(conn, CartItem, self.carts())

    def users(self, sizes: Sizes) -> list[dict[str, Any]]:
        instructors = [self.user("instructor", n) for n in range(sizes.instructors)]
        students = [self.user("student", n) for n in range(sizes.students)]
        self.seeded.instructor_ids = [u["id"] for u in instructors]
        ids = [u["id"] for u in students]
        # Disjoint groups: one student's cart is never touched by two kinds.
        bench = min(sizes.bench_users, len(ids) // 4)
        rushers = min(sizes.rushers, len(ids) // 4)
        payers = min(sizes.payers, len(ids) // 4)
        self.seeded.bench_users = ids[:bench]
        self.seeded.shoppers = ids[bench : 2 * bench]
        self.seeded.rushers = ids[2 * bench : 2 * bench + rushers]
        self.seeded.payers = ids[2 * bench + rushers : 2 * bench + rushers + payers]
        self.seeded.logins = [u["username"] for u in students[: max(bench, 64)]]
        return instructors + students

    def user(self, role: str, n: int) -> dict[str, Any]:
        name = f"{role}{n}"
        return {
            "id": self.new_id(), "username": name, "email": f"{name}@example.com",
            "email_key": f"{name}@example.com", "full_name": f"{role.title()} {n}",
            "role": role, "password_hash": self.password_hash, "is_active": True,
            "created_at": self.now, "updated_at": self.now, "email_verified_at": self.now,
        }  # fmt: skip

    def course(self, n: int, **overrides: Any) -> dict[str, Any]:
        rng = self.rng
        title = f"{rng.choice(WORDS).title()} and {rng.choice(WORDS)} {n}"
        description = f"A course about {title.lower()}, {rng.choice(WORDS)} included."
        starts = self.today + timedelta(days=rng.randint(10, 200))
        row = {
            "id": self.new_id(), "code": f"C-{n:06d}", "title": title, "description": description,
            "instructor_id": rng.choice(self.seeded.instructor_ids), "starts_on": starts,
            "ends_on": starts + timedelta(weeks=12), "enrollment_opens_on": self.today,
            "enrollment_closes_on": starts - timedelta(days=1),
            "capacity": rng.choice([20, 30, 50]), "seats_taken": 0,
            "price_amount": rng.choice([0, 4900, 12900, 19900]), "currency": "usd",
            "payment_due_days": rng.choice([0, 7, 14]), "waitlist_counter": 0,
            "archived_at": None, "created_at": self.now, "updated_at": self.now,
        }  # fmt: skip
        row.update(overrides)
        row["search_text"] = f"{row['code']} {row['title']} {row['description']}".lower()
        return row

    def special_courses(self, first: int) -> list[dict[str, Any]]:
        shop = [self.course(first + n, capacity=BIG_CAPACITY) for n in range(SHOP_COURSES)]
        pay = [
            self.course(first + SHOP_COURSES + n, capacity=BIG_CAPACITY,
                        price_amount=4900, payment_due_days=7)
            for n in range(CHECKOUT_COURSES)
        ]  # fmt: skip
        rush = self.course(first + SHOP_COURSES + CHECKOUT_COURSES, capacity=RUSH_SEATS,
                           price_amount=4900, payment_due_days=0)  # fmt: skip
        self.seeded.shop_courses = [c["id"] for c in shop]
        self.checkout_courses = [c["id"] for c in pay]
        self.seeded.rush_course = rush["id"]
        return [*shop, *pay, rush]

    def sessions_for(self, courses: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for course in courses:
            self.seeded.course_ids.append(course["id"])
            for weekday in self.rng.sample(range(5), self.rng.choice([1, 2])):
                hour = self.rng.randint(8, 18)
                rows.append({
                    "id": self.new_id(), "course_id": course["id"], "weekday": weekday,
                    "start_time": time(hour), "end_time": time(hour + 1, 30),
                    "location": self.rng.choice(ROOMS),
                })  # fmt: skip
        return rows

    def enrollments(
        self, courses: list[dict[str, Any]], students: list[dict[str, Any]], total: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Realistic statuses: mostly active, some seats held with a pending
        payment, a waitlist on the courses asked for more than they hold."""
        rows: list[dict[str, Any]] = []
        payments: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        pool = [s["id"] for s in students if s["role"] == "student"]
        reserved = set(self.seeded.rushers) | set(self.seeded.payers) | set(self.seeded.shoppers)
        pool = [s for s in pool if s not in reserved]
        per_course = max(1, total // max(1, len(courses)))
        for course in courses:
            if len(rows) >= total:
                break
            wanted = min(len(pool), self.rng.randint(per_course // 2, per_course * 3 // 2))
            for student in self.rng.sample(pool, wanted):
                rows.append(self.enrollment(course, student, payments, items))
        return rows, payments, items

    def enrollment(
        self, course: dict[str, Any], student: str,
        payments: list[dict[str, Any]], items: list[dict[str, Any]],
    ) -> dict[str, Any]:  # fmt: skip
        row = {
            "id": self.new_id(), "course_id": course["id"], "student_id": student,
            "status": "active", "due_at": None, "queued_at": None, "queue_number": None,
            "payment_id": None, "created_at": self.now, "updated_at": self.now,
        }  # fmt: skip
        if course["seats_taken"] >= course["capacity"]:
            course["waitlist_counter"] += 1
            row.update(status="waitlisted", queued_at=self.now,
                       queue_number=course["waitlist_counter"])  # fmt: skip
            return row
        course["seats_taken"] += 1
        if course["price_amount"] and self.rng.random() < 0.1:
            payment = self.payment(student, course, status="pending")
            payments.append(payment)
            items.append(self.payment_item(payment, course, row["id"]))
            row.update(status="pending_payment", payment_id=payment["id"],
                       due_at=payment["due_at"])  # fmt: skip
        return row

    def payment(self, student: str, course: dict[str, Any], *, status: str) -> dict[str, Any]:
        self.receipts += 1
        n, digits = self.receipts, []
        for _ in range(8):
            n, digit = divmod(n, 32)
            digits.append(RECEIPT_ALPHABET[digit])
        receipt = "".join(reversed(digits))
        return {
            "id": self.new_id(), "receipt_number": f"R-{receipt[:4]}-{receipt[4:]}",
            "student_id": student, "status": status, "amount": course["price_amount"],
            "currency": "usd", "due_at": self.now + timedelta(days=7), "sessions_started": 0,
            "processing": False, "refunded_amount": 0, "created_at": self.now,
            "updated_at": self.now, "paid_at": self.now if status == "paid" else None,
        }  # fmt: skip

    def payment_item(
        self, payment: dict[str, Any], course: dict[str, Any], enrollment_id: str
    ) -> dict[str, Any]:
        return {
            "id": self.new_id(), "payment_id": payment["id"], "course_id": course["id"],
            "enrollment_id": enrollment_id, "description": f"{course['code']} {course['title']}",
            "amount": course["price_amount"], "refunded": False,
        }  # fmt: skip

    def paid_payments(
        self, enrollments: list[dict[str, Any]], courses: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The bench users' paid courses have their paid payments (the payments list)."""
        by_id = {c["id"]: c for c in courses}
        bench = set(self.seeded.bench_users)
        payments, items = [], []
        for row in enrollments:
            course = by_id[row["course_id"]]
            if row["student_id"] in bench and row["status"] == "active" and course["price_amount"]:
                payment = self.payment(row["student_id"], course, status="paid")
                payments.append(payment)
                items.append(self.payment_item(payment, course, row["id"]))
        return payments, items

    async def update_seats(self, conn: AsyncConnection, courses: list[dict[str, Any]]) -> None:
        # The courses went in empty so that the enrollments could be drawn
        # against them; their counters follow in one executemany.
        statement = (
            update(Course)
            .where(Course.id == bindparam("course_id"))
            .values(seats_taken=bindparam("taken"), waitlist_counter=bindparam("queued"))
        )
        rows = [
            {"course_id": c["id"], "taken": c["seats_taken"], "queued": c["waitlist_counter"]}
            for c in courses
            if c["seats_taken"] or c["waitlist_counter"]
        ]
        for start in range(0, len(rows), CHUNK):
            await conn.execute(statement, rows[start : start + CHUNK])

    def notifications(self, per_user: int = 10) -> list[dict[str, Any]]:
        rows = []
        for user in self.seeded.bench_users:
            ids = []
            for n in range(per_user):
                ids.append(self.new_id())
                created = self.now - timedelta(hours=n)
                rows.append({
                    "id": ids[-1], "kind": "checkout.payment_due_soon", "recipient_id": user,
                    "dedupe_key": None, "status": "sent", "attempts": 1,
                    "payload": {"payment_id": self.new_id(), "amount": 4900, "currency": "usd",
                                "due_at": (self.now + timedelta(days=3)).isoformat(),
                                "due_in": "in 3 days", "days": 3},
                    "created_at": created, "next_attempt_at": created, "sent_at": created,
                    "read_at": created if n % 2 else None,
                })  # fmt: skip
            self.seeded.notifications[user] = ids
        return rows

    def carts(self) -> list[dict[str, Any]]:
        rows = []
        for n, student in enumerate(self.seeded.payers):
            course = self.checkout_courses[n % len(self.checkout_courses)]
            rows.append(self.cart_item(student, course))
        rows += [self.cart_item(s, self.seeded.rush_course) for s in self.seeded.rushers]
        return rows

    def cart_item(self, student: str, course: str) -> dict[str, Any]:
        return {
            "id": self.new_id(),
            "student_id": student,
            "course_id": course,
            "added_at": self.now,
        }
