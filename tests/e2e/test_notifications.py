"""The notification bell, the notifications page, and failed e-mail for
administrators."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from functions.messages.service import MAX_ATTEMPTS
from tests.e2e.conftest import Server
from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    register,
    sign_in,
    unique_token,
    unique_username,
    wait_until_paid,
)
from tests.ports import free_port

pytestmark = pytest.mark.e2e


def fail_every_delivery_to(server: Server, recipient_id: str) -> None:
    """Sends the recipient's queued e-mail to a mail server that refuses every
    connection until the portal gives up on it (MAX_ATTEMPTS tries)."""
    nowhere = f"smtp://127.0.0.1:{free_port()}"
    database = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    for _ in range(MAX_ATTEMPTS):
        server.run("run-job", "notifications.deliver", SMTP_URL=nowhere)
        # The retries back off for minutes: the test brings the next one forward.
        with closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(
                "UPDATE outbox_messages SET next_attempt_at = created_at "
                "WHERE recipient_id = ? AND status = 'pending'",
                (recipient_id,),
            )


def bell(page: Page) -> Locator:
    return page.get_by_test_id("notification-bell")


def notices(page: Page) -> Locator:
    return page.get_by_role("list", name="Notifications").get_by_role("listitem")


def test_a_new_student_reads_notifications_and_follows_them(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student who just signed up (a welcome) and then paid (a confirmation)
    username = unique_username("bell")
    register(page, username, full_name="Grace Bell")
    expect(page.get_by_test_id("current-username")).to_have_text(username)
    expect(bell(page)).to_have_attribute("aria-label", "Notifications, 1 unread")
    expect(bell(page)).to_have_text("1")

    course = catalog.course(
        catalog.user("instructor"), title=f"Felting {unique_token()}", price=500
    )
    account = catalog.account(username)
    payment = catalog.paid_payment(account, [course])
    wait_until_paid(page, payment)
    expect(bell(page)).to_have_attribute("aria-label", "Notifications, 2 unread")

    # WHEN they open the notifications
    bell(page).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(bell(page)).to_have_attribute("aria-current", "page")
    expect(notices(page)).to_have_count(2)
    newest, welcome = notices(page).nth(0), notices(page).nth(1)
    expect(newest).to_contain_text("Payment received: you are enrolled")
    expect(welcome).to_contain_text("Welcome to the Student Portal")
    expect(page.locator(".notice.is-unread")).to_have_count(2)

    # WHEN they mark the welcome read THEN one is left unread
    welcome.get_by_role("button", name="Mark as read Welcome to the Student Portal").click()
    expect(welcome).not_to_contain_text("Unread")
    expect(welcome.get_by_role("heading")).to_be_focused()
    expect(bell(page)).to_have_attribute("aria-label", "Notifications, 1 unread")

    # AND "Unread only" shows just the confirmation
    page.get_by_label("Show").select_option("unread")
    expect(notices(page)).to_have_count(1)
    expect(notices(page)).to_contain_text("Payment received")

    # WHEN they mark all read THEN nothing is unread, here or on the bell
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("You have no unread notifications.")).to_be_visible()
    expect(bell(page)).to_have_attribute("aria-label", "Notifications")
    expect(page.get_by_role("button", name="Mark all read")).to_be_hidden()

    # AND a notification's link opens its page in the app
    page.get_by_label("Show").select_option("all")
    notices(page).filter(has_text="Welcome").get_by_role(
        "link", name="Welcome to the Student Portal"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Course catalog")


def test_an_administrator_sends_failed_email_again(
    page: Page, catalog: CatalogData, server: Server
) -> None:
    # GIVEN a welcome e-mail that could not be sent (the mail server refused it every time)
    student = catalog.register_student(full_name=f"Mail {unique_token()}")
    fail_every_delivery_to(server, student.id)

    # WHEN an administrator opens the e-mail page
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="E-mail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("E-mail deliveries")
    expect(page.get_by_label("Show")).to_have_value("attention")

    # THEN the student's welcome is among the failed ones, with its error
    failed = page.get_by_role("region", name="Failed")
    row = failed.locator("tbody tr").filter(has_text=student.full_name)
    expect(row).to_contain_text("Welcome")
    expect(row).to_contain_text("Connection refused")

    # WHEN they send it again THEN it waits to be sent
    row.get_by_role("button", name="Retry Welcome e-mail").click()
    expect(row.get_by_test_id("retried")).to_be_focused()
    expect(
        page.get_by_role("status").filter(
            has_text=f"The welcome e-mail to {student.full_name} is queued to be sent again."
        )
    ).to_be_visible()
    page.get_by_label("Show").select_option("pending")
    expect(page.locator("tbody tr").filter(has_text=student.full_name)).to_contain_text("Welcome")


def test_the_email_page_shows_what_needs_attention_first(
    page: Page, catalog: CatalogData, server: Server
) -> None:
    # GIVEN a welcome that failed, and one still queued (no scheduler runs here)
    token = unique_token()
    failed = catalog.register_student(full_name=f"Failed {token}")
    fail_every_delivery_to(server, failed.id)
    stuck = catalog.register_student(full_name=f"Stuck {token}")

    # WHEN an administrator opens the e-mail page ten minutes later
    page.clock.install(time=datetime.now(UTC) + timedelta(minutes=10))
    sign_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="E-mail").click()

    # THEN, without choosing anything, the failed one shows with its error
    failed_row = page.locator("tbody tr").filter(has_text=failed.full_name)
    expect(failed_row).to_contain_text("Connection refused")

    # AND the stuck one shows as late, with the likely cause; no error, no "None"
    stuck_row = page.locator("tbody tr").filter(has_text=stuck.full_name)
    expect(stuck_row).to_contain_text("Welcome")
    expect(stuck_row).to_contain_text("Late")
    expect(stuck_row.locator("td[data-label='Last error']")).to_have_text("")
    queue = page.get_by_role("region", name="Waiting in the queue")
    expect(queue.get_by_test_id("late-note")).to_contain_text("scheduler")

    # AND the queue alone says nothing about an error either
    page.get_by_label("Show").select_option("pending")
    expect(stuck_row).to_be_visible()
    expect(stuck_row).not_to_contain_text("None")
