"""How each column type is written to an export and read back.

An export names every column's codec, so a file describes itself: reading it
needs no models, and a file from an older schema reads the same way. A value
is encoded by its column's declared type, never by its Python type: a JSON
payload holding "2026-01-05" stays a string.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    Numeric,
    String,
    Time,
)
from sqlalchemy.types import TypeEngine

from lib.db import UTCDateTime


class CodecError(ValueError):
    """A value in the file does not fit its column's codec."""


@dataclass(frozen=True)
class Codec:
    name: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    # The SQLAlchemy type that binds a decoded value on any backend.
    sql_type: Callable[[], TypeEngine[Any]]


def _expect(kind: type | tuple[type, ...], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # bool is an int in Python; a JSON true is never a valid integer here.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CodecError(f"expected {what}, found {type(value).__name__}")
        return value

    return check


def _parsed(parse: Callable[[str], Any], what: str) -> Callable[[Any], Any]:
    def decode(value: Any) -> Any:
        if not isinstance(value, str):
            raise CodecError(f"expected {what} as text, found {type(value).__name__}")
        try:
            return parse(value)
        except ValueError:
            raise CodecError(f"{value[:40]!r} is not {what}") from None

    return decode


def _encode_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a timestamp without a timezone")
    return value.astimezone(UTC)


def _isoformat(value: date | time) -> str:
    return value.isoformat()


def _json_value(value: Any) -> Any:
    return value


def _finite_float(value: Any) -> float:
    # JSON has no NaN or Infinity; a bool is not a number here.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CodecError(f"expected a finite number, found {value!r}"[:80])
    return float(value)


def _encode_decimal(value: Decimal | float) -> str:
    # As text: a JSON number would pass through a binary float and lose digits.
    return str(_parse_decimal(str(value)))


def _parse_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a decimal number") from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    return value


CODECS = {
    codec.name: codec
    for codec in (
        Codec("string", _expect(str, "text"), _expect(str, "text"), String),
        Codec("integer", _expect(int, "an integer"), _expect(int, "an integer"), BigInteger),
        Codec("boolean", _expect(bool, "true or false"), _expect(bool, "true or false"), Boolean),
        Codec(
            "datetime",
            _encode_datetime,
            _parsed(_parse_datetime, "a timestamp with a timezone"),
            UTCDateTime,
        ),
        Codec("date", _isoformat, _parsed(date.fromisoformat, "a date"), Date),
        Codec("time", _isoformat, _parsed(time.fromisoformat, "a time of day"), Time),
        Codec("json", _json_value, _json_value, JSON),
        # Not used by today's models; ready for scores, rates and money-like values.
        Codec("float", _finite_float, _finite_float, Float),
        Codec("decimal", _encode_decimal, _parsed(_parse_decimal, "a decimal number"), Numeric),
    )
}

# Checked in this order: the first class the column's type is an instance of
# wins (Text and Enum are Strings). A TypeDecorator other than UTCDateTime is
# not listed on purpose: what it stores is its own business, and it needs a
# codec of its own before it can be exported (see the README, "Operations").
_BY_TYPE: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (UTCDateTime, "datetime"),
    (Boolean, "boolean"),
    (Integer, "integer"),
    (Float, "float"),
    (Numeric, "decimal"),
    (Date, "date"),
    (Time, "time"),
    (JSON, "json"),
    (String, "string"),
)


def codec_for(column: Column[Any]) -> Codec:
    """The codec of a model column; an unknown type is refused, never guessed."""
    for sql_type, name in _BY_TYPE:
        if isinstance(column.type, sql_type):
            return CODECS[name]
    raise CodecError(
        f"column {column.table.name}.{column.name} has type {type(column.type).__name__}, "
        "which exports do not know yet: add a codec for it in lib/backup/codecs.py"
    )


def encode(codec: Codec, value: Any) -> Any:
    return None if value is None else codec.encode(value)


def decode(codec: Codec, value: Any) -> Any:
    return None if value is None else codec.decode(value)
