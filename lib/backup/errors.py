"""Why an export or an import was refused; each has a stable code."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from lib.errors import PortalError


class BackupError(PortalError):
    code = "backup_failed"


class NotAnExport(BackupError):
    code = "not_an_export"


class UnknownRevision(BackupError):
    code = "unknown_schema_revision"


class DatabaseNotEmpty(BackupError):
    code = "database_not_empty"


class SchemaNotCurrent(BackupError):
    code = "schema_not_current"


class SchemaMismatch(BackupError):
    code = "schema_mismatch"


def reason(exc: Exception) -> str:
    """The first line of what went wrong. For a driver error only the driver's
    own message: SQLAlchemy's wrapper adds the statement and its parameters,
    which may be password hashes."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
