"""What catalog search finds: a case-insensitive substring of the code, title,
description or instructor's name, whatever the query's characters. Queries of
three characters or more go through the index (FTS5 trigram on SQLite, the
trigram GIN index on PostgreSQL), shorter ones scan; both answer like the
plain substring filter. A user's text is never read as FTS5 syntax."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.security import Role
from tests.factories import Factory

COURSES = "/api/catalog/courses"

FIXTURE = [
    ("PHY-101", "Physics I", "Mechanics and waves", "Grace Hopper"),
    ("CHE-150", "Chemistry AND Physics", 'The "NEAR" operator (and OR) * ^', "Élodie Durand"),
    ("MAT-1", "100% Maths_Basics", "C:\\temp 'quoted' it's", "Ada Lovelace"),
    ("ART-2", "Émile & Zoë: Ørsted", "Straße über Ünïcode", "Ada Lovelace"),
    ("SN-1", "snake_case", "col:body body:physics {a b} NOT -x +y NEAR(a b)", "Grace Hopper"),
]
SYNTAX = ['"', '""', 'a"b', "*", "phys*", "AND", "and", "physics AND chemistry", "OR",
          "NOT", "NEAR", "NEAR(a b)", "near(", "(", ")", "()", "(and", "^", "^phy", ":",
          "body:physics", "col:", "{a b}", "-x", "+y", "'", "it's", "''", "%", "_", "\\",
          "c:\\t", "%_", "s_b", "100%", '"near"', '"NEAR" operator']  # fmt: skip
SHORT = ["p", "P", "ph", "PH", "é", "É", "ém", "ÉM", "Ø", "ß", "ü", "Ü", "1", "-", " a", "a "]


async def _fixture(factory: Factory) -> list[tuple[str, str]]:
    """The fixture's courses: (code, what a substring search looks through)."""
    teachers: dict[str, Any] = {}
    for code, title, description, name in FIXTURE:
        if name not in teachers:
            teachers[name] = await factory.user(role=Role.INSTRUCTOR, full_name=name)
        await factory.course(
            code=code, title=title, description=description, instructor=teachers[name]
        )
    return [
        (code, " ".join((code, title, description, name)).lower())
        for code, title, description, name in FIXTURE
    ]


def _naive(courses: list[tuple[str, str]], q: str) -> list[str]:
    needle = q.strip().lower()
    return sorted(code for code, text in courses if needle in text)


async def _found(client: httpx.AsyncClient, q: str, **kwargs: Any) -> list[str]:
    response = await client.get(COURSES, params={"q": q, "limit": 100}, **kwargs)
    assert response.status_code == 200, (q, response.text)
    return sorted(c["code"] for c in response.json()["items"])


# --- the index follows every change --------------------------------------------------------


async def test_renaming_an_instructor_changes_what_search_finds(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN two courses taught by Grace Hopper, and a reader who has seen them
    grace = await factory.user(role=Role.INSTRUCTOR, full_name="Grace Hopper")
    await factory.course(code="CS-1", instructor=grace)
    await factory.course(code="CS-2", instructor=grace)
    await factory.course(code="ART-1")
    assert await _found(client, "hopper") == ["CS-1", "CS-2"]
    # WHEN she changes her name
    renamed = await client.patch(
        "/api/auth/me", json={"full_name": "Grace Murray"}, headers=factory.headers_for(grace)
    )
    assert renamed.status_code == 200, renamed.text
    # THEN the new name finds her courses and the old one does not, for an
    # anonymous reader (whose pages are cached) and a signed-in one
    student = factory.headers_for(await factory.user())
    for headers in ({}, student):
        assert await _found(client, "murray", headers=headers) == ["CS-1", "CS-2"]
        assert await _found(client, "hopper", headers=headers) == []
        assert await _found(client, "MU", headers=headers) == ["CS-1", "CS-2"]


async def test_editing_a_course_changes_what_search_finds(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN a course on linear algebra taught by Ada, searched once already
    ada = await factory.user(role=Role.INSTRUCTOR, full_name="Ada Lovelace")
    alan = await factory.user(role=Role.INSTRUCTOR, full_name="Alan Turing")
    course = await factory.course(
        code="MA-1", title="Linear Algebra", description="Vectors", instructor=ada
    )
    assert await _found(client, "algebra") == ["MA-1"]
    # WHEN an administrator changes its title, description, code and instructor
    admin = factory.headers_for(await factory.user(role=Role.ADMIN))
    changed = await client.patch(
        f"{COURSES}/{course.id}",
        json={"code": "TOP-7", "title": "Topology", "description": "Open sets",
              "instructor_id": alan.id},
        headers=admin,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    # THEN search finds it by the new words only
    for old in ("algebra", "vectors", "ma-1", "lovelace"):
        assert await _found(client, old) == [], old
    for new in ("topology", "open sets", "top-7", "turing", "TO"):
        assert await _found(client, new) == ["TOP-7"], new


# --- any text is plain text ----------------------------------------------------------------


@pytest.mark.parametrize("queries", [SYNTAX, SHORT], ids=["fts-syntax", "short"])
async def test_search_answers_like_a_plain_substring_filter(
    client: httpx.AsyncClient, factory: Factory, queries: list[str]
) -> None:
    # GIVEN courses whose texts hold FTS5 operators, quotes, LIKE wildcards
    # and accented letters
    courses = await _fixture(factory)
    # WHEN they are searched for such characters, or for one or two of them
    # THEN each query answers 200 with exactly the courses containing it,
    # in any case
    for q in queries:
        assert await _found(client, q) == _naive(courses, q), q


async def test_a_query_that_is_not_utf8_is_refused_or_read_not_a_500(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN the fixture's courses
    await _fixture(factory)
    # WHEN the query string is not UTF-8
    response = await client.get(f"{COURSES}?q=%FF%FEphy")
    # THEN it is answered, not a server error
    assert response.status_code in {200, 422}, response.text


_LETTERS = sorted({c for row in FIXTURE for c in "".join(row)} | set("xqZ\"'*()%_\\^:{}+- \t"))


def _fragments() -> st.SearchStrategy[str]:
    # Pieces of the fixture's own texts (so queries find something), in any case.
    texts = [" ".join(row) for row in FIXTURE]
    piece = st.sampled_from(texts).flatmap(
        lambda t: st.tuples(st.integers(0, len(t)), st.integers(0, len(t))).map(
            lambda ends: t[min(ends) : max(ends)]
        )
    )
    return st.tuples(piece, st.booleans()).map(lambda p: p[0].upper() if p[1] else p[0])


QUERIES = st.one_of(st.text(alphabet=_LETTERS, max_size=200), _fragments())


async def test_any_query_answers_like_the_substring_filter(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    # GIVEN the fixture's courses
    courses = await _fixture(factory)
    loop = asyncio.get_running_loop()

    # WHEN any text of up to 200 characters (no NUL) is searched for
    @settings(
        max_examples=80,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(q=QUERIES)
    def answers_like_the_filter(q: str) -> None:
        # THEN it answers 200 with what the plain substring filter finds
        found = asyncio.run_coroutine_threadsafe(_found(client, q), loop).result()
        assert found == _naive(courses, q)

    # Hypothesis drives from a thread; the requests run on this test's loop.
    await asyncio.to_thread(answers_like_the_filter)
