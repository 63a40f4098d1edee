"""The one cursor helper: typed keys that round-trip, and every crafted cursor
refused as `invalid_cursor` before it reaches a query."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest

from lib.errors import Invalid
from lib.pagination import CursorKey, InvalidCursor, digits, parse_limit

KEY = CursorKey(datetime, str)
STAMP = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_every_key_type_round_trips() -> None:
    key = CursorKey(datetime, date, str, int)
    values = (STAMP, date(2026, 2, 3), "CS-101", -7)
    assert key.decode(key.encode(values)) == values


def test_the_longest_sort_value_fits_in_a_cursor() -> None:
    # A 200-character title in a script JSON escapes character by character.
    key = CursorKey(str, str)
    values = ("日本語の講座" * 34)[:200], "f" * 32
    assert key.decode(key.encode(values)) == values


def test_no_cursor_is_the_first_page() -> None:
    assert KEY.decode(None) is None
    assert KEY.decode("") is None


def test_a_page_has_a_next_cursor_only_when_more_rows_came_back() -> None:
    rows = [(STAMP, "a"), (STAMP, "b"), (STAMP, "c")]
    items, cursor = KEY.page(rows, 2, lambda row: row)
    assert items == rows[:2]
    assert cursor is not None
    assert KEY.decode(cursor) == (STAMP, "b")
    assert KEY.page(rows, 3, lambda row: row) == (rows, None)
    assert KEY.page([], 3, lambda row: row) == ([], None)


NUMBER = CursorKey(int)
HOSTILE = {
    "naive timestamp": KEY.encode(["2026-01-05T09:00:00", "x"]),
    "wrong arity": KEY.encode([STAMP]),
    "too many values": KEY.encode([STAMP, "x", "y"]),
    "number for a time": KEY.encode([5, "x"]),
    "number for text": KEY.encode([STAMP, 5]),
    "not a date": KEY.encode(["yesterday", "x"]),
    "object": raw('{"a": 1}'),
    "nested list": raw('[["2026-01-05T09:00:00+00:00"], "x"]'),
    "null": raw("[null, null]"),
    "garbage base64": "!!!not-base64!!!",
    "base64 of garbage": raw("not json at all"),
    "bad utf-8": base64.urlsafe_b64encode(b"\xff\xfe[").decode(),
    "NUL in text": KEY.encode([STAMP, "a\x00b"]),
    "non-ASCII cursor": "ÿÿÿÿ",
    "huge": KEY.encode([STAMP, "x" * 5000]),
    "over the length limit": "A" * 2100,
    "huge text value": KEY.encode([STAMP, "x" * 300]),
    "deep nesting": raw("[" * 300 + "]" * 300),
    "NaN": raw("[NaN, NaN]"),
}


HOSTILE_NUMBERS = {
    "bool for a number": NUMBER.encode([True]),
    "float for a number": raw("[1.5]"),
    "number beyond the database": NUMBER.encode([2**40]),
    "text for a number": NUMBER.encode(["12"]),
}


@pytest.mark.parametrize(
    ("key", "cursor"),
    [(KEY, c) for c in HOSTILE.values()] + [(NUMBER, c) for c in HOSTILE_NUMBERS.values()],
    ids=[*HOSTILE, *HOSTILE_NUMBERS],
)
def test_a_crafted_cursor_is_refused_with_its_own_code(key: CursorKey, cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        key.decode(cursor)
    error = caught.value
    assert (error.status_code, error.code) == (422, "invalid_cursor")
    assert error.fields == {"cursor": "is not a valid cursor"}


def test_a_date_key_refuses_a_datetime() -> None:
    with pytest.raises(InvalidCursor):
        CursorKey(date).decode(CursorKey(date).encode([STAMP]))


@pytest.mark.parametrize(("raw_limit", "expected"), [(None, 20), ("", 20), ("1", 1), ("100", 100)])
def test_a_limit_in_ascii_digits_is_taken(raw_limit: str | None, expected: int) -> None:
    assert parse_limit(raw_limit) == expected


OTHER_LIMITS = ["٣", "\uff13", " 3", "3 ", "+3", "-1", "0", "101", "1e2", "²"]


@pytest.mark.parametrize("raw_limit", OTHER_LIMITS)
def test_any_other_limit_is_refused(raw_limit: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_limit(raw_limit)
    assert list(caught.value.fields) == ["limit"]


def test_digits_are_ascii_digits_only() -> None:
    assert digits("0042") == 42
    assert digits("٣") is None
    assert digits("9" * 40) is None
