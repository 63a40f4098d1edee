"""`python -m bench --quick`: the whole benchmark pipeline end to end on
SQLite (seed, ceiling, every request kind under wrk, the table), small and
short. It checks the output's shape and that no request failed; the numbers
themselves are the benchmark's business, not a test's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.kinds import KINDS

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TIMEOUT_SECONDS = 180

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None and not IN_CI,
    reason="wrk is not installed (apt-get install wrk); under CI=true the bench installs it",
)


def test_the_quick_benchmark_measures_every_kind_without_errors(tmp_path: Path) -> None:
    # GIVEN nothing but the repository; WHEN the quick benchmark runs
    out = tmp_path / "bench.json"
    table = tmp_path / "bench.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "STRIPE_"))}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out), "--markdown", str(table),
         "--folder", str(tmp_path / "work")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip

    # THEN it ends well and prints a markdown table with one row per kind and the ceiling
    assert run.returncode == 0, run.stderr[-3000:]
    reports = json.loads(out.read_text())
    assert [r["title"] for r in reports] == ["steady on SQLite"]
    rows = reports[0]["rows"]
    assert [r["kind"] for r in rows] == ["ceiling: bare Starlette JSON", *(k.name for k in KINDS)]
    assert table.read_text() in run.stdout
    assert "| kind | workers | req/s | x ceiling | p50 ms | p99 ms | errors |" in run.stdout

    # ... every kind was measured, with its statements and its target ...
    reads = [r for r in rows[1:] if r["target"].startswith("p99 < 100")]
    assert all(r["requests"] > 0 and r["rate"] > 0 for r in [rows[0], *reads]), rows
    assert all(r["latency_ms"]["p99"] >= r["latency_ms"]["p50"] > 0 for r in reads)
    assert all(r["statements"] and "?" not in r["statements"] for r in rows[1:])
    assert all(r["target"] and r["passed"] in {True, False} for r in rows[1:])
    assert all(r["ratio"] > 0 for r in reads)

    # ... and no request failed: every answer had an expected status
    assert [(r["kind"], r["errors"], r["statuses"]) for r in rows if r["errors"]] == []
    assert all(set(r["statuses"]) <= {"200", "201", "204"} for r in rows)

    # ... and the worker's memory is reported split: its own and the file pages it maps
    memory = reports[0]["memory"]
    assert 0 < memory["private"] <= memory["rss"] <= memory["peak_rss"], memory
    assert memory["file"] > 0
    assert memory["pss"] > 0
    assert f"- largest worker memory: private (RssAnon) {memory['private']:.0f} MB;" in run.stdout


def test_the_quick_scale_scenario_judges_the_workers_own_memory(tmp_path: Path) -> None:
    # GIVEN nothing but the repository; WHEN the scale scenario runs small
    out = tmp_path / "scale.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "STRIPE_"))}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--scenario", "scale", "--seconds", "1",
         "--json", str(out), "--folder", str(tmp_path / "work")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    # THEN every kind ran at the largest size, the worker's memory measured after them
    report = json.loads(out.read_text())[0]
    largest = [r["kind"] for r in report["rows"] if r["kind"].endswith(" at 1,000 courses")]
    assert largest == [f"{k.name} at 1,000 courses" for k in KINDS]
    memory = report["memory"]
    assert 0 < memory["private"] <= memory["rss"]

    # ... and the 200 MB target is judged on the private figure, which the line names
    fact = report["facts"]["worker memory at 1,000 courses, after every kind"]
    assert fact.startswith(f"private (RssAnon) {memory['private']:.0f} MB; file-backed (RssFile)")
    verdict = "pass" if memory["private"] < 200 else "**FAIL**"
    assert fact.endswith(f"; target private < 200 MB: {verdict}")
