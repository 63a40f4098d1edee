"""The benchmark's table: markdown, so the README can take it as printed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.kinds import Target
from bench.load import Result
from bench.memory import Memory


@dataclass
class Row:
    kind: str
    workers: int
    result: Result
    statements: str = ""
    target: Target | None = None
    ceiling_rate: float = 0.0
    note: str = ""
    is_ceiling: bool = False

    @property
    def ratio(self) -> float:
        return self.result.rate / self.ceiling_rate if self.ceiling_rate else 0.0

    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return (
            self.result.requests > 0
            and self.result.errors == 0
            and self.result.latency_ms["p99"] < self.target.p99_ms
            and self.ratio >= self.target.ceiling_ratio
        )

    def cells(self) -> list[str]:
        r = self.result
        verdict = {None: "", True: "pass", False: "**FAIL**"}[self.passed()]
        target = f"{self.target.describe()}: {verdict}" if self.target else ""
        return [
            self.kind, str(self.workers), f"{r.rate:,.0f}",
            f"{self.ratio:.2f}" if self.ceiling_rate else ("1.00" if self.is_ceiling else "-"),
            f"{r.latency_ms['p50']:.1f}", f"{r.latency_ms['p99']:.1f}",
            str(r.errors), self.statements or "-", target, self._note(),
        ]  # fmt: skip

    def _note(self) -> str:
        if not self.result.percentiles_from_max:
            return self.note
        return "; ".join(filter(None, [self.note, "p99: wrk's maximum (it printed no p99)"]))

    def as_json(self) -> dict[str, Any]:
        data = asdict(self.result)
        data.update(
            kind=self.kind, workers=self.workers, rate=round(self.result.rate, 1),
            ratio=round(self.ratio, 3), errors=self.result.errors, statements=self.statements,
            target=self.target.describe() if self.target else None, passed=self.passed(),
            note=self.note,
        )  # fmt: skip
        return data


HEADER = [
    "kind", "workers", "req/s", "x ceiling", "p50 ms", "p99 ms", "errors",
    "statements", "target", "note",
]  # fmt: skip


@dataclass
class Report:
    title: str
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # The largest worker's memory (bench.memory), in the JSON.
    memory: Memory | None = None

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines += [f"- {name}: {value}" for name, value in self.facts.items()]
        lines += ["", "| " + " | ".join(HEADER) + " |", "|" + " --- |" * len(HEADER)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "facts": self.facts,
            "memory": self.memory.as_json() if self.memory else None,
            "rows": [row.as_json() for row in self.rows],
        }
