"""wrk, the load generator: a compiled program that leaves the interpreter's
core to the server. Requests come from a plan file (one request per line) read
by the Lua scripts in bench/lua/, whose done() prints a JSON summary."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).parent / "lua"
RESULT_MARK = "BENCH-RESULT "
THREAD_DONE_MARK = "BENCH-THREAD-DONE"
THREADS = 2
# What wrk said on stderr (a Lua error), for the message when it printed no result.
_wrk_errors: list[str] = []


@dataclass(frozen=True)
class Line:
    """One request of a plan; `then` is pipelined right behind it on the same
    connection (a cart add and its removal), and the latency covers both."""

    method: str
    path: str
    token: str | None = None
    body: str | None = None
    # The client's address, as a trusted proxy would pass it on.
    forwarded_for: str | None = None
    then: Line | None = None

    def fields(self) -> list[str]:
        own = [self.method, self.path, self.token or "-", self.body or "-"]
        own.append(self.forwarded_for or "-")
        return own + (self.then.fields() if self.then else [])


@dataclass
class Result:
    requests: int
    seconds: float
    answered: int
    refused: int
    socket_errors: int
    timeouts: int
    threads_used_up: int
    in_flight: int
    statuses: dict[str, int]
    latency_ms: dict[str, float] = field(default_factory=dict)
    # wrk printed percentiles below its median (0 for a run of few, slow,
    # pipelined requests): the higher ones are then its maximum, an upper bound.
    percentiles_from_max: bool = False

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.refused + self.socket_errors + self.timeouts


class WrkMissing(RuntimeError):
    pass


def ensure_wrk() -> str:
    """wrk's path; installed with apt-get when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)  # noqa: S607
        found = shutil.which("wrk")
        if found:
            return found
    raise WrkMissing("wrk is not installed: run `sudo apt-get install wrk` (Debian, Ubuntu).")


def write_plan(path: Path, lines: Iterable[Line]) -> Path:
    with path.open("w") as plan:
        for line in lines:
            plan.write("\t".join(line.fields()) + "\n")
    return path


def run(
    url: str,
    plan: Path,
    *,
    seconds: float,
    connections: int = 64,
    accepted: Iterable[int] = (200, 201, 204),
    once: bool = False,
    pipelined: int = 1,
) -> Result:
    """One wrk run over the plan. With `once`, each line is sent at most once
    and the run ends as soon as every line was answered."""
    script = LUA / ("once.lua" if once else "steady.lua")
    command = [
        ensure_wrk(), f"-t{THREADS}", f"-c{max(connections, THREADS)}", f"-d{seconds:g}s",
        "--timeout", "30s", "-s", str(script), url, "--",
        str(plan), ",".join(map(str, accepted)), str(THREADS),
    ]  # fmt: skip
    env = {**os.environ, "BENCH_PIPELINE": str(pipelined)}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    watcher = threading.Thread(target=_end_when_threads_done, args=(process,), daemon=True)
    watcher.start()
    assert process.stdout is not None
    out = process.stdout.read()
    process.wait()
    watcher.join(timeout=5)
    return parse(out)


def _end_when_threads_done(process: subprocess.Popen[str]) -> None:
    # wrk runs for its whole duration even when every thread has stopped;
    # SIGINT makes it print its summary at once.
    done = 0
    assert process.stderr is not None
    for line in process.stderr:
        _wrk_errors.append(line)
        if line.strip() == THREAD_DONE_MARK:
            done += 1
            if done == THREADS and process.poll() is None:
                process.send_signal(signal.SIGINT)


def parse(output: str) -> Result:
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            raw = json.loads(line[len(RESULT_MARK) :])
            return Result(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                answered=raw["answered"],
                refused=raw["refused"],
                socket_errors=raw["socket_errors"],
                timeouts=raw["timeouts"],
                threads_used_up=raw["threads_used_up"],
                in_flight=raw["in_flight"],
                statuses=raw["statuses"],
                **_latency({k: v / 1000 for k, v in raw["latency_us"].items()}),
            )
    raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}{''.join(_wrk_errors[-20:])}")


def _latency(latency: dict[str, float]) -> dict[str, Any]:
    """wrk's latency figures, its percentiles made to hold their order: one
    that it printed below the median is replaced by the maximum."""
    broken = any(latency[p] < latency["p50"] for p in ("p90", "p99"))
    if broken:
        latency = {**latency, "p90": latency["max"], "p99": latency["max"]}
    return {"latency_ms": latency, "percentiles_from_max": broken}
