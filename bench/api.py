"""The API's latency under load, against a seeded database.

    .venv/bin/python -m bench.api [--database-url URL] [--courses 10000]
        [--students 50000] [--clients 64] [--seconds 20] [--workers 2]

Seeds a fresh database (SQLite file by default, or the PostgreSQL given), starts
`portal serve` with the given workers, drives it with concurrent clients over
a mix of catalog searches, course pages, enrollment lists and `/me`, and prints
throughput and latency percentiles per endpoint. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from functions.auth.models import User
from functions.catalog.models import Course, CourseSession
from lib.db import create_engine, new_id
from lib.migrate import upgrade
from lib.security import AccessTokens, PasswordHashing, Role

SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"
WORDS = [
    "algebra",
    "biology",
    "chemistry",
    "design",
    "economics",
    "french",
    "geometry",
    "history",
    "informatics",
    "journalism",
    "law",
    "music",
    "nursing",
    "optics",
    "painting",
    "physics",
    "robotics",
    "statistics",
    "theatre",
    "writing",
]


async def seed(url: str, *, courses: int, students: int) -> tuple[list[str], list[str]]:
    engine = create_engine(url)
    now = datetime.now(UTC)
    today = now.date()
    # One real Argon2id hash shared by everyone: seeding 50,000 hashes would
    # take minutes and measure nothing about the API.
    password_hash = await PasswordHashing(time_cost=1, memory_cost=8, parallelism=1).hash(
        "bench-password-123"
    )
    rng = random.Random(7)
    instructor_ids = [new_id() for _ in range(200)]
    student_ids = [new_id() for _ in range(students)]
    course_ids = [new_id() for _ in range(courses)]
    async with engine.begin() as conn:
        users = [
            {
                "id": uid,
                "username": f"{role}{i}",
                "email": f"{role}{i}@example.com",
                "email_key": f"{role}{i}@example.com",
                "full_name": f"{role.title()} {i}",
                "role": role,
                "password_hash": password_hash,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
            for role, ids in (("instructor", instructor_ids), ("student", student_ids))
            for i, uid in enumerate(ids)
        ]
        for start in range(0, len(users), 5000):
            await conn.execute(insert(User), users[start : start + 5000])
        rows, sessions = [], []
        for i, cid in enumerate(course_ids):
            title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {i}"
            starts = today + timedelta(days=rng.randint(10, 120))
            capacity = rng.choice([10, 20, 30, 50])
            rows.append(
                {
                    "id": cid,
                    "code": f"C-{i:05d}",
                    "title": title,
                    "description": f"A course about {title.lower()}.",
                    "instructor_id": rng.choice(instructor_ids),
                    "starts_on": starts,
                    "ends_on": starts + timedelta(weeks=12),
                    "enrollment_opens_on": today,
                    "enrollment_closes_on": starts,
                    "capacity": capacity,
                    "seats_taken": rng.randint(0, capacity),
                    "price_amount": rng.choice([0, 4900, 12900]),
                    "currency": "usd",
                    "payment_due_days": rng.choice([0, 7]),
                    "waitlist_counter": 0,
                    "search_text": f"c-{i:05d} {title} a course about {title}".lower(),
                    "archived_at": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            sessions.append(
                {
                    "id": new_id(),
                    "course_id": cid,
                    "weekday": rng.randint(0, 6),
                    "start_time": datetime(2026, 1, 1, 9).time(),
                    "end_time": datetime(2026, 1, 1, 11).time(),
                    "location": "Room 1",
                }
            )
        for start in range(0, len(rows), 2000):
            await conn.execute(insert(Course), rows[start : start + 2000])
            await conn.execute(insert(CourseSession), sessions[start : start + 2000])
    await engine.dispose()
    return course_ids, student_ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(
    base: str, *, clients: int, seconds: float, course_ids: list[str], student_ids: list[str]
) -> dict[str, list[float]]:
    tokens = AccessTokens(SECRET, ttl=timedelta(hours=2))
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
            token, _ = tokens.issue(
                user_id=rng.choice(student_ids), role=Role.STUDENT, now=datetime.now(UTC)
            )
            auth = {"Authorization": f"Bearer {token}"}
            while time.perf_counter() < deadline:
                kind = rng.choices(
                    ["search", "list", "course", "mine", "me"], weights=[3, 2, 3, 1, 1]
                )[0]
                if kind == "search":
                    path, headers = f"/api/catalog/courses?q={rng.choice(WORDS)}", {}
                elif kind == "list":
                    path, headers = "/api/catalog/courses?status=open&sort=starts_on", auth
                elif kind == "course":
                    path, headers = f"/api/catalog/courses/{rng.choice(course_ids)}", auth
                elif kind == "mine":
                    path, headers = "/api/catalog/enrollments", auth
                else:
                    path, headers = "/api/auth/me", auth
                started = time.perf_counter()
                response = await http.get(path, headers=headers)
                latencies[kind].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors[kind] += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    for kind, count in errors.items():
        print(f"  ! {count} non-200 answers for {kind}")
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    print(f"seeding {args.courses} courses and {args.students} students into {url.split('@')[-1]}")
    started = time.perf_counter()
    upgrade(url)
    course_ids, student_ids = asyncio.run(seed(url, courses=args.courses, students=args.students))
    print(f"seeded in {time.perf_counter() - started:.1f} s")

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "PORTAL_SERVE_STATIC": "0",
        "PORTAL_MAIL_DIR": str(folder / "mail"),
        "PORTAL_SIMULATOR_DB": str(folder / "simulator.db"),
    }
    portal = str(Path(sys.executable).parent / "portal")
    server = subprocess.Popen(
        [
            portal,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            print("the server did not start", file=sys.stderr)
            return 1
        print(f"{args.clients} clients for {args.seconds:.0f} s against {args.workers} workers")
        latencies = asyncio.run(
            drive(
                base,
                clients=args.clients,
                seconds=args.seconds,
                course_ids=course_ids,
                student_ids=student_ids,
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    everything = [v for values in latencies.values() for v in values]
    print(
        f"\n{'endpoint':<10}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}"
        f"{'p99 ms':>10}{'max ms':>10}"
    )
    for kind in [*sorted(latencies), "all"]:
        values = everything if kind == "all" else latencies[kind]
        print(
            f"{kind:<10}{len(values):>10}{statistics.median(values):>10.1f}"
            f"{percentile(values, 95):>10.1f}{percentile(values, 99):>10.1f}{max(values):>10.1f}"
        )
    print(f"\nthroughput: {len(everything) / args.seconds:.0f} requests/s (budget: p99 < 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
