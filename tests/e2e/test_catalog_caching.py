"""The catalog with HTTP caching in a real browser: answers carry ETags and
Cache-Control, and nobody sees a seat count older than their own change."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.support import CatalogData, PageFactory, sign_in, unique_token

pytestmark = pytest.mark.e2e


def test_seats_taken_show_to_the_student_and_to_a_new_anonymous_reader(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    # GIVEN a course an anonymous reader has open
    course = catalog.course(
        catalog.user("instructor"), title=f"Pottery {unique_token()}", capacity=5,
        price=12900, payment_due_days=7,
    )  # fmt: skip
    address = f"/#/courses/{course['id']}"
    reader = page_factory()
    with reader.expect_response(lambda r: f"/api/catalog/courses/{course['id']}" in r.url) as got:
        reader.goto(address)
    assert got.value.headers["cache-control"] == "public, max-age=10"
    expect(reader.get_by_test_id("course-seats")).to_have_text("5 of 5 left")
    # WHEN a student, in another browser, opens it and reserves a seat
    student_page = page_factory()
    student = catalog.user("student")
    sign_in(student_page, student.username, student.password)
    student_page.goto(address)
    expect(student_page.get_by_test_id("course-seats")).to_have_text("5 of 5 left")
    student_page.get_by_role("button", name="Reserve seat").click()
    # THEN the student sees their seat taken at once
    expect(student_page.get_by_test_id("course-seats")).to_have_text("4 of 5 left")
    student_page.reload()
    expect(student_page.get_by_test_id("course-seats")).to_have_text("4 of 5 left")
    # AND a reader who opens the course now sees it too
    newcomer = page_factory()
    newcomer.goto(address)
    expect(newcomer.get_by_test_id("course-seats")).to_have_text("4 of 5 left")
