"""Builds a Starlette app over a built portal: the whole portal or one capability alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from sqlalchemy import literal, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from lib.config import Settings
from lib.errors import ConfigurationError, PortalError
from lib.http import ANYONE, EXCEPTION_HANDLERS, Call, endpoint
from lib.middleware import BodyLimitMiddleware, ProxyHeadersMiddleware, RequestContextMiddleware
from lib.openapi import build_openapi
from lib.payments.simulator import Simulator
from lib.runtime import Portal

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
VERSION = "0.1.0"
SIMULATOR_TICK_SECONDS = 3


class DatabaseUnavailable(PortalError):
    status_code = 503
    code = "database_unavailable"


_ONE = select(literal(1))


@endpoint(ANYONE, summary="200 when the database answers")
async def health(call: Call[None]) -> Response:
    try:
        await call.portal.reads.scalar(_ONE)
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
    portal: Portal,
    standalone: bool = False,
    serve_static: bool | None = None,
) -> Starlette:
    """Mount each capability at /api/<name>. A standalone capability also answers
    at its own paths, as it does behind an API Gateway route of its own: at
    /<name>/... (a gateway route such as `/auth/{proxy+}`) and at the root (a
    gateway or custom domain that strips that prefix)."""
    settings = portal.settings
    routes: list[BaseRoute] = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
    ]
    for name, capability_routes in capabilities.items():
        routes.extend(_api_routes(name, capability_routes))
    if standalone:
        for name, capability_routes in capabilities.items():
            routes.append(Mount(f"/{name}", routes=list(capability_routes)))
            routes.extend(capability_routes)
    if portal.simulator is not None:
        # The hosted test-checkout page the browser is sent to.
        routes.append(Mount("/simulator", routes=portal.simulator.routes()))
    if serve_static if serve_static is not None else settings.serve_static:
        routes.append(Mount("/", app=_static_files(), name="static"))

    app = Starlette(
        routes=routes,
        middleware=_middleware(settings),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=_lifespan(portal),
    )
    app.state.portal = portal
    app.state.openapi = None
    return app


def _api_routes(name: str, capability_routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    # A capability's own root answers at /api/<name> (POST /api/checkout), once:
    # registered again inside the mount it would also be /api/<name>/.
    roots = [r for r in capability_routes if isinstance(r, Route) and r.path == "/"]
    rest = [r for r in capability_routes if r not in roots]
    return [
        *(Route(f"/api/{name}", root.endpoint, methods=root.methods) for root in roots),
        Mount(f"/api/{name}", routes=rest),
    ]


def _static_files() -> StaticFiles:
    if not STATIC_DIR.is_dir():
        # An install without the repository (`pip install .`) has no web app to
        # serve; the static site serves it instead.
        raise ConfigurationError(
            f"the web app's folder {STATIC_DIR} does not exist: set PORTAL_SERVE_STATIC=0 "
            "and serve static/ from the repository as a static site"
        )
    return StaticFiles(directory=STATIC_DIR, html=True)


def _middleware(settings: Settings) -> list[Middleware]:
    return [
        # Outermost: every later layer (HTTPS redirect, logs, throttles) sees the
        # client and scheme the trusted proxies saw.
        Middleware(ProxyHeadersMiddleware, trusted_hops=settings.trusted_proxy_hops),
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
    ]


def _lifespan(portal: Portal) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        simulator = portal.simulator
        ticker = None
        if simulator is not None and portal.settings.simulator_auto_deliver:
            ticker = asyncio.create_task(_run_simulator(simulator))
        yield
        if ticker is not None:
            ticker.cancel()
        await portal.dispose()

    return lifespan


async def _run_simulator(simulator: Simulator) -> None:
    # Expiries, bank-debit settlements and undelivered events, every few seconds.
    while True:
        await asyncio.sleep(SIMULATOR_TICK_SECONDS)
        try:
            await simulator.tick()
        except Exception:
            logging.getLogger("portal.simulator").exception("simulator.tick_failed")
