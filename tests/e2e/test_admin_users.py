"""The administrator's users page."""

from __future__ import annotations

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    PageFactory,
    sign_in,
    unique_username,
)

PAGE_SIZE = 20

pytestmark = pytest.mark.e2e


def open_users_page(page: Page) -> None:
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")


def create_user(page: Page, username: str, *, role: str, password: str) -> None:
    page.get_by_text("Create a user").click()
    form = page.locator("#create-user-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Full name").fill("Ingrid Instructor")
    form.get_by_label("E-mail").fill(f"{username}@example.com")
    form.get_by_label("Initial password").fill(password)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Create user").click()


def test_admin_creates_an_instructor_who_can_then_sign_in(page_factory: PageFactory) -> None:
    admin = page_factory()
    username = unique_username("teach")
    password = "instructor-passphrase"

    # GIVEN the admin on the users page WHEN they create an instructor
    open_users_page(admin)
    create_user(admin, username, role="instructor", password=password)

    # THEN the new instructor is in the list
    expect(
        admin.get_by_role("status").filter(has_text=f"Created instructor {username}.")
    ).to_be_visible()
    row = admin.locator("tbody tr", has_text=username)
    expect(row).to_have_count(1)
    expect(row.locator(".role-badge")).to_have_text("Instructor")
    expect(row).to_contain_text("Active")

    # AND searching finds them
    admin.get_by_role("search").get_by_label("Search").fill(username)
    expect(admin.locator("tbody tr")).to_have_count(1)
    expect(admin.locator("tbody tr")).to_contain_text(username)

    # AND they can sign in in another browser
    instructor = page_factory()
    sign_in(instructor, username, password)
    expect(instructor.get_by_test_id("current-username")).to_have_text(username)
    expect(
        instructor.get_by_role("navigation", name="Main").get_by_role("link", name="Users")
    ).to_have_count(0)


def test_admin_changes_a_role_and_deactivates_with_confirmation(page_factory: PageFactory) -> None:
    admin = page_factory()
    username = unique_username("pupil")
    open_users_page(admin)
    create_user(admin, username, role="student", password="student-passphrase")
    row = admin.locator("tbody tr", has_text=username)
    expect(row.locator(".role-badge")).to_have_text("Student")

    # Cancelling the confirmation changes nothing.
    row.get_by_role("button", name=f"Deactivate {username}").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Deactivate {username}?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(row).to_contain_text("Active")

    row.get_by_role("button", name=f"Change role {username}").click()
    dialog = admin.get_by_role("dialog")
    dialog.get_by_label("New role").select_option("instructor")
    dialog.get_by_role("button", name="Change role").click()
    expect(row.locator(".role-badge")).to_have_text("Instructor")
    expect(row.get_by_role("button", name=f"Change role {username}")).to_be_focused()

    row.get_by_role("button", name=f"Deactivate {username}").click()
    admin.get_by_role("dialog").get_by_role("button", name="Deactivate").click()
    expect(row).to_contain_text("Deactivated")
    expect(
        admin.get_by_role("status").filter(has_text=f"{username} has been deactivated.")
    ).to_be_visible()

    # A deactivated account cannot sign in.
    other = page_factory()
    other.goto("/#/login")
    other.get_by_label("Username or e-mail").fill(username)
    other.get_by_label("Password", exact=True).fill("student-passphrase")
    other.get_by_role("button", name="Sign in", exact=True).click()
    expect(other.get_by_role("alert")).not_to_be_empty()
    expect(other.get_by_test_id("current-username")).to_have_count(0)

    row.get_by_role("button", name=f"Reactivate {username}").click()
    admin.get_by_role("dialog").get_by_role("button", name="Reactivate").click()
    expect(row).to_contain_text("Active")

    # Filters narrow the list.
    admin.get_by_role("search").get_by_label("Search").fill(username)
    admin.get_by_role("search").get_by_label("Role").select_option("student")
    expect(admin.get_by_text("No users match.")).to_be_visible()
    admin.get_by_role("search").get_by_label("Role").select_option("instructor")
    expect(admin.locator("tbody tr")).to_have_count(1)


def test_the_admin_cannot_act_on_their_own_account(page: Page) -> None:
    open_users_page(page)
    page.get_by_role("search").get_by_label("Search").fill(ADMIN_USERNAME)
    own_row = page.locator(f'tbody tr[data-username="{ADMIN_USERNAME}"]')
    expect(own_row).to_contain_text("This is you")
    expect(own_row.get_by_role("button")).to_have_count(0)


def test_load_more_pages_through_the_list_with_the_cursor(
    page: Page, admin_api: APIRequestContext
) -> None:
    prefix = unique_username("many")
    for number in range(PAGE_SIZE + 5):
        created = admin_api.post(
            "/api/auth/users",
            data={
                "username": f"{prefix}{number:02d}",
                "email": f"{prefix}{number:02d}@example.com",
                "full_name": f"Student {number}",
                "password": "student-passphrase",
                "role": "student",
            },
        )
        assert created.status == 201, created.text()

    open_users_page(page)
    page.get_by_role("search").get_by_label("Search").fill(prefix)
    rows = page.locator("tbody tr")
    expect(rows.filter(has_text=prefix)).to_have_count(PAGE_SIZE)
    expect(rows).to_have_count(PAGE_SIZE)
    load_more = page.get_by_role("button", name="Load more")
    load_more.click()
    expect(rows).to_have_count(PAGE_SIZE + 5)
    expect(load_more).to_be_hidden()
    usernames = rows.evaluate_all("rows => rows.map(row => row.dataset.username)")
    assert sorted(usernames) == [f"{prefix}{number:02d}" for number in range(PAGE_SIZE + 5)]


def test_admin_confirms_an_address_for_a_student_who_never_got_the_email(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student who signed up and never confirmed their address
    student = catalog.register_student(verified=False)

    # WHEN the administrator finds them
    open_users_page(page)
    page.get_by_role("search").get_by_label("Search").fill(student.username)
    row = page.locator("tbody tr", has_text=student.username)
    expect(row).to_have_count(1)

    # THEN the address is marked as not confirmed
    expect(row.get_by_test_id("email-unconfirmed")).to_have_text("Not confirmed")

    # WHEN they confirm it, after a question
    row.get_by_role("button", name=f"Confirm e-mail {student.username}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Confirm {student.username}@example.com?")
    dialog.get_by_role("button", name="Confirm e-mail").click()

    # THEN it is confirmed, and the student may pay
    expect(page.get_by_role("status").filter(has_text="can pay for courses now")).to_be_visible()
    expect(row.get_by_test_id("email-unconfirmed")).to_have_count(0)
    expect(row.get_by_role("button", name=f"Confirm e-mail {student.username}")).to_have_count(0)
    me = catalog.as_user(student).get("/api/auth/me").json()["user"]
    assert me["email_verified"] is True
