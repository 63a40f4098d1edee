"""Steady load: the ceiling, then every request kind, on each worker count."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import load, servers
from bench.kinds import KINDS, Kind, Plans
from bench.load import Line
from bench.memory import Memory, largest
from bench.report import Row
from bench.seed import Seeded
from lib.http import STATEMENTS_HEADER


@dataclass(frozen=True)
class Options:
    seconds: float
    connections: int
    workers: Sequence[int]
    kinds: Sequence[str] = ()
    # How many pages of each listing the plans walk by cursor.
    pages: int = 5


def run(url: str, seeded: Seeded, folder: Path, options: Options) -> tuple[list[Row], Memory]:
    """Rows for every kind and worker count; and the largest worker memory,
    sampled after each kind."""
    rows: list[Row] = []
    samples: list[Memory] = []
    kinds = [k for k in KINDS if not options.kinds or k.name in options.kinds]
    env = servers.portal_environment(url, folder)
    for workers in options.workers:
        with servers.portal_and_ceiling(env, folder, workers=workers) as (server, bare):
            ceiling = measure_ceiling(bare, folder, options, workers)
            rows.append(ceiling)
            plans = Plans(seeded, server.url, runs=len(options.workers), pages=options.pages)
            for kind in kinds:
                rows.append(measure(server, plans, kind, folder, options, workers))
                rows[-1].ceiling_rate = ceiling.result.rate
                samples += server.worker_memory()
    return rows, largest(samples)


def measure_ceiling(server: servers.Server, folder: Path, options: Options, workers: int) -> Row:
    progress(f"the ceiling, {workers} worker(s)")
    plan = load.write_plan(folder / "ceiling.tsv", [Line("GET", "/hello")] * 8)
    result = load.run(server.url, plan, seconds=options.seconds, connections=options.connections)
    return Row("ceiling: bare Starlette JSON", workers, result, is_ceiling=True)


def measure(
    server: servers.Server, plans: Plans, kind: Kind, folder: Path, options: Options, workers: int
) -> Row:
    progress(f"{kind.name}, {workers} worker(s)")
    servers.settle(server.url)
    lines = plans.lines(kind)
    statements = sample_statements(server.url, lines[0])
    if kind.once:
        # The sample used the first line up (a checkout empties its cart).
        lines = lines[1:]
    slug = "".join(c if c.isalnum() else "-" for c in kind.name).strip("-")
    plan = load.write_plan(folder / f"plan-{slug}-{workers}.tsv", lines)
    result = load.run(
        server.url, plan, seconds=options.seconds, connections=options.connections,
        accepted=kind.accepted, once=kind.once, pipelined=kind.pipelined,
    )  # fmt: skip
    notes = []
    if kind.pipelined > 1:
        notes.append("latency: add and remove, pipelined")
    if result.threads_used_up:
        notes.append("plan used up before the end")
    if kind.once and result.in_flight > 0:
        # A steady run always ends with a request on every connection; a
        # checkout unanswered by then was simply not measured.
        notes.append(f"{result.in_flight} checkouts unanswered when the run ended")
    note = "; ".join(notes)
    return Row(kind.name, workers, result, statements, kind.target, note=note)


def progress(what: str) -> None:
    print(f"bench: {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def sample_statements(base_url: str, line: Line) -> str:
    """The statements one request of the kind costs (X-Portal-Statements),
    measured alone before the load; "a+b" for a pipelined pair."""
    counts = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        current: Line | None = line
        while current is not None:
            headers = {"Authorization": f"Bearer {current.token}"} if current.token else {}
            if current.body:
                headers["Content-Type"] = "application/json"
            answer = client.request(current.method, current.path, headers=headers,
                                    content=current.body)  # fmt: skip
            counts.append(answer.headers.get(STATEMENTS_HEADER, "?"))
            current = current.then
    return "+".join(counts)
