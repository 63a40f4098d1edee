"""The catalog's search as statements: a query's shape (which filters, which
sort, a cursor or not) picks a statement built once; its values go in as
parameters. Building a statement of this size costs more than running it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, and_, bindparam, exists, literal_column, select

from functions.catalog.reads import (
    SORT_COLUMNS,
    course_select,
    course_sessions,
    courses,
    search_table,
    with_version,
)
from functions.catalog.repository import status_condition
from functions.catalog.search_index import MIN_INDEXED_LENGTH, SEARCH_TABLE
from lib.db import escape_like
from lib.pagination import AFTER
from lib.pagination import after as past


@dataclass(frozen=True)
class CourseQuery:
    text: str | None = None
    instructor_id: str | None = None
    status: str | None = None
    weekday: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    include_archived: bool = False
    sort: str = "code"
    descending: bool = False
    after: tuple[Any, ...] | None = None
    limit: int = 20


def text_condition(dialect: str, text: str) -> tuple[str, str]:
    """How a text is searched and the parameter for it: a case-insensitive
    substring of the code, title, description or the instructor's name, found
    through the search index (see search_index)."""
    lowered = text.lower()
    if dialect == "sqlite" and len(lowered) >= MIN_INDEXED_LENGTH:
        return "match", '"' + lowered.replace('"', '""') + '"'
    # PostgreSQL's trigram index serves LIKE itself; on SQLite a query of
    # one or two characters scans the one column.
    return "like", "%" + escape_like(lowered) + "%"


@dataclass(frozen=True)
class Shape:
    """What a catalog query's statement looks like, without its values."""

    dialect: str
    signed_in: bool
    text: str | None
    instructor: bool
    status: str | None
    weekday: bool
    min_price: bool
    max_price: bool
    include_archived: bool
    sort: str
    descending: bool
    after: bool


def shaped(
    query: CourseQuery, *, today: date, dialect: str, student_id: str | None
) -> tuple[Shape, dict[str, Any]]:
    """The query as a statement's shape and its parameters."""
    params: dict[str, Any] = {"limit": query.limit, "today": today, "student_id": student_id}
    how = None
    if query.text:
        how, params["text"] = text_condition(dialect, query.text)
    params.update(instructor_id=query.instructor_id, weekday=query.weekday)
    params.update(min_price=query.min_price, max_price=query.max_price)
    if query.after is not None:
        params.update(after_0=query.after[0], after_1=query.after[1])
    shape = Shape(
        dialect, student_id is not None, how, bool(query.instructor_id), query.status,
        query.weekday is not None, query.min_price is not None, query.max_price is not None,
        query.include_archived, query.sort, query.descending, query.after is not None,
    )  # fmt: skip
    return shape, {k: v for k, v in params.items() if v is not None}


@lru_cache(maxsize=512)
def catalog_page(shape: Shape) -> Select[Any]:
    """The statement of one shape of catalog query, built once."""
    c = courses.c
    conditions: list[ColumnElement[bool]] = []
    if not shape.include_archived:
        conditions.append(c.archived_at.is_(None))
    if shape.text == "match":
        matching: Select[Any] = select(search_table.c.course_id).where(
            literal_column(SEARCH_TABLE).op("MATCH")(bindparam("text"))
        )
        conditions.append(c.id.in_(matching))
    elif shape.text == "like":
        conditions.append(c.search_text.like(bindparam("text"), escape="\\"))
    if shape.instructor:
        conditions.append(c.instructor_id == bindparam("instructor_id"))
    if shape.status:
        conditions.append(status_condition(shape.status, bindparam("today", type_=Date)))
    if shape.weekday:
        s = course_sessions.c
        found = select(s.id).where(s.course_id == c.id, s.weekday == bindparam("weekday"))
        conditions.append(exists(found))
    if shape.min_price:
        conditions.append(c.price_amount >= bindparam("min_price"))
    if shape.max_price:
        conditions.append(c.price_amount <= bindparam("max_price"))
    column = SORT_COLUMNS[shape.sort]
    if (
        shape.after
        and (beyond := past((column, c.id), AFTER, descending=shape.descending)) is not None
    ):
        conditions.append(beyond)
    order = (column.desc(), c.id.desc()) if shape.descending else (column, c.id)
    statement = with_version(course_select(shape.dialect, signed_in=shape.signed_in))
    return statement.where(and_(True, *conditions)).order_by(*order).limit(bindparam("limit"))
