"""The administrator's course list and editor."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.screen import drawn_text
from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    EN_DASH,
    CatalogData,
    PageFactory,
    in_days,
    sign_in,
    unique_code,
    unique_token,
)

pytestmark = pytest.mark.e2e


def session_row(page: Page, index: int) -> Locator:
    return page.locator(".session-row").nth(index)


def fill_session(page: Page, index: int, weekday: str, start: str, end: str) -> None:
    row = session_row(page, index)
    row.get_by_label("Day").select_option(weekday)
    row.get_by_label("Starts", exact=True).fill(start)
    row.get_by_label("Ends", exact=True).fill(end)
    row.get_by_label("Location").fill("Studio 4")


def test_admin_creates_edits_and_archives_a_course(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    teacher = catalog.user("instructor")
    code = unique_code("NEW")
    token = unique_token()
    admin = page_factory()
    sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)

    # GIVEN the admin on the course list WHEN they start a new course
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Courses").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Courses")
    admin.get_by_role("link", name="New course").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("New course")

    form = admin.locator("#course-form")
    form.get_by_label("Code").fill(code.lower())
    form.get_by_label("Title").fill(f"Printmaking {token}")
    form.get_by_label("Description").fill("Relief and intaglio.\nBring an apron.")
    form.get_by_label("Instructor").select_option(teacher.id)
    form.get_by_label("Starts on").fill(in_days(40))
    form.get_by_label("Ends on").fill(in_days(20))
    fill_session(admin, 0, "monday", "09:00", "10:30")
    form.get_by_role("button", name="Add session").click()
    expect(session_row(admin, 1).get_by_label("Day")).to_be_focused()
    fill_session(admin, 1, "wednesday", "11:00", "10:00")
    form.get_by_label("Seats", exact=True).fill("3")
    form.get_by_label("Price", exact=True).fill("129.50")
    form.get_by_label("Days to pay").fill("7")

    # WHEN the end date is before the start date THEN the API's messages show inline
    form.get_by_role("button", name="Create course").click()
    ends_on = form.get_by_label("Ends on")
    expect(form.locator("#course-form-ends_on-error")).to_have_text(
        "must not be before the start date"
    )
    expect(ends_on).to_have_attribute("aria-invalid", "true")
    expect(ends_on).to_be_focused()
    second_end = session_row(admin, 1).get_by_label("Ends", exact=True)
    expect(second_end).to_have_attribute("aria-invalid", "true")
    expect(session_row(admin, 1)).to_contain_text("must be after the start time")
    expect(admin.get_by_role("alert").filter(has_text="Please correct")).to_be_visible()

    # WHEN they fix the dates and the times THEN the course is created
    ends_on.fill(in_days(120))
    second_end.fill("12:30")
    form.get_by_role("button", name="Create course").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Edit {code}")
    expect(admin.get_by_text(f"Created {code}.")).to_be_visible()
    expect(form.get_by_label("Price", exact=True)).to_have_value("129.50")
    expect(session_row(admin, 1).get_by_label("Day")).to_have_value("wednesday")

    # GIVEN two students who took seats
    course_id = admin.evaluate("location.hash").split("/")[3]
    course = {"id": course_id}
    catalog.enroll(catalog.user("student"), course)
    catalog.enroll(catalog.user("student"), course)

    # WHEN the admin lowers the capacity below the seats taken THEN the API says no
    form.get_by_label("Seats", exact=True).fill("1")
    form.get_by_role("button", name="Save changes").click()
    expect(admin.locator("#course-form-capacity-error")).to_have_text(
        "must be at least 2, the seats already taken"
    )
    expect(
        admin.get_by_role("alert").filter(
            has_text="2 seats are already taken; the capacity cannot be lower."
        )
    ).to_be_visible()
    expect(form.get_by_label("Seats", exact=True)).to_be_focused()

    # WHEN they raise it instead THEN it is saved
    form.get_by_label("Seats", exact=True).fill("5")
    form.get_by_role("button", name="Save changes").click()
    expect(admin.get_by_role("status").filter(has_text=f"Saved {code}.")).to_be_visible()
    expect(admin.locator("#course-form-capacity-error")).to_be_hidden()

    # AND the public catalog shows the course as saved
    visitor = page_factory()
    visitor.goto(f"/#/catalog?q={token}")
    card = visitor.get_by_role("listitem").filter(has_text=code)
    expect(card).to_contain_text(f"Mon 09:00{EN_DASH}10:30 · Wed 11:00{EN_DASH}12:30")
    expect(card).to_contain_text("$129.50")
    expect(card).to_contain_text("3 seats left of 5")

    # WHEN the admin archives it, after confirming
    form.get_by_role("button", name="Archive course").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Archive {code}?")
    dialog.get_by_role("button", name="Archive course").click()

    # THEN it leaves the public catalog and shows as archived to the admin
    expect(admin.get_by_role("heading", level=1)).to_have_text("Courses")
    expect(admin.get_by_text(f"{code} is archived")).to_be_visible()
    visitor.reload()
    expect(visitor.get_by_text("No course matches these filters.")).to_be_visible()
    expect(visitor.get_by_role("listitem").filter(has_text=code)).to_have_count(0)

    admin.get_by_role("search").get_by_label("Search").fill(code)
    expect(admin.get_by_text("No courses match.")).to_be_visible()
    admin.get_by_label("Show archived courses").check()
    row = admin.locator("tbody tr", has_text=code)
    expect(row).to_contain_text("Archived")
    expect(row.get_by_role("button", name=f"Archive {code}")).to_have_count(0)


def test_archiving_from_the_list_asks_first(page: Page, catalog: CatalogData) -> None:
    course = catalog.course(catalog.user("instructor"), title=f"Mosaic {unique_token()}")
    code = course["code"]
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"/#/admin/courses?q={code}")
    row = page.locator("tbody tr", has_text=code)
    expect(row.get_by_test_id("course-status")).to_contain_text("Open")

    row.get_by_role("button", name=f"Archive {code}").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()

    row.get_by_role("button", name=f"Archive {code}").click()
    page.get_by_role("dialog").get_by_role("button", name="Archive course").click()
    expect(page.get_by_role("status").filter(has_text=f"{code} is archived")).to_be_visible()
    expect(page.locator("tbody tr", has_text=code)).to_have_count(0)
    expect(page.get_by_role("search").get_by_label("Search")).to_be_focused()


def test_the_editor_is_for_administrators_only(page: Page, catalog: CatalogData) -> None:
    teacher = catalog.user("instructor")
    sign_in(page, teacher.username, teacher.password)
    page.goto("/#/admin/courses/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")


def open_editor(page: Page, course: dict[str, Any]) -> None:
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"/#/admin/courses/{course['id']}/edit")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit {course['code']}")


def test_the_editor_shows_and_takes_times_on_the_24_hour_clock(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    # GIVEN a course meeting on Friday evenings, and a browser set to US English
    evening = [
        {"weekday": "friday", "start_time": "18:00", "end_time": "19:30", "location": "Hall"}
    ]
    course = catalog.course(catalog.user("instructor"), title="Evenings", sessions=evening)
    page = page_factory(locale="en-US")
    open_editor(page, course)

    # THEN the editor draws the times as the rest of the portal writes them
    starts = session_row(page, 0).get_by_label("Starts", exact=True)
    ends = session_row(page, 0).get_by_label("Ends", exact=True)
    assert drawn_text(page, starts) == "18:00"
    assert drawn_text(page, ends) == "19:30"

    # WHEN a time is typed the short way THEN it is understood and saved
    starts.fill("9:15")
    ends.fill("10:45")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text=f"Saved {course['code']}.")).to_be_visible()
    expect(starts).to_have_value("09:15")

    # WHEN a time is not one THEN it is pointed out, and nothing is sent
    starts.fill("25:00")
    page.get_by_role("button", name="Save changes").click()
    expect(session_row(page, 0)).to_contain_text("on the 24-hour clock, like 18:00")
    expect(starts).to_have_attribute("aria-invalid", "true")


def test_an_empty_optional_field_is_never_marked_wrong(page: Page, catalog: CatalogData) -> None:
    # GIVEN a new course that started three days ago, its enrollment dates left empty
    teacher = catalog.user("instructor")
    code = unique_code("LATE")
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto("/#/admin/courses/new")
    form = page.locator("#course-form")
    form.get_by_label("Code").fill(code)
    form.get_by_label("Title").fill(f"Late start {unique_token()}")
    form.get_by_label("Instructor").select_option(teacher.id)
    form.get_by_label("Starts on").fill(in_days(-3))
    form.get_by_label("Ends on").fill(in_days(60))
    fill_session(page, 0, "monday", "09:00", "10:30")
    form.get_by_label("Seats", exact=True).fill("5")
    form.get_by_label("Price", exact=True).fill("0")

    # WHEN it is created, enrollment would close (at the start) before it opens (today)
    form.get_by_role("button", name="Create course").click()

    # THEN the empty "Closes on" is not marked; the start date is, saying why
    closes = form.get_by_label("Closes on")
    expect(form.locator("#course-form-starts_on-error")).to_contain_text(
        "With “Closes on” empty, enrollment closes when the course starts"
    )
    expect(form.get_by_label("Starts on")).to_have_attribute("aria-invalid", "true")
    expect(closes).not_to_have_attribute("aria-invalid", "true")
    expect(form.locator("#course-form-enrollment_closes_on-error")).to_be_hidden()
    expect(form.get_by_label("Opens on")).not_to_have_attribute("aria-invalid", "true")

    # AND with a closing date the course is created
    closes.fill(in_days(30))
    form.get_by_role("button", name="Create course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit {code}")


def test_leaving_the_editor_with_unsaved_changes_asks_first(
    page: Page, catalog: CatalogData
) -> None:
    course = catalog.course(catalog.user("instructor"), title=f"Quilting {unique_token()}")
    open_editor(page, course)
    title = page.locator("#course-form").get_by_label("Title")
    courses_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses")

    # WHEN the admin changes the title and follows a link in the app
    title.fill("Quilting for everyone")
    courses_link.click()

    # THEN they are asked first, and may stay with their changes
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Leave without saving?")
    expect(dialog).to_contain_text(f"Your changes to {course['code']} will be lost.")
    dialog.get_by_role("button", name="Stay on this page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit {course['code']}")
    expect(title).to_have_value("Quilting for everyone")

    # WHEN they go back in the browser's history THEN they are asked as well
    page.go_back()
    page.get_by_role("dialog").get_by_role("button", name="Stay on this page").click()
    expect(page).to_have_url(re.compile(f"#/admin/courses/{course['id']}/edit$"))
    expect(title).to_have_value("Quilting for everyone")

    # WHEN they close the tab THEN the browser asks too
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()
    expect(title).to_have_value("Quilting for everyone")

    # WHEN they choose to leave THEN they go, and the course is unchanged
    courses_link.click()
    page.get_by_role("dialog").get_by_role("button", name="Leave page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Courses")

    # AND once saved, leaving asks nothing
    page.goto(f"/#/admin/courses/{course['id']}/edit")
    expect(title).to_have_value(course["title"])
    title.fill("Quilting for everyone")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    courses_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Courses")
    expect(page.get_by_role("dialog")).to_have_count(0)
