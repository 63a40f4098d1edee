"""The whole database to and from one portable file (`portal export`, `portal import`).

lib knows no models: the caller passes the metadata to export (the CLI passes
`functions.models.metadata`); an import needs none, the file describes itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError

from lib.backup.dump import Summary, export_database
from lib.backup.errors import BackupError, reason
from lib.backup.restore import import_database
from lib.db import create_engine
from lib.migrate import ensure_sqlite_folder

STANDARD_STREAM = "-"

__all__ = [
    "BackupError",
    "Summary",
    "export_database",
    "export_file",
    "import_database",
    "import_file",
]


async def export_file(
    database_url: str, metadata: MetaData, target: str, *, now: datetime
) -> Summary:
    """Export to a file path, or to standard output for "-". A file appears
    only when complete, readable by its owner alone: it holds password hashes."""
    engine = create_engine(database_url)
    try:
        with _writable(target) as stream:
            return await export_database(engine, metadata, stream, now=now)
    except (OSError, DBAPIError) as exc:
        raise BackupError(f"The export failed: {reason(exc)}") from None
    finally:
        await engine.dispose()


async def import_file(database_url: str, source: str) -> Summary:
    """Import from a file path, or from standard input for "-"."""
    ensure_sqlite_folder(database_url)
    engine = create_engine(database_url)
    try:
        with _readable(source) as stream:
            return await import_database(engine, stream)
    except (OSError, DBAPIError) as exc:
        raise BackupError(f"The import failed, nothing was changed: {reason(exc)}") from None
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _writable(target: str) -> Iterator[IO[bytes]]:
    if target == STANDARD_STREAM:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    # mkstemp creates the file with mode 0600; renamed into place once whole.
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _readable(source: str) -> Iterator[IO[bytes]]:
    if source == STANDARD_STREAM:
        yield sys.stdin.buffer
        return
    with Path(source).open("rb") as stream:
        yield stream
