"""The export file: gzip-compressed JSON lines, one JSON object per line.

    {"format": "student-portal-export", "version": 1, "revision": "0004",
     "dialect": "sqlite", "exported_at": "2026-01-05T09:00:00+00:00"}
    {"table": "users", "columns": {"id": "string", ...}, "rows": 2}
    {"id": "...", ...}                       <- exactly `rows` row objects
    {"id": "...", ...}
    {"table": "courses", ...}                <- the next table (dependency order)
    ...
    {"end": true, "tables": 11, "rows": 1234}

The table line announces its row count, so a row can never be mistaken for a
section line whatever its columns are called, and the closing line proves the
file is whole: a truncated or spliced file is refused, not half loaded.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from lib.backup.codecs import CODECS, Codec, CodecError, decode
from lib.backup.errors import NotAnExport

FORMAT = "student-portal-export"
FORMAT_VERSION = 1
# A row is a few kilobytes at most (a notification's JSON payload); a longer
# line is damage or mischief, and reading it whole would cost its size in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_REVISION = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class Header:
    revision: str
    dialect: str
    exported_at: datetime


def _dumps(value: Mapping[str, Any]) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL refuses them in a JSON column.
    raise ValueError(f"{name} is not JSON")


class ExportWriter:
    """Writes the lines in order and checks the framing as it goes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._file = gzip.GzipFile(fileobj=stream, mode="wb", compresslevel=6)
        self._left = 0
        self.tables = 0
        self.rows = 0

    def header(self, header: Header) -> None:
        self._file.write(
            _dumps(
                {
                    "format": FORMAT,
                    "version": FORMAT_VERSION,
                    "revision": header.revision,
                    "dialect": header.dialect,
                    "exported_at": header.exported_at.isoformat(),
                }
            )
        )

    def table(self, name: str, columns: Mapping[str, Codec], rows: int) -> None:
        self._check_section_done()
        self._file.write(
            _dumps(
                {"table": name, "columns": {k: c.name for k, c in columns.items()}, "rows": rows}
            )
        )
        self._left = rows
        self.tables += 1

    def row(self, values: Mapping[str, Any]) -> None:
        if self._left <= 0:
            raise RuntimeError("more rows than the table line announced")
        self._file.write(_dumps(values))
        self._left -= 1
        self.rows += 1

    def end(self) -> None:
        self._check_section_done()
        self._file.write(_dumps({"end": True, "tables": self.tables, "rows": self.rows}))
        self._file.close()

    def _check_section_done(self) -> None:
        if self._left:
            raise RuntimeError(f"{self._left} rows announced but not written")


@dataclass
class TableSection:
    name: str
    codecs: dict[str, Codec]
    rows: int
    _reader: ExportReader = field(repr=False)
    _read: int = 0

    def batches(self, size: int) -> Iterator[list[dict[str, Any]]]:
        """The table's rows, decoded, `size` at a time."""
        batch: list[dict[str, Any]] = []
        while self._read < self.rows:
            batch.append(self._reader.row(self))
            self._read += 1
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


class ExportReader:
    """Reads and validates an export line by line; nothing is trusted."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._file = gzip.GzipFile(fileobj=stream, mode="rb")
        self.line_number = 0

    def header(self) -> Header:
        line = self._next("the header")
        if line.get("format") != FORMAT:
            raise NotAnExport("This is not a Student Portal export (no export header).")
        version = line.get("version")
        if version != FORMAT_VERSION:
            raise NotAnExport(
                f"The export is in format version {version!r}; this portal reads "
                f"version {FORMAT_VERSION}. Import it with the portal release that wrote it."
            )
        revision, dialect = line.get("revision"), line.get("dialect")
        if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
            raise self._damaged("the header names no valid schema revision")
        if not isinstance(dialect, str) or not _NAME.fullmatch(dialect):
            raise self._damaged("the header names no valid database kind")
        try:
            exported_at = datetime.fromisoformat(str(line.get("exported_at")))
        except ValueError:
            raise self._damaged("the header has no valid export time") from None
        return Header(revision=revision, dialect=dialect, exported_at=exported_at)

    def tables(self) -> Iterator[TableSection]:
        """Each table section in file order; read its rows before asking for the next."""
        seen: set[str] = set()
        rows = 0
        while True:
            line = self._next("a table or the end of the export")
            if "end" in line:
                self._check_end(line, tables=len(seen), rows=rows)
                return
            section = self._section(line)
            if section.name in seen:
                raise self._damaged(f"table {section.name} appears twice")
            seen.add(section.name)
            yield section
            if section._read != section.rows:
                raise RuntimeError(f"the rows of {section.name} were not all read")
            rows += section.rows

    def row(self, section: TableSection) -> dict[str, Any]:
        line = self._next(f"a row of {section.name}")
        if line.keys() != section.codecs.keys():
            missing = sorted(section.codecs.keys() - line.keys())
            extra = sorted(line.keys() - section.codecs.keys())
            raise self._damaged(
                f"a row of {section.name} does not match its columns "
                f"(missing {missing}, unexpected {extra})"
            )
        try:
            return {name: decode(section.codecs[name], line[name]) for name in section.codecs}
        except CodecError as exc:
            raise self._damaged(f"a value in {section.name}: {exc}") from None

    def _section(self, line: dict[str, Any]) -> TableSection:
        name, columns, rows = line.get("table"), line.get("columns"), line.get("rows")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise self._damaged("expected a table line")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise self._damaged(f"table {name} has no valid row count")
        if not isinstance(columns, dict) or not columns:
            raise self._damaged(f"table {name} lists no columns")
        codecs: dict[str, Codec] = {}
        for column, codec in columns.items():
            if not _NAME.fullmatch(column) or codec not in CODECS:
                raise self._damaged(f"column {name}.{column} has no known type ({codec!r})")
            codecs[column] = CODECS[codec]
        return TableSection(name, codecs, rows, self)

    def _check_end(self, line: dict[str, Any], *, tables: int, rows: int) -> None:
        if line != {"end": True, "tables": tables, "rows": rows}:
            raise self._damaged(
                f"the closing line does not match the {tables} tables and {rows} rows read"
            )
        if self._file.read(1):
            raise self._damaged("there is more after the closing line")

    def _next(self, expected: str) -> dict[str, Any]:
        try:
            raw = self._file.readline(MAX_LINE_BYTES + 1)
        except (OSError, EOFError, zlib.error):
            raise NotAnExport(
                f"The export is damaged or not gzip-compressed (after line {self.line_number})."
            ) from None
        self.line_number += 1
        if not raw:
            raise self._damaged(f"the export ends early: expected {expected}")
        if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
            raise self._damaged("the line is cut off or too long")
        try:
            value = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise self._damaged("the line is not JSON") from None
        if not isinstance(value, dict):
            raise self._damaged("the line is not a JSON object")
        return value

    def _damaged(self, problem: str) -> NotAnExport:
        return NotAnExport(f"The export is damaged at line {self.line_number}: {problem}.")
