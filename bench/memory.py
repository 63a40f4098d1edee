"""A worker's memory, read from /proc, split into what the process holds for
itself and what it maps from files.

- `private` (RssAnon): the worker's own memory — Python's heap, SQLite's page
  cache, the page cache of answers, thread stacks, malloc's arenas. Nothing
  else can use it while the worker lives. Issue 9's 200 MB target is judged
  on this figure.
- `file` (RssFile): file pages mapped into the worker — shared libraries and,
  on SQLite, the database file through SQLite's memory map (lib.db,
  SQLITE_MMAP_BYTES). These pages are the kernel's page cache: shared with
  every process that maps or reads the file, reclaimable under pressure, and
  counted once per mapping, so each pooled SQLite connection that maps the
  file counts its pages again.
- `rss` (VmRSS) is the two together (and shmem); `pss` (smaps_rollup) shares
  each page among the mappings and processes that map it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

_KIB = re.compile(r"^(\w+):\s+(\d+) kB", re.MULTILINE)


@dataclass(frozen=True)
class Memory:
    """Megabytes (MiB)."""

    rss: float = 0.0
    private: float = 0.0
    file: float = 0.0
    shmem: float = 0.0
    pss: float = 0.0
    peak_rss: float = 0.0

    def describe(self) -> str:
        return (
            f"private (RssAnon) {self.private:.0f} MB; file-backed (RssFile) {self.file:.0f} MB; "
            f"VmRSS {self.rss:.0f} MB (peak {self.peak_rss:.0f} MB); PSS {self.pss:.0f} MB"
        )

    def as_json(self) -> dict[str, float]:
        return {name: round(value, 1) for name, value in asdict(self).items()}


def parse(status: str, rollup: str = "") -> Memory:
    """From the text of /proc/PID/status and /proc/PID/smaps_rollup."""
    kib = {name: int(value) for name, value in _KIB.findall(status)}
    pss = {name: int(value) for name, value in _KIB.findall(rollup)}.get("Pss", 0)
    return Memory(
        rss=kib.get("VmRSS", 0) / 1024,
        private=kib.get("RssAnon", 0) / 1024,
        file=kib.get("RssFile", 0) / 1024,
        shmem=kib.get("RssShmem", 0) / 1024,
        pss=pss / 1024,
        peak_rss=kib.get("VmHWM", 0) / 1024,
    )


def read(pid: int) -> Memory:
    """A process's memory now; zeros when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return Memory()
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        rollup = ""
    return parse(status, rollup)


def largest(samples: Iterable[Memory]) -> Memory:
    """Each figure's largest value over the samples (of one or several workers)."""
    taken = list(samples)
    values = {f.name: max((getattr(m, f.name) for m in taken), default=0.0) for f in fields(Memory)}
    return Memory(**values)
