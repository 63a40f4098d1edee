"""python -m bench: the portal under wrk, against a bare Starlette ceiling.

    python -m bench [--database-url postgresql://...] [--courses 10000]
        [--students 50000] [--enrollments 200000] [--workers 1,2] [--seconds 10]
        [--connections 64] [--scenario steady|rush|login-storm|scale|all]
        [--quick] [--markdown FILE] [--json FILE]

Seeds a fresh database (a SQLite file by default; with --database-url, a new
database on that PostgreSQL server, dropped afterwards), then measures and
prints a markdown table. See the README's "Benchmark" section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench import load, scenarios, steady
from bench.report import Report
from bench.seed import Sizes

QUICK = Sizes(
    courses=300, students=3000, enrollments=4000, bench_users=200, payers=600, rushers=200
)
SCENARIOS = ("steady", "rush", "login-storm", "scale")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite)")
    parser.add_argument("--courses", type=int)
    parser.add_argument("--students", type=int)
    parser.add_argument("--enrollments", type=int)
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="steady")
    parser.add_argument("--kinds", default="", help="only these kinds (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 s runs, 1 worker")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--folder", type=Path, help="where databases and logs go")
    return parser.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    given = {
        name: getattr(args, name)
        for name in ("courses", "students", "enrollments")
        if getattr(args, name) is not None
    }
    return replace(sizes, **given)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.seconds = min(args.seconds, 2.0)
        args.workers = "1" if args.workers == "1,2" else args.workers
    try:
        load.ensure_wrk()
    except load.WrkMissing as missing:
        print(f"bench: {missing}", file=sys.stderr)
        return 2
    folder = args.folder or Path(tempfile.mkdtemp(prefix="portal-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    chosen = SCENARIOS if args.scenario == "all" else (args.scenario,)
    reports = [run_scenario(name, args, folder) for name in chosen]
    text = "\n".join(report.markdown() for report in reports)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps([r.as_json() for r in reports], indent=2))
    return 0


def run_scenario(name: str, args: argparse.Namespace, folder: Path) -> Report:
    sizes = sizes_of(args)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    options = steady.Options(
        seconds=args.seconds,
        connections=args.connections,
        workers=[int(w) for w in args.workers.split(",")],
        kinds=[k.strip() for k in args.kinds.split(",") if k.strip()],
        pages=2 if args.quick else 5,
    )
    facts = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "database": backend,
        "load": f"wrk, {load.THREADS} threads, {args.connections} connections, "
        f"{args.seconds:g} s per kind",
    }
    report = Report(f"{name} on {backend}", facts=facts)
    runner = {
        "steady": scenarios.steady_report,
        "rush": scenarios.rush_report,
        "login-storm": scenarios.login_storm_report,
        "scale": scenarios.scale_report,
    }[name]
    runner(report, args.database_url, sizes, folder, options)
    return report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    raise SystemExit(main())
