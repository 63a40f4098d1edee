"""Demo data for a new local portal (`portal demo`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from functions.auth import service as auth
from functions.auth.models import User
from functions.catalog import seats, waitlist
from functions.catalog import service as catalog
from functions.catalog.records import CourseRecord
from lib.runtime import Portal
from lib.security import Role

DEMO_PASSWORD = "learn-and-grow-2026"  # noqa: S105 - documented demo password


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: Role


DEMO_USERS = [
    DemoUser("admin", "Alex Admin", Role.ADMIN),
    DemoUser("ada", "Ada Lovelace", Role.INSTRUCTOR),
    DemoUser("grace", "Grace Hopper", Role.INSTRUCTOR),
    DemoUser("alan", "Alan Turing", Role.INSTRUCTOR),
    DemoUser("sam", "Sam Student", Role.STUDENT),
    DemoUser("maria", "María García", Role.STUDENT),
    DemoUser("liwei", "Li Wei", Role.STUDENT),
    DemoUser("amara", "Amara Okafor", Role.STUDENT),
    DemoUser("noah", "Noah Schmidt", Role.STUDENT),
    DemoUser("priya", "Priya Patel", Role.STUDENT),
]


async def load(session: AsyncSession, portal: Portal) -> int:
    """Load the demo users and catalog; the caller checks that the database is empty."""
    users = {}
    for demo in DEMO_USERS:
        users[demo.username] = await auth.create_user(
            session,
            portal,
            auth.NewAccount(
                username=demo.username,
                email=f"{demo.username}@example.com",
                password=DEMO_PASSWORD,
                full_name=demo.full_name,
                role=demo.role,
            ),
        )
    await _load_catalog(session, portal, users)
    return len(DEMO_USERS)


DEPARTMENTS = [
    (
        "CS",
        "ada",
        [
            (
                "Introduction to Programming",
                "Variables, loops, functions and a first project in Python.",
            ),
            ("Data Structures", "Lists, trees, hash tables and how to choose between them."),
            ("Algorithms", "Sorting, searching, graphs and the analysis of running time."),
            (
                "Web Development",
                "HTML, CSS, JavaScript and HTTP, from the first page to a small app.",
            ),
            ("Databases", "Relational modelling, SQL and transactions."),
            ("Machine Learning Basics", "Regression, classification and honest evaluation."),
            ("Operating Systems", "Processes, memory, files and concurrency."),
        ],
    ),
    (
        "MATH",
        "alan",
        [
            ("Calculus I", "Limits, derivatives and their applications."),
            ("Calculus II", "Integrals, series and differential equations."),
            ("Linear Algebra", "Vectors, matrices, eigenvalues and least squares."),
            ("Discrete Mathematics", "Logic, sets, combinatorics and proofs."),
            ("Probability", "Random variables, distributions and the law of large numbers."),
            ("Statistics", "Estimation, testing and regression with real data."),
        ],
    ),
    (
        "BIZ",
        "grace",
        [
            ("Principles of Management", "Planning, organizing, leading and controlling."),
            ("Financial Accounting", "The balance sheet, income statement and cash flow."),
            ("Marketing", "Markets, customers, positioning and campaigns."),
            ("Entrepreneurship", "From an idea to a business plan and a first customer."),
            ("Project Management", "Scope, schedule, risk and teams."),
        ],
    ),
    (
        "ART",
        "grace",
        [
            ("Drawing Fundamentals", "Line, shape, value and perspective."),
            ("Digital Photography", "Exposure, composition and editing."),
            ("Graphic Design", "Typography, layout and colour."),
            ("Art History", "From cave paintings to contemporary art."),
        ],
    ),
    (
        "LANG",
        "alan",
        [
            ("Spanish I", "Everyday conversation, grammar and culture."),
            ("Spanish II", "Past tenses, reading and writing."),
            ("French I", "Pronunciation, greetings and daily life."),
            ("German I", "Cases, word order and first conversations."),
            ("Academic Writing", "Arguments, sources and clear prose."),
        ],
    ),
    (
        "SCI",
        "ada",
        [
            ("General Chemistry", "Atoms, bonds, reactions and the lab."),
            ("Physics: Mechanics", "Motion, forces, energy and momentum."),
            ("Biology: Cells", "Cell structure, genetics and metabolism."),
            ("Environmental Science", "Climate, ecosystems and sustainability."),
        ],
    ),
]
SESSION_PATTERNS = [
    [("monday", "09:00", "10:30"), ("wednesday", "09:00", "10:30")],
    [("tuesday", "13:00", "14:30"), ("thursday", "13:00", "14:30")],
    [("friday", "10:00", "13:00")],
    [("monday", "18:00", "20:00")],
    [("saturday", "09:30", "12:30")],
]


async def _load_catalog(session: AsyncSession, portal: Portal, users: dict[str, User]) -> None:
    now = portal.clock.now()
    courses = []
    for number, (code, title, description, teacher) in enumerate(_course_list(), start=1):
        starts = now.date() + timedelta(days=14 + 7 * (number % 6))
        pattern = SESSION_PATTERNS[number % len(SESSION_PATTERNS)]
        view = await catalog.create_course(
            session,
            catalog.CourseSpec(
                code=code,
                title=title,
                description=description,
                instructor_id=users[teacher].id,
                starts_on=starts,
                ends_on=starts + timedelta(weeks=12),
                sessions=[
                    catalog.SessionSpec(
                        day, time.fromisoformat(a), time.fromisoformat(b), f"Room {100 + number}"
                    )
                    for day, a, b in pattern
                ],
                capacity=[12, 20, 25, 30, 40, 8][number % 6],
                price_amount=[0, 4900, 12900, 19900, 24900, 9900][number % 6],
                currency="usd",
                payment_due_days=[0, 7, 14][number % 3],
            ),
            now=now,
        )
        courses.append(view.course)
    students = [u for u in users.values() if u.role == Role.STUDENT.value]
    await _fill(session, courses, students, now=now)


def _course_list() -> list[tuple[str, str, str, str]]:
    """(code, title, description, instructor) for every demo course."""
    return [
        (f"{prefix}-{100 * (1 + index // 3) + 1 + index % 3}", title, description, teacher)
        for prefix, teacher, titles in DEPARTMENTS
        for index, (title, description) in enumerate(titles)
    ]


async def _fill(
    session: AsyncSession, courses: list[CourseRecord], students: list[User], *, now: datetime
) -> None:
    """A full course with a waitlist, and a couple of nearly full ones. Held
    seats are reserved as a student would (each with its payment)."""
    full = courses[0]
    await catalog.update_course(session, full.id, catalog.CourseSpec(capacity=3), now=now)
    for student in students[:3]:
        await seats.enroll(session, student_id=student.id, course_id=full.id, now=now)
    for student in students[3:5]:
        await waitlist.join_waitlist(session, student_id=student.id, course_id=full.id, now=now)
    for course in courses[1:3]:
        await catalog.update_course(session, course.id, catalog.CourseSpec(capacity=5), now=now)
        for student in students[:4]:
            await seats.enroll(session, student_id=student.id, course_id=course.id, now=now)
