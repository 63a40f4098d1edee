"""Steady load: the ceiling, then every request kind, on each worker count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import load, servers
from bench.kinds import KINDS, Kind, Plans
from bench.load import Line
from bench.report import Row
from bench.seed import Seeded
from lib.http import STATEMENTS_HEADER


@dataclass(frozen=True)
class Options:
    seconds: float
    connections: int
    workers: Sequence[int]
    kinds: Sequence[str] = ()


def run(url: str, seeded: Seeded, folder: Path, options: Options) -> tuple[list[Row], float]:
    """Rows for every kind and worker count; and the largest worker RSS (MB)."""
    rows: list[Row] = []
    rss = 0.0
    kinds = [k for k in KINDS if not options.kinds or k.name in options.kinds]
    env = servers.portal_environment(url, folder)
    for workers in options.workers:
        ceiling = measure_ceiling(folder, options, workers)
        rows.append(ceiling)
        with servers.portal(env, folder, workers=workers) as server:
            plans = Plans(seeded, server.url, runs=len(options.workers))
            for kind in kinds:
                rows.append(measure(server, plans, kind, folder, options, workers))
                rows[-1].ceiling_rate = ceiling.result.rate
            rss = max([rss, *server.worker_rss_mb()])
    return rows, rss


def measure_ceiling(folder: Path, options: Options, workers: int) -> Row:
    plan = load.write_plan(folder / "ceiling.tsv", [Line("GET", "/hello")] * 8)
    with servers.ceiling(folder, workers=workers) as server:
        result = load.run(
            server.url, plan, seconds=options.seconds, connections=options.connections
        )
    return Row("ceiling: bare Starlette JSON", workers, result)


def measure(
    server: servers.Server, plans: Plans, kind: Kind, folder: Path, options: Options, workers: int
) -> Row:
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
    if result.in_flight:
        notes.append(f"{result.in_flight} unanswered when the run ended")
    note = "; ".join(notes)
    return Row(kind.name, workers, result, statements, kind.target, note=note)


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
