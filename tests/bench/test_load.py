"""Reading wrk's summary: percentiles it failed to compute never pass a target."""

from __future__ import annotations

import json

from bench.kinds import WRITE
from bench.load import RESULT_MARK, parse
from bench.report import Row


def _summary(**latency_us: int) -> str:
    raw = {
        "requests": 928, "duration_us": 5_000_000, "answered": 928, "refused": 0,
        "socket_errors": 0, "timeouts": 0, "threads_used_up": 0, "in_flight": 0,
        "statuses": {"201": 928}, "latency_us": {"mean": 500_000.0, **latency_us},
    }  # fmt: skip
    return f"Requests/sec: 185\n{RESULT_MARK}{json.dumps(raw)}\n"


def test_percentiles_wrk_printed_as_zero_become_its_maximum() -> None:
    # GIVEN wrk's summary of a slow pipelined run: p90 and p99 printed as 0
    result = parse(_summary(p50=707_446, p90=0, p99=0, max=778_611))
    # THEN the p99 is the maximum, and the target is judged on it
    assert result.latency_ms["p99"] == 778.611
    assert result.percentiles_from_max
    row = Row("cart add + remove", 1, result, target=WRITE)
    assert row.passed() is False
    assert "wrk's maximum" in row.cells()[-1]


def test_percentiles_in_order_are_kept() -> None:
    result = parse(_summary(p50=10_000, p90=20_000, p99=30_000, max=90_000))
    assert result.latency_ms["p99"] == 30.0
    assert not result.percentiles_from_max
    assert Row("health", 1, result, target=WRITE).passed() is True
