"""Seats under real concurrency: four `portal serve` processes sharing one database.

The servers run on the real clock, so the data is dated around the real today with
days of margin on each side. They are started once per backend (starting them is
most of this file's run time) and every scenario uses courses and students of its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from functions.auth import service as auth
from functions.auth.models import User
from functions.catalog import seats, service, waitlist
from functions.catalog.models import Course, Enrollment
from functions.catalog.repository import EnrollmentRepository
from functions.runtime import build_portal
from lib.config import Settings
from lib.migrate import upgrade
from lib.outbox import OutboxMessage
from lib.runtime import Portal
from lib.security import Role
from tests.conftest import BACKENDS, _reset_postgres, postgres_url
from tests.functions.catalog.support import assert_seats_consistent, course_row
from tests.ports import free_port
from tests.servers import MANY_SERVERS, TEST_SERVER_POOL_SIZE

pytestmark = MANY_SERVERS

PORTAL = Path(sys.executable).parent / "portal"
SERVERS = 4
SECRET = "concurrency-test-secret-0123456789abcdef"
HEALTH_ATTEMPTS = 300
HEALTH_INTERVAL_SECONDS = 0.1
PASSWORD = "correct-horse-battery"


@dataclass
class Cluster:
    backend: str
    database_url: str
    urls: list[str]
    logs: list[Path]

    def url(self, n: int) -> str:
        """The servers take turns: request n goes to server n mod 4."""
        return self.urls[n % len(self.urls)]


def _in_own_loop(coroutine: Any) -> Any:
    # Module fixtures are synchronous; async set-up runs on a loop of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _shared_database(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'shared.db'}"
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(upgrade, url).result()
        return url
    url = postgres_url()
    _in_own_loop(_reset_postgres(url))
    return url


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    with httpx.Client(timeout=2.0) as client:
        for _ in range(HEALTH_ATTEMPTS):
            try:
                if client.get(f"{url}/api/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            try:
                # Waiting on the process doubles as the polling interval and
                # notices at once a server that died on start-up.
                process.wait(timeout=HEALTH_INTERVAL_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            break
    pytest.fail(f"server at {url} did not become healthy:\n{log.read_text()[-3000:]}")


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module", params=BACKENDS)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    backend = str(request.param)
    folder = tmp_path_factory.mktemp(f"cluster-{backend}")
    database_url = _shared_database(backend, folder)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "STRIPE_"))},
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "PORTAL_ENV": "development",
        "PORTAL_ARGON2_TIME_COST": "1",
        "PORTAL_ARGON2_MEMORY_COST": "8",
        "PORTAL_ARGON2_PARALLELISM": "1",
        "PORTAL_MAIL_DIR": str(folder / "mail"),
        "PORTAL_SERVE_STATIC": "0",
        "PORTAL_DB_POOL_SIZE": str(TEST_SERVER_POOL_SIZE),
    }
    environment.pop("REDIS_URL", None)
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    logs: list[Path] = []
    try:
        for n in range(SERVERS):
            port = free_port()
            log = folder / f"server-{n}.log"
            with log.open("wb") as output:
                processes.append(
                    subprocess.Popen(
                        [str(PORTAL), "serve", "--host", "127.0.0.1", "--port", str(port)],
                        env=environment,
                        cwd=folder,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
            logs.append(log)
        for url, process, log in zip(urls, processes, logs, strict=True):
            _wait_until_healthy(url, process, log)
        yield Cluster(backend, database_url, urls, logs)
    finally:
        _stop(processes)


@pytest.fixture
async def portal(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Portal]:
    """The same database as the servers, on the real clock, for preparing and inspecting."""
    settings = Settings(
        database_url=cluster.database_url,
        secret_key=SECRET,
        env="test",
        mail_dir=tmp_path / "mail",
        argon2_time_cost=1,
        argon2_memory_cost=8,
        argon2_parallelism=1,
    )
    built = build_portal(settings)
    try:
        yield built
    finally:
        await built.dispose()


# --- preparing data through the services ------------------------------------------------------


async def make_users(portal: Portal, prefix: str, count: int, *, role: Role) -> list[User]:
    async with portal.transaction() as session:
        return [
            await auth.create_user(
                session,
                portal,
                auth.NewAccount(
                    username=f"{prefix}-{n:03d}",
                    email=f"{prefix}-{n:03d}@example.com",
                    password=PASSWORD,
                    full_name=f"{prefix.title()} {n}",
                    role=role,
                ),
            )
            for n in range(count)
        ]


async def make_course(portal: Portal, code: str, *, capacity: int) -> Course:
    [teacher] = await make_users(portal, f"{code.lower()}-teacher", 1, role=Role.INSTRUCTOR)
    today = datetime.now(UTC).date()
    async with portal.transaction() as session:
        view = await service.create_course(
            session,
            service.CourseSpec(
                code=code,
                title=f"Race {code}",
                instructor_id=teacher.id,
                starts_on=today + timedelta(days=30),
                ends_on=today + timedelta(days=90),
                sessions=[service.SessionSpec("monday", time(9, 0), time(10, 0))],
                capacity=capacity,
                price_amount=12900,
                currency="usd",
                payment_due_days=7,
                enrollment_opens_on=today - timedelta(days=2),
                enrollment_closes_on=today + timedelta(days=20),
            ),
            now=datetime.now(UTC),
        )
    return view.course


def bearer(portal: Portal, user: User) -> dict[str, str]:
    token, _ = portal.tokens.issue(user_id=user.id, role=Role(user.role), now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(90.0),
        # No kept-alive connections: between two bursts the servers close idle
        # ones (after 5 s), and reusing one at that moment fails with ReadError.
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
    )


async def seated_enrollments(portal: Portal, course_id: str) -> list[Enrollment]:
    async with portal.read_sessions() as session:
        result = await session.execute(
            select(Enrollment).where(
                Enrollment.course_id == course_id,
                Enrollment.status.in_(["pending_payment", "active", "completed"]),
            )
        )
        return list(result.scalars().all())


def no_server_errors(cluster: Cluster, responses: Sequence[httpx.Response]) -> None:
    failures = [r for r in responses if r.status_code >= 500]
    if failures:
        causes = sorted(
            {
                match.group(1)
                for log in cluster.logs
                # Tracebacks sit in JSON log lines, where line breaks read as \n.
                for match in re.finditer(
                    r"(?:\\n|\s)([\w.]+Error: [^\\\"]{0,120})", log.read_text()
                )
            }
        )
        pytest.fail(
            f"{len(failures)} of {len(responses)} answers were 5xx; servers logged {causes}"
        )


# --- the scenarios ----------------------------------------------------------------------------


async def test_200_simultaneous_enrollments_fill_10_seats_exactly(
    cluster: Cluster, portal: Portal
) -> None:
    # GIVEN a 10-seat course and 200 signed-in students
    course = await make_course(portal, "RACE-200", capacity=10)
    students = await make_users(portal, "racer", 200, role=Role.STUDENT)

    # WHEN all 200 enroll at the same moment through four servers
    async with http_client() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{cluster.url(n)}/api/catalog/courses/{course.id}/enroll",
                    headers=bearer(portal, student),
                )
                for n, student in enumerate(students)
            )
        )

    # THEN exactly 10 hold a seat and every other one is told the course is full
    no_server_errors(cluster, responses)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 190
    refused = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert refused == {"course_full"}

    # AND seats taken equals the live enrollments, which are the ten answered 201
    won = {r.json()["enrollment"]["id"] for r in responses if r.status_code == 201}
    live = await seated_enrollments(portal, course.id)
    assert {e.id for e in live} == won
    assert len({e.student_id for e in live}) == 10
    assert (await course_row(portal, course.id)).seats_taken == 10
    await assert_seats_consistent(portal)


async def test_concurrent_drops_promote_the_waitlist_in_joining_order(
    cluster: Cluster, portal: Portal
) -> None:
    # GIVEN a full 10-seat course and 15 students who joined its waitlist one by one
    course = await make_course(portal, "QUEUE-15", capacity=10)
    holders = await make_users(portal, "holder", 10, role=Role.STUDENT)
    waiters = await make_users(portal, "waiter", 15, role=Role.STUDENT)
    held: list[Enrollment] = []
    async with portal.transaction() as session:
        for student in holders:
            held += await seats.hold_seats(
                session, student_id=student.id, course_ids=[course.id], now=datetime.now(UTC)
            )
    queue: list[Enrollment] = []
    for student in waiters:
        async with portal.transaction() as session:
            enrollment, _ = await waitlist.join_waitlist(
                session, student_id=student.id, course_id=course.id, now=datetime.now(UTC)
            )
        queue.append(enrollment)

    # WHEN all ten holders drop at the same moment through four servers
    async with http_client() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{cluster.url(n)}/api/catalog/enrollments/{enrollment.id}/drop",
                    headers=bearer(portal, student),
                )
                for n, (student, enrollment) in enumerate(zip(holders, held, strict=True))
            )
        )

    # THEN every drop succeeded
    no_server_errors(cluster, responses)
    assert [(r.status_code, r.json()["enrollment"]["status"]) for r in responses] == [
        (200, "dropped")
    ] * 10

    # AND the first ten in joining order hold the seats, the last five wait in order
    async with portal.read_sessions() as session:
        repository = EnrollmentRepository(session)
        now_rows = [await repository.get(e.id) for e in queue]
        assert all(row is not None for row in now_rows)
        states = [row.status for row in now_rows if row is not None]
        positions = [await repository.position(row) for row in now_rows[10:] if row is not None]
    assert states == ["pending_payment"] * 10 + ["waitlisted"] * 5
    assert positions == [1, 2, 3, 4, 5]

    # AND each promoted student was told exactly once
    async with portal.read_sessions() as session:
        messages = (
            (
                await session.execute(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == "catalog.waitlist_promoted",
                        OutboxMessage.recipient_id.in_([s.id for s in waiters]),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(m.recipient_id for m in messages) == sorted(s.id for s in waiters[:10])
    assert sorted(str(m.dedupe_key) for m in messages) == sorted(
        f"catalog.waitlist_promoted:{e.id}" for e in queue[:10]
    )
    assert (await course_row(portal, course.id)).seats_taken == 10
    await assert_seats_consistent(portal)


async def test_capacity_changes_racing_enrollments_never_overbook(
    cluster: Cluster, portal: Portal
) -> None:
    # GIVEN a 30-seat course, 60 students and an administrator
    course = await make_course(portal, "SHRINK-30", capacity=30)
    students = await make_users(portal, "shrinker", 60, role=Role.STUDENT)
    [admin] = await make_users(portal, "shrink-admin", 1, role=Role.ADMIN)
    wanted = [25, 20, 15, 10, 5, 12, 18, 8]

    # WHEN the administrator changes the capacity while the students enroll
    requests: list[tuple[str, Any]] = []
    async with http_client() as client:
        for n, student in enumerate(students):
            requests.append(
                (
                    "enroll",
                    client.post(
                        f"{cluster.url(n)}/api/catalog/courses/{course.id}/enroll",
                        headers=bearer(portal, student),
                    ),
                )
            )
            if n % 8 == 3:
                capacity = wanted[n // 8]
                requests.append(
                    (
                        f"capacity={capacity}",
                        client.patch(
                            f"{cluster.url(n + 1)}/api/catalog/courses/{course.id}",
                            json={"capacity": capacity},
                            headers=bearer(portal, admin),
                        ),
                    )
                )
        responses = await asyncio.gather(*(request for _, request in requests))
    answers = list(zip((kind for kind, _ in requests), responses, strict=True))

    # THEN nothing failed, and every answer is one of the expected ones
    no_server_errors(cluster, responses)
    enrolled = [r for kind, r in answers if kind == "enroll" and r.status_code == 201]
    for kind, response in answers:
        if kind == "enroll":
            assert response.status_code == 201 or (
                response.status_code == 409 and response.json()["error"]["code"] == "course_full"
            ), response.text

    # AND every capacity change either took effect over the seats then taken, or was
    # refused because more seats than it asked for were already taken
    final = await course_row(portal, course.id)
    accepted = [30]
    for kind, response in answers:
        if not kind.startswith("capacity="):
            continue
        capacity = int(kind.removeprefix("capacity="))
        body = response.json()
        if response.status_code == 200:
            assert body["course"]["capacity"] == capacity
            assert 0 <= body["course"]["seats_left"] <= capacity
            accepted.append(capacity)
        else:
            assert (response.status_code, body["error"]["code"]) == (409, "capacity_below_taken")
            match = re.search(r"at least (\d+)", body["error"]["fields"]["capacity"])
            assert match is not None
            assert capacity < int(match.group(1)) <= final.seats_taken

    # AND the course never holds more than its capacity; seats match the enrollments
    assert final.seats_taken <= final.capacity
    assert final.capacity in accepted
    assert final.seats_taken == len(enrolled) == len(await seated_enrollments(portal, course.id))
    await assert_seats_consistent(portal)


async def test_every_server_shares_one_view_of_the_seats(cluster: Cluster, portal: Portal) -> None:
    # GIVEN a course
    course = await make_course(portal, "VIEW-1", capacity=3)
    [student] = await make_users(portal, "viewer", 1, role=Role.STUDENT)

    # WHEN one server takes a seat
    async with http_client() as client:
        enrolled = await client.post(
            f"{cluster.url(0)}/api/catalog/courses/{course.id}/enroll",
            headers=bearer(portal, student),
        )
        views = [await client.get(f"{url}/api/catalog/courses/{course.id}") for url in cluster.urls]

    # THEN every server reports it
    assert enrolled.status_code == 201
    assert [v.json()["course"]["seats_left"] for v in views] == [2] * SERVERS
