"""Cursor paging: opaque cursors over a typed sort key, bounded limits.

A list is ordered by a key such as (created_at, id). Its cursor is the last
item's key as URL-safe base64 JSON. Every value is checked against the key's
type when it comes back, so a crafted cursor is a 422 `invalid_cursor`, never a
query the database refuses with a 500."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, bindparam, or_

from lib.errors import Invalid

ItemT = TypeVar("ItemT")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# A cursor carries a sort value (at most a 200-character title, which JSON
# may spell as 1,200 ASCII characters) and an id; anything longer is not ours.
MAX_CURSOR_LENGTH = 2048
MAX_TEXT_LENGTH = 200
# PostgreSQL's `integer`: a larger value would fail the query instead of matching nothing.
INT_RANGE = (-(2**31), 2**31 - 1)

KeyType = type[datetime] | type[date] | type[str] | type[int]


class InvalidCursor(Invalid):
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__(
            "The page cursor is not valid; start again from the first page.",
            fields={"cursor": "is not a valid cursor"},
        )


@dataclass(frozen=True)
class CursorKey:
    """The types of the values a list is ordered by, e.g. CursorKey(datetime, str)."""

    types: tuple[KeyType, ...]

    def __init__(self, *types: KeyType) -> None:
        object.__setattr__(self, "types", types)

    def encode(self, values: Sequence[Any]) -> str:
        plain = [v.isoformat() if isinstance(v, date) else v for v in values]
        raw = json.dumps(plain, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        """The key values in the cursor, each of its type; None for the first page."""
        if not cursor:
            return None
        values = _json_list(cursor)
        if len(values) != len(self.types):
            raise InvalidCursor()
        return tuple(_typed(kind, value) for kind, value in zip(self.types, values, strict=True))

    def page(
        self, rows: Sequence[ItemT], limit: int, key: Callable[[ItemT], Sequence[Any]]
    ) -> tuple[list[ItemT], str | None]:
        """The first `limit` rows (the query asked for one more) and the cursor
        to the next page, or None when this is the last."""
        items = list(rows[:limit])
        if len(rows) <= limit or not items:
            return items, None
        return items, self.encode(key(items[-1]))


def _json_list(cursor: str) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise InvalidCursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidCursor() from None
    if not isinstance(values, list):
        raise InvalidCursor()
    return values


def _typed(kind: KeyType, value: Any) -> Any:
    if kind is str:
        # PostgreSQL text cannot hold NUL: such a value would fail the query.
        if isinstance(value, str) and "\x00" not in value and len(value) <= MAX_TEXT_LENGTH:
            return value
    elif kind is int:
        # bool is an int to Python, not to a cursor.
        if type(value) is int and INT_RANGE[0] <= value <= INT_RANGE[1]:
            return value
    elif kind is datetime:
        moment = _parsed(datetime.fromisoformat, value)
        # A naive time would be compared as if it were UTC on one database and
        # refused by the other: only an aware one is ours.
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            return moment
    elif kind is date:
        day = _parsed(date.fromisoformat, value)
        if type(day) is date:
            return day
    raise InvalidCursor()


def _parsed(parse: Callable[[str], Any], value: Any) -> Any:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return parse(value)
    except ValueError:
        return None


# The cursor's values as parameters of a kept statement (`after_0`, `after_1`).
AFTER: tuple[Any, ...] = (bindparam("after_0"), bindparam("after_1"))


def after(
    columns: Sequence[Any], values: Sequence[Any] | None, *, descending: bool = False
) -> ColumnElement[bool] | None:
    """Rows past `values` in the order of `columns` (the last one unique, such as
    the id): (a, b) > (x, y) spelled out, which every database can index."""
    if values is None:
        return None
    if len(columns) != len(values):
        raise ValueError("one value per key column")
    condition: ColumnElement[bool] | None = None
    # Built from the last column outwards: a > x OR (a = x AND (b > y OR ...)).
    for column, value in reversed(list(zip(columns, values, strict=True))):
        beyond = column < value if descending else column > value
        condition = beyond if condition is None else or_(beyond, and_(column == value, condition))
    return condition


def digits(raw: str) -> int | None:
    """A whole number written in ASCII digits, or None: Python's int() also
    takes "٣" and " 3", which no form sends."""
    if not raw or len(raw) > 18 or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    value = digits(raw)
    if value is None:
        raise Invalid(fields={"limit": "must be a whole number"})
    if not 1 <= value <= MAX_LIMIT:
        raise Invalid(fields={"limit": f"must be between 1 and {MAX_LIMIT}"})
    return value
