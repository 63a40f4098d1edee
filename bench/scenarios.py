"""The scenarios besides steady reads: a rush on one course, a login storm
while the catalog is read, and the catalog at growing sizes."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from bench import database, load, servers, steady
from bench.kinds import KINDS, READ, Kind, Plans, Target
from bench.load import Line
from bench.memory import Memory, largest
from bench.report import Report, Row
from bench.seed import (
    CHECKOUT_COURSES,
    PASSWORD,
    RUSH_SEATS,
    SHOP_COURSES,
    Seeded,
    Sizes,
    add_courses,
)
from functions.catalog.models import Course, Enrollment
from lib.db import create_engine

MEMORY_LIMIT_MB = 200
RUSH_TARGET = Target(500)
STORM_TARGET = Target(150)
SCALE_STEPS = (1_000, 10_000, 100_000)
QUICK_SCALE_STEPS = (100, 300, 1_000)
FLAT = 0.2
# Measured at every size for the ±20% check; the other kinds run at the last.
SCALE_KINDS = ("catalog page (anonymous)", "search q=physics", "filtered listing")


def steady_report(
    report: Report, url: str | None, sizes: Sizes, folder: Path, options: steady.Options
) -> None:
    with database.fresh_database(url, folder, "steady") as db:
        seeded, took = database.migrate_and_seed(db, sizes)
        report.facts["seeded"] = _seeded_fact(sizes, took)
        rows, worker = steady.run(db, seeded, folder, options)
    report.rows += rows
    report.memory = worker
    report.facts["largest worker memory"] = worker.describe()


def rush_report(
    report: Report, url: str | None, sizes: Sizes, folder: Path, options: steady.Options
) -> None:
    """Every rusher has the 50-seat course in their cart; all check out at
    once, one connection each. Exactly the seats there are must be taken."""
    with database.fresh_database(url, folder, "rush") as db:
        seeded, took = database.migrate_and_seed(db, sizes)
        report.facts["seeded"] = _seeded_fact(sizes, took)
        env = servers.portal_environment(db, folder)
        with servers.portal(env, folder, workers=options.workers[0]) as server:
            plans = Plans(seeded, server.url, runs=1)
            plan = load.write_plan(folder / "rush.tsv", plans.rush())
            result = load.run(
                server.url, plan, seconds=max(options.seconds, 60), once=True,
                connections=len(seeded.rushers), accepted=(201, 409),
            )  # fmt: skip
            servers.settle(server.url, timeout_seconds=300)
        taken, live = asyncio.run(_seats(db, seeded.rush_course))
    exact = taken == live == RUSH_SEATS and result.statuses.get("201") == RUSH_SEATS
    note = (
        f"one connection per student; {result.statuses.get('201', 0)} x 201, "
        f"{result.statuses.get('409', 0)} x 409"
    )
    row = Row(f"rush: {len(seeded.rushers)} checkouts, {RUSH_SEATS} seats", options.workers[0],
              result, target=RUSH_TARGET, note=note)  # fmt: skip
    report.rows.append(row)
    verdict = "pass" if exact else "**FAIL**"
    report.facts["seats taken afterwards (database)"] = (
        f"{taken} (seats_taken), {live} live enrollments, of {RUSH_SEATS}: {verdict}"
    )


async def _seats(url: str, course_id: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            taken = await conn.scalar(select(Course.seats_taken).where(Course.id == course_id))
            live = await conn.scalar(
                select(func.count()).where(
                    Enrollment.course_id == course_id,
                    Enrollment.status.in_(["pending_payment", "active", "completed"]),
                )
            )
    finally:
        await engine.dispose()
    return int(taken or 0), int(live or 0)


def login_storm_report(
    report: Report, url: str | None, sizes: Sizes, folder: Path, options: steady.Options
) -> None:
    """64 clients sign in (real Argon2id, the portal's own parameters) while
    another wrk reads the anonymous catalog. Each sign-in comes from an
    address of its own (X-Forwarded-For behind one trusted proxy), as 64
    people would: the per-address throttle is not what is measured."""
    with database.fresh_database(url, folder, "storm") as db:
        seeded, took = database.migrate_and_seed(db, sizes)
        report.facts["seeded"] = _seeded_fact(sizes, took)
        env = servers.portal_environment(db, folder, PORTAL_TRUSTED_PROXY_HOPS="1")
        with servers.portal(env, folder, workers=options.workers[0]) as server:
            plans = Plans(seeded, server.url, runs=1)
            catalog = next(k for k in KINDS if k.name == "catalog page (anonymous)")
            read_plan = load.write_plan(folder / "storm-read.tsv", plans.lines(catalog))
            logins = [
                Line("POST", "/api/auth/login", None,
                     json.dumps({"login": name, "password": PASSWORD}),
                     forwarded_for=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
                for n, name in enumerate(seeded.logins)
            ]  # fmt: skip
            login_plan = load.write_plan(folder / "storm-login.tsv", logins)
            results: list[load.Result] = []
            storm = threading.Thread(
                target=lambda: results.append(
                    load.run(
                        server.url,
                        login_plan,
                        seconds=options.seconds,
                        connections=options.connections,
                    )
                )
            )
            storm.start()
            reads = load.run(
                server.url, read_plan, seconds=options.seconds, connections=options.connections
            )
            storm.join()
            # Sign-ins still hashing when wrk stopped finish before the server
            # stops (cut short by its graceful-shutdown limit, they would be 500s).
            servers.settle(server.url, timeout_seconds=300)
    workers = options.workers[0]
    login = Row("sign-in (Argon2id) during the storm", workers, results[0])
    if not login.result.requests:
        login.note = "no sign-in answered within the run"
    report.rows.append(login)
    report.rows.append(Row("catalog page during the storm", workers, reads, target=STORM_TARGET))


def scale_report(
    report: Report, url: str | None, sizes: Sizes, folder: Path, options: steady.Options
) -> None:
    """The same database grown from the first step to the last; catalog,
    search and a filter measured at each size; flat within ±20%. At the last
    size every other kind runs too, and the worker's memory is judged."""
    steps = QUICK_SCALE_STEPS if sizes.courses < 1_000 else SCALE_STEPS
    small = replace(sizes, courses=steps[0], enrollments=steps[0] * 5,
                    students=min(sizes.students, 5_000))  # fmt: skip
    first: dict[str, float] = {}
    with database.fresh_database(url, folder, "scale") as db:
        seeded, took = database.migrate_and_seed(db, small)
        report.facts["seeded"] = _seeded_fact(small, took)
        # Codes go on after the seed's own courses (the shop, checkout and rush ones).
        have, next_code = steps[0], steps[0] + SHOP_COURSES + CHECKOUT_COURSES + 1
        for step in steps:
            if step > have:
                asyncio.run(add_courses(db, step - have, start=next_code))
                next_code, have = next_code + step - have, step
            kinds = KINDS if step == steps[-1] else [k for k in KINDS if k.name in SCALE_KINDS]
            worker = _scale_step(report, db, seeded, folder, options, kinds, step, first)
    report.memory = worker
    verdict = "pass" if worker.private < MEMORY_LIMIT_MB else "**FAIL**"
    report.facts[f"worker memory at {steps[-1]:,} courses, after every kind"] = (
        f"{worker.describe()}; target private < {MEMORY_LIMIT_MB} MB: {verdict}"
    )


def _scale_step(
    report: Report, db: str, seeded: Seeded, folder: Path, options: steady.Options,
    kinds: Sequence[Kind], step: int, first: dict[str, float],
) -> Memory:  # fmt: skip
    """The kinds at one size; the worker's largest memory after each."""
    env = servers.portal_environment(db, folder)
    samples: list[Memory] = []
    with servers.portal(env, folder, workers=options.workers[0]) as server:
        plans = Plans(seeded, server.url, runs=1)
        for kind in kinds:
            row = steady.measure(server, plans, kind, folder, options, options.workers[0])
            row.kind = f"{kind.name} at {step:,} courses"
            samples += server.worker_memory()
            report.rows.append(row)
            if kind.name not in SCALE_KINDS:
                # No ceiling runs in this scenario: only the latency target.
                row.target = Target(kind.target.p99_ms)
                continue
            # No ceiling in this scenario: its own check is flatness.
            row.target = READ
            if kind.name not in first:
                first[kind.name] = row.result.rate
                row.note = "the base of the ±20% check"
            else:
                change = row.result.rate / first[kind.name] - 1 if first[kind.name] else 0.0
                flat = "pass" if abs(change) <= FLAT else "**FAIL**"
                row.note = f"req/s {change:+.0%} vs the smallest: {flat}"
    return largest(samples)


def _seeded_fact(sizes: Sizes, seconds: float) -> str:
    return (
        f"{sizes.courses:,} courses, {sizes.students:,} students, "
        f"{sizes.enrollments:,} enrollments in {seconds:.1f} s"
    )
