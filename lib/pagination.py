"""Cursor paging: opaque cursors, bounded limits."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from lib.errors import Invalid

ItemT = TypeVar("ItemT")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, size: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise Invalid(fields={"cursor": "is not a valid cursor"}) from None
    if not isinstance(values, list) or len(values) != size:
        raise Invalid(fields={"cursor": "is not a valid cursor"})
    if not all(isinstance(v, str | int) for v in values):
        raise Invalid(fields={"cursor": "is not a valid cursor"})
    return values


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(fields={"limit": "must be a whole number"}) from None
    if not 1 <= value <= MAX_LIMIT:
        raise Invalid(fields={"limit": f"must be between 1 and {MAX_LIMIT}"})
    return value
