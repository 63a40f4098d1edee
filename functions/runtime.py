"""The one place that wires a running portal: settings, database, clock,
passwords, tokens, throttle, payments (Stripe, or the local simulator), mail and
the user loader.

The web app (functions.asgi), the scheduler, the CLI and each Lambda function
call `build_portal` and build only what they use on top of it: none of them
needs Starlette's web app to get a payment gateway, and nothing changes the
portal once it is built."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Mount

from functions.auth.service import load_active_user
from functions.webhooks.routes import routes as webhook_routes
from lib.caching import PageCache, VersionClock, VersionedPages, forget_on_commit, version_reader
from lib.clock import Clock, SystemClock
from lib.config import Settings
from lib.db import create_engine, create_read_engine, create_sessionmaker
from lib.errors import ConfigurationError
from lib.fastreads import FAST_READS_KEY, Reads
from lib.http import EXCEPTION_HANDLERS
from lib.mail import Mailer, create_mailer
from lib.payments.gateway import SIMULATOR_API_KEY, PaymentGateway
from lib.payments.simulator import Deliver, Simulator
from lib.runtime import Portal
from lib.security import AccessTokens, PasswordHashing
from lib.throttle import create_throttle

# In-process addresses: these requests never leave the process.
SIMULATOR_BASE = "http://simulator.internal/simulator"
PORTAL_BASE = "http://portal.internal"
WEBHOOK_PATH = "/api/webhooks/stripe"


def build_portal(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    deliver_webhook: Deliver | None = None,
) -> Portal:
    """Everything a portal process runs on. `mailer` and `deliver_webhook` (where
    the simulator sends its events) replace the configured ones, for tests."""
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()

    async def deliver_here(body: bytes, headers: dict[str, str]) -> int:
        # Resolved when an event is delivered, by then `portal` below is built:
        # the simulator's events reach this process's own webhook handling,
        # in the API and in the scheduler alike.
        return await post_to_webhook(portal, body, headers)

    payments, simulator = _payments(settings, clock, deliver_webhook or deliver_here)
    engine = create_engine(settings.database_url)
    read_engine = create_read_engine(engine)
    sessions = create_sessionmaker(engine)
    reads = Reads(read_engine)
    read_sessions = create_sessionmaker(read_engine, read_only=True, info={FAST_READS_KEY: reads})
    portal = Portal(
        settings=settings,
        engine=engine,
        sessions=sessions,
        read_sessions=read_sessions,
        passwords=PasswordHashing(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        ),
        tokens=AccessTokens(
            settings.secret_key, ttl=timedelta(seconds=settings.access_token_ttl_seconds)
        ),
        throttle=create_throttle(settings, sessions),
        clock=clock,
        payments=payments,
        mailer=mailer or create_mailer(settings.smtp_url, settings.mail_dir),
        load_user=load_active_user,
        reads=reads,
        simulator=simulator,
        caches={"catalog": _catalog_pages(settings, engine, reads)},
        read_engine=read_engine,
    )
    return portal


def _catalog_pages(settings: Settings, engine: AsyncEngine, reads: Reads) -> VersionedPages:
    clock = VersionClock(version_reader(reads), ttl_seconds=settings.catalog_version_ttl_ms / 1000)
    forget_on_commit(engine, clock)
    pages: PageCache[object, Any] = PageCache(
        max_entries=settings.page_cache_entries, max_bytes=settings.page_cache_bytes
    )
    return VersionedPages(clock, pages)


def _payments(
    settings: Settings, clock: Clock, deliver: Deliver
) -> tuple[PaymentGateway, Simulator | None]:
    """The Stripe gateway; without a Stripe key, the simulator behind it."""
    if settings.stripe_secret_key:
        gateway = PaymentGateway(
            api_key=settings.stripe_secret_key, api_base=settings.stripe_api_base
        )
        return gateway, None
    if settings.stripe_api_base:
        # A Stripe stand-in elsewhere (tests may run one): talk to it over HTTP.
        return PaymentGateway(api_key=SIMULATOR_API_KEY, api_base=settings.stripe_api_base), None
    if settings.is_production:
        raise ConfigurationError("the payment simulator never runs in production")
    simulator = Simulator(
        database_path=settings.simulator_db,
        api_key=SIMULATOR_API_KEY,
        webhook_secret=settings.stripe_webhook_secret,
        public_url=settings.site_origin,
        clock=clock,
        deliver=deliver,
        auto_deliver=settings.simulator_auto_deliver,
    )
    # The official Stripe client reaches the simulator's API in process, through
    # an ASGI transport to an app of the simulator's own routes.
    simulator_api = Starlette(routes=[Mount("/simulator", routes=simulator.routes())])
    gateway = PaymentGateway(
        api_key=SIMULATOR_API_KEY,
        api_base=SIMULATOR_BASE,
        transport=httpx.ASGITransport(app=simulator_api),
    )
    return gateway, simulator


async def post_to_webhook(portal: Portal, body: bytes, headers: dict[str, str]) -> int:
    """POST one signed event to the webhook endpoint of this process, through an
    app of the webhook routes alone; answers the HTTP status, as Stripe sees it."""
    app = Starlette(
        routes=[Mount("/api/webhooks", routes=webhook_routes)],
        exception_handlers=dict(EXCEPTION_HANDLERS),
    )
    app.state.portal = portal
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PORTAL_BASE) as client:
        response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    return response.status_code
