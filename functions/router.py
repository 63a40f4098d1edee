"""The thin router: every capability under /api/<name>, plus health, OpenAPI and
the static web app at / when serving locally."""

from __future__ import annotations

from starlette.applications import Starlette

from functions.asgi import build_app
from functions.auth.routes import routes as auth_routes
from functions.catalog.routes import routes as catalog_routes
from functions.checkout.routes import routes as checkout_routes
from functions.messages.routes import routes as message_routes
from functions.runtime import build_portal
from functions.webhooks.routes import routes as webhook_routes
from lib.config import Settings
from lib.runtime import Portal

CAPABILITIES = {
    "auth": auth_routes,
    "catalog": catalog_routes,
    "checkout": checkout_routes,
    "messages": message_routes,
    "webhooks": webhook_routes,
}


def create_app(settings: Settings | None = None, *, portal: Portal | None = None) -> Starlette:
    """The whole portal; `portal serve` calls this with nothing (settings from the
    environment), tests pass a portal of their own."""
    return build_app(CAPABILITIES, portal=portal or build_portal(settings))
