"""How a capability declares a scheduled job; `scheduler/` collects and runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.runtime import Portal

JobFunction = Callable[[Portal], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFunction
    # APScheduler interval trigger arguments, e.g. {"minutes": 1}.
    every: Mapping[str, int] = field(default_factory=dict)
    description: str = ""
