"""The catalog's read answers stay byte-for-byte what they were before the read
paths became Core statements: a varied catalog (statuses, waitlists, sessions,
an archived course, a dropped and a renewed enrollment, a cart that clashes)
is read by every kind of viewer, and each answer, with ids replaced by stable
labels, must equal the one recorded from the ORM implementation in
`golden/catalog_reads.json`, on SQLite and on PostgreSQL alike.

`PORTAL_WRITE_GOLDEN=1 pytest this-file -k sqlite` records the file again; do
that only for a deliberate change of an answer, and say so in the commit."""

from __future__ import annotations

import json
import os
from datetime import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from functions.auth.models import User
from functions.catalog import seats
from functions.catalog import service as catalog
from functions.catalog.models import Course, Enrollment
from functions.checkout.models import Payment
from lib.clock import FrozenClock
from lib.runtime import CurrentUser, Portal
from lib.security import Role
from tests.factories import Factory

GOLDEN = Path(__file__).parent / "golden" / "catalog_reads.json"


def _session(day: str, start: tuple[int, int], end: tuple[int, int], where: str) -> Any:
    return catalog.SessionSpec(day, time(*start), time(*end), where)


async def _catalog(portal: Portal, factory: Factory, clock: FrozenClock) -> dict[str, User]:
    """The fixture: who is who, by username."""
    people = {
        "admin": await factory.user(role=Role.ADMIN, username="admin", full_name="Ada Admin"),
        "ada": await factory.user(role=Role.INSTRUCTOR, username="ada", full_name="Ada Lovelace"),
        "elodie": await factory.user(
            role=Role.INSTRUCTOR, username="elodie", full_name="Élodie Durand"
        ),
    }
    for name in ("sam", "maria", "liwei", "noah"):
        people[name] = await factory.user(username=name, full_name=f"{name.title()} Student")
    ada, elodie = people["ada"], people["elodie"]
    monday = _session("monday", (9, 0), (10, 30), "Room 1")
    phy101 = await factory.course(
        code="PHY-101", title="Physics I", description="Mechanics and waves", instructor=ada,
        capacity=2, sessions=[_session("wednesday", (14, 0), (15, 0), "Lab"), monday],
        payment_due_days=7,
    )  # fmt: skip
    phy201 = await factory.course(
        code="PHY-201", title="Quantum physics", description="Après la mécanique", capacity=1,
        instructor=elodie, price=25000, starts_in_days=10,
    )  # fmt: skip
    art = await factory.course(
        code="ART-100",
        title="Drawing",
        instructor=elodie,
        price=0,
        sessions=[],
        capacity=5,
        starts_in_days=20,
    )
    await factory.course(
        code="HIS-200", title="History of Science", instructor=ada, opens_in_days=5,
        description="100% _real_ history", currency="eur", price=9900, starts_in_days=40,
    )  # fmt: skip
    chem = await factory.course(
        code="CHE-150", title="Chemistry", instructor=ada, capacity=3, price=14900,
        starts_in_days=35,
        sessions=[_session("monday", (9, 30), (11, 0), "Room 2")],
    )  # fmt: skip
    old = await factory.course(
        code="MAT-300", title="Old maths", instructor=ada, price=0, starts_in_days=50
    )
    await factory.enrollment(student=people["sam"], course=old)
    async with portal.transaction() as session:
        await catalog.archive_course(session, old.id, now=clock.now())
    for student, course in [("sam", phy101), ("liwei", phy201), ("maria", art)]:
        clock.advance(minutes=1)
        await factory.enrollment(student=people[student], course=course)
    for student in ("sam", "maria"):
        clock.advance(minutes=1)
        await factory.waitlisted(student=people[student], course=phy201)
    clock.advance(minutes=1)
    dropped = await factory.enrollment(student=people["noah"], course=chem)
    noah = CurrentUser(id=people["noah"].id, username="noah", role=Role.STUDENT)
    async with portal.transaction() as session:
        await seats.drop(session, noah, dropped.id, now=clock.now())
    clock.advance(minutes=1)
    await factory.enrollment(student=people["noah"], course=chem)
    await factory.in_cart(student=people["sam"], courses=[chem])
    clock.advance(days=1)
    return people


async def _labels(portal: Portal) -> dict[str, str]:
    """Every id in the database, as a label that is the same in every run."""
    async with portal.read_sessions() as session:
        users = (await session.execute(select(User.id, User.username))).all()
        courses = (await session.execute(select(Course.id, Course.code))).all()
        enrollments = (
            await session.execute(
                select(Enrollment.id, Enrollment.student_id, Enrollment.course_id).order_by(
                    Enrollment.created_at, Enrollment.status
                )
            )
        ).all()
        payments = (
            await session.execute(select(Payment.id).order_by(Payment.created_at, Payment.id))
        ).all()
    labels = {row.id: f"user:{row.username}" for row in users}
    labels.update({row.id: f"course:{row.code}" for row in courses})
    for n, row in enumerate(enrollments):
        labels[row.id] = f"enrollment:{labels[row.student_id]}:{labels[row.course_id]}:{n}"
    labels.update({row.id: f"payment:{n}" for n, row in enumerate(payments)})
    return labels


