"""Builds a Starlette app: the whole portal or one capability alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from functions.auth.service import load_active_user
from lib.config import Settings
from lib.errors import ConfigurationError, PortalError
from lib.http import (
    ANYONE,
    EXCEPTION_HANDLERS,
    BodyLimitMiddleware,
    Call,
    RequestContextMiddleware,
    endpoint,
)
from lib.openapi import build_openapi
from lib.payments.gateway import SIMULATOR_API_KEY, PaymentGateway
from lib.payments.simulator import Simulator
from lib.runtime import Portal

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
VERSION = "0.1.0"
SIMULATOR_TICK_SECONDS = 3


class DatabaseUnavailable(PortalError):
    status_code = 503
    code = "database_unavailable"


@endpoint(ANYONE, summary="200 when the database answers")
async def health(call: Call[None]) -> Response:
    try:
        await call.session.execute(text("SELECT 1"))
    except Exception:
        raise DatabaseUnavailable("The database does not answer.") from None
    return JSONResponse({"status": "ok"})


@endpoint(ANYONE, summary="This OpenAPI document")
async def openapi(call: Call[None]) -> Response:
    # An endpoint like any other, so that every /api route declares who may call it.
    app = call.request.app
    document = app.state.openapi
    if document is None:
        document = build_openapi(app.routes, title="Student Portal API", version=VERSION)
        app.state.openapi = document
    return JSONResponse(document)


def build_app(
    capabilities: Mapping[str, Sequence[BaseRoute]],
    *,
    settings: Settings | None = None,
    portal: Portal | None = None,
    standalone: bool = False,
    serve_static: bool | None = None,
) -> Starlette:
    """Mount each capability at /api/<name>. A standalone capability also answers
    at its own paths, as it does behind an API Gateway route of its own: at
    /<name>/... (a gateway route such as `/auth/{proxy+}`) and at the root (a
    gateway or custom domain that strips that prefix)."""
    if portal is None:
        portal = Portal.build(settings or Settings.from_env())
    portal.load_user = load_active_user
    settings = portal.settings

    routes: list[BaseRoute] = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
    ]
    for name, capability_routes in capabilities.items():
        for route in capability_routes:
            # A capability's own root ("/") also answers without the slash:
            # POST /api/checkout, not /api/checkout/.
            if isinstance(route, Route) and route.path == "/":
                routes.append(Route(f"/api/{name}", route.endpoint, methods=route.methods))
        routes.append(Mount(f"/api/{name}", routes=list(capability_routes)))
    if standalone:
        for name, capability_routes in capabilities.items():
            routes.append(Mount(f"/{name}", routes=list(capability_routes)))
            routes.extend(capability_routes)
    simulator = _payments(portal)
    if simulator is not None:
        routes.append(Mount("/simulator", routes=simulator.routes()))
    if serve_static if serve_static is not None else settings.serve_static:
        routes.append(Mount("/", app=StaticFiles(directory=STATIC_DIR, html=True), name="static"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ticker = None
        if simulator is not None and settings.simulator_auto_deliver:
            ticker = asyncio.create_task(_run_simulator(simulator))
        yield
        if ticker is not None:
            ticker.cancel()
        await portal.dispose()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestContextMiddleware, production=settings.is_production),
            Middleware(
                CORSMiddleware,
                allow_origins=[settings.site_origin],
                allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                allow_credentials=True,
                expose_headers=["Retry-After", "X-Request-ID"],
                max_age=600,
            ),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.state.openapi = None
    if simulator is not None:
        _wire_simulator(portal, simulator, app)
    return app


def _payments(portal: Portal) -> Simulator | None:
    """The Stripe gateway; without a Stripe key, the simulator behind it."""
    settings = portal.settings
    if settings.stripe_secret_key:
        portal.payments = PaymentGateway(
            api_key=settings.stripe_secret_key, api_base=settings.stripe_api_base
        )
        return None
    if settings.stripe_api_base:
        # A Stripe stand-in elsewhere (tests may run one): talk to it over HTTP.
        portal.payments = PaymentGateway(
            api_key=SIMULATOR_API_KEY, api_base=settings.stripe_api_base
        )
        return None
    if settings.is_production:
        raise ConfigurationError("the payment simulator never runs in production")
    if portal.simulator is None:
        portal.simulator = Simulator(
            database_path=settings.simulator_db,
            api_key=SIMULATOR_API_KEY,
            webhook_secret=settings.stripe_webhook_secret,
            public_url=settings.site_origin,
            clock=portal.clock,
            auto_deliver=settings.simulator_auto_deliver,
        )
    return portal.simulator


def _wire_simulator(portal: Portal, simulator: Simulator, app: Starlette) -> None:
    # The simulator lives in this process: the Stripe client reaches it, and it
    # reaches the webhook, through ASGI transports instead of the network.
    transport = httpx.ASGITransport(app=app)
    portal.payments = PaymentGateway(
        api_key=SIMULATOR_API_KEY, api_base="http://portal.internal/simulator", transport=transport
    )

    async def deliver(body: bytes, headers: dict[str, str]) -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.internal") as c:
            response = await c.post("/api/webhooks/stripe", content=body, headers=headers)
            return response.status_code

    simulator.deliver = deliver


async def _run_simulator(simulator: Simulator) -> None:
    # Expiries, bank-debit settlements and undelivered events, every few seconds.
    while True:
        await asyncio.sleep(SIMULATOR_TICK_SECONDS)
        try:
            await simulator.tick()
        except Exception:
            logging.getLogger("portal.simulator").exception("simulator.tick_failed")
