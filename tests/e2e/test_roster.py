"""Rosters for the course's instructor and administrators."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    sign_in,
    unique_token,
)

pytestmark = pytest.mark.e2e


def test_the_instructor_sees_the_roster_and_downloads_it(page: Page, catalog: CatalogData) -> None:
    # GIVEN a full course: one student holds the seat, one waits
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Lithography {unique_token()}", capacity=1, price=5000)
    holder = catalog.user("student")
    waiting = catalog.user("student")
    catalog.enroll(holder, course)
    catalog.join_waitlist(waiting, course)

    # WHEN the instructor opens the course from My teaching
    sign_in(page, teacher.username, teacher.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My teaching").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My teaching")
    card = page.get_by_role("listitem").filter(has_text=course["code"])
    card.get_by_role("link", name=f"Roster of {course['code']}").click()

    # THEN the roster lists both students with their state
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Roster: {course['code']}")
    table = page.get_by_role("table", name="Students in this course")
    holder_row = table.get_by_role("row").filter(has_text=holder.username)
    expect(holder_row).to_contain_text(holder.full_name)
    expect(holder_row).to_contain_text(f"{holder.username}@example.com")
    expect(holder_row).to_contain_text("Seat held")
    waiting_row = table.get_by_role("row").filter(has_text=waiting.username)
    expect(waiting_row).to_contain_text("Waitlisted")
    expect(waiting_row).to_contain_text("#1")
    expect(page.get_by_text("Showing 2 students.")).to_be_visible()

    # WHEN they download the CSV THEN it holds the same students
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"roster-{course['code']}.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert {row["username"]: row["status"] for row in rows} == {
        holder.username: "pending_payment",
        waiting.username: "waitlisted",
    }
    expect(page.get_by_role("status").filter(has_text="Downloaded")).to_be_visible()


def test_the_roster_pages_with_load_more(page: Page, catalog: CatalogData) -> None:
    course = catalog.course(
        catalog.user("instructor"), title=f"Fresco {unique_token()}", capacity=60
    )
    students = [catalog.user("student") for _ in range(52)]
    for student in students:
        catalog.enroll(student, course)

    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"/#/courses/{course['id']}")
    page.get_by_role("link", name="Roster").click()
    rows = page.get_by_role("table", name="Students in this course").locator("tbody tr")
    expect(rows).to_have_count(50)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(52)
    expect(rows.nth(50)).to_be_focused()
    usernames = rows.evaluate_all("rows => rows.map(row => row.dataset.username)")
    assert usernames == sorted(student.username for student in students)


def test_other_instructors_and_students_cannot_see_a_roster(
    page: Page, catalog: CatalogData
) -> None:
    course = catalog.course(catalog.user("instructor"), title=f"Gilding {unique_token()}")
    other = catalog.user("instructor")
    sign_in(page, other.username, other.password)
    page.goto(f"/#/courses/{course['id']}/roster")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not your course")
    page.goto(f"/#/courses/{course['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])
    expect(page.get_by_role("link", name="Roster")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    student = catalog.user("student")
    sign_in(page, student.username, student.password)
    page.goto(f"/#/courses/{course['id']}/roster")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
