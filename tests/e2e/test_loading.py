"""Loading and failure on every page: a spinner only when a load takes a
moment, and after a network failure a "Retry" that loads the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.network import HeldRequests, fail_api_calls, restore_api_calls
from tests.e2e.support import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    CatalogData,
    PageFactory,
    sign_in,
    unique_token,
)

pytestmark = pytest.mark.e2e

NETWORK_DOWN = "Could not reach the portal"

Check = Callable[[Page], Locator]


def heading(text: str) -> Check:
    return lambda page: page.get_by_role("heading", level=1, name=text)


def text(words: str) -> Check:
    return lambda page: page.get_by_text(words).first


def retry_each_failed_load(page: Page, path: str, loaded: Check) -> None:
    """Opens path with the network down: each load says so and offers Retry;
    with the network back, Retry loads the page."""
    fail_api_calls(page)
    page.goto(f"/#{path}")
    retry = page.get_by_role("button", name="Retry", disabled=False)
    expect(retry.first).to_be_visible()
    expect(page.get_by_test_id("load-error").first).to_contain_text(NETWORK_DOWN)
    restore_api_calls(page)
    while retry.count():
        retry.first.click()
    expect(loaded(page)).to_be_visible()
    expect(page.get_by_test_id("load-error")).to_have_count(0)


def test_every_page_of_a_visitor_and_a_student_offers_retry(
    page_factory: PageFactory, catalog: CatalogData
) -> None:
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Marquetry {unique_token()}", price=2500)
    visitor = page_factory()
    courses: Check = lambda page: page.get_by_role("list", name="Courses")  # noqa: E731
    retry_each_failed_load(visitor, "/catalog", courses)
    retry_each_failed_load(visitor, f"/courses/{course['id']}", heading(course["title"]))

    student = catalog.user("student")
    payment = catalog.checkout(student, [course])["payment"]
    learner = page_factory()
    sign_in(learner, student.username, student.password)
    for path, loaded in [
        ("/my-courses", lambda page: page.get_by_role("region", name=re.compile("Seats held"))),
        ("/cart", lambda page: page.get_by_test_id("cart-empty")),
        ("/payments", lambda page: page.get_by_role("list", name="Payments to make")),
        (f"/payments/{payment['id']}", heading("Payment of $25.00")),
        ("/notifications", text("You have no notifications yet.")),
    ]:
        retry_each_failed_load(learner, path, loaded)


def test_every_page_of_staff_offers_retry(page_factory: PageFactory, catalog: CatalogData) -> None:
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Gilding {unique_token()}")
    instructor = page_factory()
    sign_in(instructor, teacher.username, teacher.password)
    retry_each_failed_load(instructor, "/teaching", text("You teach 1 course"))
    retry_each_failed_load(
        instructor, f"/courses/{course['id']}/roster", heading(f"Roster: {course['code']}")
    )

    admin = page_factory()
    sign_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD)
    for path, loaded in [
        ("/admin/users", lambda page: page.get_by_role("table", name="Users")),
        ("/admin/courses", lambda page: page.get_by_role("table", name="Courses")),
        ("/admin/courses/new", heading("New course")),
        (f"/admin/courses/{course['id']}/edit", heading(f"Edit {course['code']}")),
        ("/admin/payments", text("Showing")),
        ("/admin/deliveries", lambda page: page.get_by_role("region", name="Failed")),
    ]:
        retry_each_failed_load(admin, path, loaded)


def test_a_page_whose_code_did_not_load_offers_retry(page: Page) -> None:
    page.goto("/#/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.route("**/js/pages/catalog.js", lambda route: route.abort("internetdisconnected"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Could not load the page")
    page.unroute("**/js/pages/catalog.js")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Course catalog")


def test_a_page_left_while_its_code_loads_does_not_cover_the_next_one(page: Page) -> None:
    now = datetime.now(UTC)
    page.clock.install(time=now)
    page.clock.pause_at(now + timedelta(seconds=1))
    page.goto("/#/")
    home = page.get_by_role("heading", level=1, name="Welcome to the Student Portal")
    expect(home).to_be_visible()

    # GIVEN the catalog's code is slow to come, and the visitor goes back home meanwhile
    main, nav = page.locator("#main"), page.get_by_role("navigation", name="Main")
    held = HeldRequests(page, "**/js/pages/catalog.js")
    with page.expect_request("**/js/pages/catalog.js"):
        nav.get_by_role("link", name="Catalog").click()
    expect(main).to_have_attribute("aria-busy", "true")
    nav.get_by_role("link", name="Home").click()
    expect(main).not_to_have_attribute("aria-busy", "true")

    # WHEN the moment after which the catalog would have shown its spinner passes
    page.clock.run_for(250)

    # THEN the home page stays, and still does once the catalog's code arrives
    expect(page.get_by_test_id("loading")).to_have_count(0)
    expect(home).to_be_visible()
    held.release()
    page.clock.run_for(250)
    expect(page.get_by_test_id("loading")).to_have_count(0)
    expect(home).to_be_visible()


def test_a_spinner_shows_only_once_a_load_takes_a_moment(page: Page, catalog: CatalogData) -> None:
    course = catalog.course(catalog.user("instructor"), title=f"Veneers {unique_token()}")
    # The browser's clock stands still unless the test moves it.
    now = datetime.now(UTC)
    page.clock.install(time=now)
    page.clock.pause_at(now + timedelta(seconds=1))
    loading = page.get_by_test_id("loading")

    # GIVEN the catalog's courses are slow to come
    held = HeldRequests(page, "**/api/catalog/courses?*")
    with page.expect_request("**/api/catalog/courses?*"):
        page.goto("/#/catalog")
    expect(page.get_by_role("heading", level=1)).to_have_text("Course catalog")

    # THEN nothing flickers during the first moment, then a spinner says what loads
    page.clock.run_for(150)
    expect(loading).to_have_count(0)
    page.clock.run_for(100)
    expect(loading).to_be_visible()
    expect(loading).to_have_text("Loading courses…")

    # WHEN they arrive THEN the spinner gives way to them
    held.release()
    expect(page.get_by_role("list", name="Courses")).to_be_visible()
    expect(loading).to_have_count(0)

    # AND a whole page waiting for its data shows the spinner in its place
    held = HeldRequests(page, f"**/api/catalog/courses/{course['id']}")
    with page.expect_request(f"**/api/catalog/courses/{course['id']}"):
        page.goto(f"/#/courses/{course['id']}")
    page.clock.run_for(250)
    expect(loading).to_have_text("Loading the course…")
    held.release()
    expect(page.get_by_role("heading", level=1)).to_have_text(course["title"])
    expect(loading).to_have_count(0)


def test_the_return_page_says_when_it_never_reached_the_portal(
    page: Page, catalog: CatalogData
) -> None:
    # GIVEN a student back from the payment page, with the network down
    teacher = catalog.user("instructor")
    course = catalog.course(teacher, title=f"Intarsia {unique_token()}", price=900)
    student = catalog.user("student")
    payment = catalog.checkout(student, [course])["payment"]
    # The clock goes in before the page loads: installed later, it cannot clear
    # a timer the page set before (a page's spinner, due 200 ms after its code
    # was asked for), which then covers whatever page is showing.
    page.clock.install()
    sign_in(page, student.username, student.password)
    fail_api_calls(page)
    page.goto(f"/#/payments/{payment['id']}/return")
    state = page.get_by_test_id("payment-state")
    expect(state).to_have_text("Processing your payment…")

    # WHEN it has asked for two minutes without an answer
    page.clock.fast_forward("02:01")

    # THEN it says so instead of promising an e-mail, and Retry asks again
    expect(state).to_have_text("We could not reach the portal to confirm your payment.")
    expect(page.get_by_test_id("load-error")).to_contain_text(NETWORK_DOWN)
    restore_api_calls(page)
    page.get_by_role("button", name="Retry").click()
    expect(state).to_have_text("Processing your payment…")
    expect(page.get_by_test_id("load-error")).to_have_count(0)