def _label(value: Any, labels: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _label_field(k, v, labels) for k, v in value.items()}
    if isinstance(value, list):
        return [_label(v, labels) for v in value]
    if isinstance(value, str):
        return labels.get(value, value)
    return value


def _label_field(name: str, value: Any, labels: dict[str, str]) -> Any:
    if name == "next_cursor" and value:
        return "<cursor>"
    if name == "clashes" and value:
        # The order of the clashes was never defined (the database's own).
        return sorted(_label(value, labels), key=lambda c: json.dumps(c))
    return _label(value, labels)


def _requests(people: dict[str, User], courses: dict[str, str]) -> list[tuple[str, str]]:
    ada = people["ada"].id
    anyone = [
        "/courses", "/courses?limit=2", "/courses?sort=-price", "/courses?sort=title",
        "/courses?sort=starts_on&limit=3", "/courses?status=full", "/courses?status=closed",
        "/courses?status=open", "/courses?q=phys", "/courses?q=%C3%A9LODIE", "/courses?q=ph",
        "/courses?q=%25+_real_", "/courses?q=lovelace", "/courses?weekday=monday",
        "/courses?min_price=1&max_price=20000", f"/courses?instructor={ada}",
        "/courses?include_archived=1", "/courses?q=zzz", "/courses?sort=nope",
    ]  # fmt: skip
    asked: list[tuple[str, str]] = [("anonymous", path) for path in anyone]
    asked += [("anonymous", f"/courses/{cid}") for cid in courses.values()]
    for who in ("sam", "maria", "liwei", "noah", "ada", "admin"):
        asked += [(who, "/courses?limit=100"), (who, "/enrollments"), (who, "/enrollments?limit=1")]
        asked += [(who, f"/courses/{cid}") for cid in courses.values()]
    asked += [
        ("admin", "/courses?include_archived=1"),
        ("ada", f"/courses?instructor={ada}&include_archived=1"),
        ("sam", "/courses?q=physics"),
    ]
    for who in ("admin", "ada", "elodie"):
        for code in ("PHY-101", "PHY-201", "CHE-150"):
            asked += [
                (who, f"/enrollments?course_id={courses[code]}"),
                (who, f"/courses/{courses[code]}/roster"),
                (who, f"/courses/{courses[code]}/roster?limit=1"),
                (who, f"/courses/{courses[code]}/roster.csv"),
            ]
    return asked


async def _answers(
    client: httpx.AsyncClient, factory: Factory, people: dict[str, User], labels: dict[str, str]
) -> dict[str, Any]:
    async with factory.portal.read_sessions() as session:
        rows = (await session.execute(select(Course.id, Course.code))).all()
    courses = {row.code: row.id for row in rows}
    answers: dict[str, Any] = {}
    for who, path in _requests(people, courses):
        headers = {} if who == "anonymous" else factory.headers_for(people[who])
        response = await client.get("/api/catalog" + path, headers=headers)
        key = f"{who} GET {_label_path(path, labels)}"
        if response.headers["content-type"].startswith("text/csv"):
            body: Any = response.text
            for raw, label in labels.items():
                body = body.replace(raw, label)
        else:
            body = _label(response.json(), labels)
        answers[key] = {"status": response.status_code, "body": body}
    return answers


def _label_path(path: str, labels: dict[str, str]) -> str:
    for raw, label in labels.items():
        path = path.replace(raw, label)
    return path


async def test_catalog_reads_answer_as_recorded(
    portal: Portal, factory: Factory, client: httpx.AsyncClient, clock: FrozenClock, backend: str
) -> None:
    # GIVEN a varied catalog and the people who read it
    people = await _catalog(portal, factory, clock)
    labels = await _labels(portal)
    # WHEN each of them reads the catalog, course pages, enrollments and rosters
    answers = await _answers(client, factory, people, labels)
    # THEN every answer is what the recorded implementation gave
    if os.environ.get("PORTAL_WRITE_GOLDEN") == "1" and backend == "sqlite":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(answers, indent=1, ensure_ascii=False) + "\n")
    recorded = json.loads(GOLDEN.read_text())
    assert sorted(answers) == sorted(recorded)
    for key, answer in answers.items():
        # Compared as text: the order of the fields is part of the answer.
        assert json.dumps(answer) == json.dumps(recorded[key]), key


async def test_a_page_follows_its_cursor_to_the_same_courses(
    portal: Portal, factory: Factory, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # GIVEN the varied catalog
    await _catalog(portal, factory, clock)
    # WHEN it is read one course at a time, by each sort
    for sort in ("code", "-title", "price", "-starts_on"):
        whole = (await client.get(f"/api/catalog/courses?sort={sort}&limit=100")).json()
        seen: list[str] = []
        cursor = ""
        while True:
            page = (
                await client.get(f"/api/catalog/courses?sort={sort}&limit=1&cursor={cursor}")
            ).json()
            seen += [item["id"] for item in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = page["next_cursor"]
        # THEN the pages together are the whole list, in its order
        assert seen == [item["id"] for item in whole["items"]], sort
