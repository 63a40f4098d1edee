"""A bad network, on demand: API calls that fail as if the connection were
down, that wait until the test lets them through, or a payment provider that
cannot be reached."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, Route

API_CALLS = "**/api/**"
CHECKOUT = "**/api/checkout"
# Signing in (and restoring the session) keeps working: the pages are under test.
_SESSION_CALLS = ("/api/auth/refresh", "/api/auth/login")


def _fail_unless_session(route: Route) -> None:
    if route.request.url.endswith(_SESSION_CALLS):
        route.continue_()
    else:
        route.abort("internetdisconnected")


def fail_api_calls(page: Page) -> None:
    """Every API call but signing in fails as if the network were down."""
    page.route(API_CALLS, _fail_unless_session)


def restore_api_calls(page: Page) -> None:
    page.unroute(API_CALLS, _fail_unless_session)


class HeldRequests:
    """Requests to a URL pattern wait until release() lets them through."""

    def __init__(self, page: Page, pattern: str) -> None:
        self._page = page
        self._pattern = pattern
        self.routes: list[Route] = []
        page.route(pattern, self._hold)

    def _hold(self, route: Route) -> None:
        self.routes.append(route)

    def release(self) -> None:
        for route in self.routes:
            route.continue_()
        self.routes.clear()
        self._page.unroute(self._pattern, self._hold)


def provider_down_after_holding(route: Route) -> None:
    """The checkout goes through (the seats are held, the payment written), but
    the answer is what the portal says when Stripe could not be reached."""
    if route.request.method != "POST":
        route.continue_()
        return
    payment: dict[str, Any] = route.fetch().json()["payment"]
    route.fulfill(
        status=502,
        json={
            "error": {
                "code": "payment_provider_unavailable",
                "message": "The payment provider could not be reached. Your seats are held "
                "until then: pay from your payments page.",
                "fields": {"payment_id": payment["id"]},
            }
        },
    )
