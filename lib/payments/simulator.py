"""A local stand-in for the part of Stripe's HTTP API the portal calls:
Checkout Sessions (create, retrieve, expire) and refunds, a hosted test
checkout page, and signed webhook events sent to the portal's webhook.

The official `stripe` client talks to it exactly as to Stripe. It keeps its
state in a SQLite file of its own, so every server process sees the same
sessions, and it never runs in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from lib.clock import Clock
from lib.db import create_engine, create_sessionmaker
from lib.payments.signing import sign
from lib.payments.simulator_page import CSS, checkout_page, page, refusal_of
from lib.payments.simulator_state import SimBase, SimEvent, SimIdempotency, SimSession
from lib.payments.stripe_wire import (
    StripeApiError,
    form_pairs,
    line_items,
    parse_form,
    public,
    stripe_error,
)

log = logging.getLogger("portal.simulator")

SETTLE_AFTER_SECONDS = 60
API_VERSION = "2025-01-27.acacia"

Deliver = Callable[[bytes, dict[str, str]], Awaitable[int]]
__all__ = ["Simulator", "StripeApiError", "parse_form"]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Simulator:
    def __init__(
        self,
        *,
        database_path: Path,
        api_key: str,
        webhook_secret: str,
        public_url: str,
        clock: Clock,
        deliver: Deliver | None = None,
        auto_deliver: bool = True,
    ) -> None:
        database_path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = create_engine(f"sqlite:///{database_path}")
        self._sessions: async_sessionmaker[AsyncSession] = create_sessionmaker(self._engine)
        self._ready = False
        self._lock = asyncio.Lock()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.auto_deliver = auto_deliver
        # Where signed events go: the portal's webhook, given when built.
        self._deliver = deliver
        self._tasks: set[asyncio.Task[None]] = set()

    async def _ensure(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                async with self._engine.begin() as conn:
                    await conn.run_sync(SimBase.metadata.create_all)
                self._ready = True

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._engine.dispose()

    # --- the API --------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("/v1/checkout/sessions", self._api(self._create_session), methods=["POST"]),
            Route("/v1/checkout/sessions/{id}", self._api(self._retrieve), methods=["GET"]),
            Route("/v1/checkout/sessions/{id}/expire", self._api(self._expire), methods=["POST"]),
            Route("/v1/refunds", self._api(self._refund), methods=["POST"]),
            Route("/checkout/{id}", self._page, methods=["GET"]),
            Route("/checkout/{id}/pay", self._pay, methods=["POST"]),
            Route("/checkout.css", self._css, methods=["GET"]),
        ]

    def _api(
        self, handler: Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            await self._ensure()
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return stripe_error(StripeApiError(401, "Invalid API Key provided."))
            key = request.headers.get("idempotency-key")
            if key and request.method == "POST":
                async with self._sessions() as session:
                    stored = await session.get(SimIdempotency, key)
                    if stored is not None:
                        return Response(
                            stored.body, status_code=stored.status, media_type="application/json"
                        )
            form = parse_form(await form_pairs(request))
            try:
                body = await handler(request, form)
                status = 200
            except StripeApiError as exc:
                return stripe_error(exc)
            text = json.dumps(body)
            if key and request.method == "POST":
                async with self._sessions() as session:
                    if await session.get(SimIdempotency, key) is None:
                        session.add(SimIdempotency(key=key, status=status, body=text))
                        await session.commit()
            return Response(text, status_code=status, media_type="application/json")

        return run

    async def _create_session(self, request: Request, form: dict[str, Any]) -> dict[str, Any]:
        items = line_items(form.get("line_items") or [])
        currency = items[0]["currency"]
        total = sum(int(item["amount_total"]) for item in items)
        now = self._now()
        expires_at = int(form.get("expires_at") or now + 24 * 3600)
        if not now + 1800 - 5 <= expires_at <= now + 24 * 3600 + 5:
            raise StripeApiError(400, "expires_at must be between 30 minutes and 24 hours from now")
        session_id = _new_id("cs_test")
        data = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "amount_subtotal": total,
            "currency": currency,
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.get("metadata") or {},
            "customer_email": form.get("customer_email"),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "expires_at": expires_at,
            "created": now,
            "payment_intent": None,
            "livemode": False,
            "url": f"{self.public_url}/simulator/checkout/{session_id}",
            "line_items": {"object": "list", "data": items},
            "payment_intent_metadata": (form.get("payment_intent_data") or {}).get("metadata")
            or {},
        }
        async with self._sessions() as session:
            session.add(SimSession(id=session_id, data=data))
            await session.commit()
        return public(data)

    async def _retrieve(self, request: Request, form: dict[str, Any]) -> dict[str, Any]:
        async with self._sessions() as session:
            stored = await session.get(SimSession, request.path_params["id"])
            if stored is None:
                raise StripeApiError(404, "No such checkout.session", code="resource_missing")
            return public(stored.data)

    async def _expire(self, request: Request, form: dict[str, Any]) -> dict[str, Any]:
        async with self._sessions() as session:
            stored = await session.get(SimSession, request.path_params["id"])
            if stored is None:
                raise StripeApiError(404, "No such checkout.session", code="resource_missing")
            if stored.data["status"] != "open":
                raise StripeApiError(
                    400, "Only Checkout Sessions with a status of open can be expired."
                )
            data = {**stored.data, "status": "expired"}
            stored.data = data
            await self._event(session, "checkout.session.expired", public(data))
            await session.commit()
        self._kick()
        return public(data)

    async def _refund(self, request: Request, form: dict[str, Any]) -> dict[str, Any]:
        intent = form.get("payment_intent")
        async with self._sessions() as session:
            result = await session.execute(select(SimSession))
            found = next(
                (s for s in result.scalars() if s.data.get("payment_intent") == intent), None
            )
            if found is None or found.data.get("payment_status") != "paid":
                raise StripeApiError(404, "No such payment_intent", code="resource_missing")
            data = dict(found.data)
            total = int(data["amount_total"])
            already = int(data.get("amount_refunded", 0))
            amount = int(form.get("amount") or total - already)
            if amount <= 0 or already + amount > total:
                raise StripeApiError(
                    400, "Refund amount exceeds the charge", code="amount_too_large"
                )
            data["amount_refunded"] = already + amount
            found.data = data
            refund = {
                "id": _new_id("re_test"),
                "object": "refund",
                "amount": amount,
                "currency": data["currency"],
                "payment_intent": intent,
                "status": "succeeded",
                "metadata": form.get("metadata") or {},
            }
            charge = {
                "id": data.get("charge_id"),
                "object": "charge",
                "payment_intent": intent,
                "amount": total,
                "amount_refunded": already + amount,
                "currency": data["currency"],
                "refunded": already + amount >= total,
                "metadata": data.get("payment_intent_metadata") or {},
            }
            await self._event(session, "charge.refunded", charge)
            await session.commit()
        self._kick()
        return refund

    # --- the hosted page ------------------------------------------------------------

    async def _css(self, request: Request) -> Response:
        return Response(CSS, media_type="text/css")

    async def _page(self, request: Request) -> Response:
        await self._ensure()
        async with self._sessions() as session:
            stored = await session.get(SimSession, request.path_params["id"])
        if stored is None:
            return HTMLResponse(page("Checkout not found", "<p>No such checkout.</p>"), 404)
        return HTMLResponse(checkout_page(stored.data, error=None))

    async def _pay(self, request: Request) -> Response:
        await self._ensure()
        form = dict(await form_pairs(request))
        method = form.get("method", "card")
        card = re.sub(r"\D", "", form.get("card_number", ""))
        async with self._sessions() as session:
            stored = await session.get(SimSession, request.path_params["id"])
            if stored is None:
                return HTMLResponse(page("Checkout not found", "<p>No such checkout.</p>"), 404)
            data = dict(stored.data)
            if data["status"] != "open" or data["expires_at"] <= self._now():
                return HTMLResponse(
                    checkout_page(data, error="This checkout is no longer open."), 410
                )
            refusal = refusal_of(method, card)
            if refusal is not None:
                return HTMLResponse(checkout_page(data, error=refusal[0]), refusal[1])
            payment_status = "paid" if method == "card" else "unpaid"
            if method != "card":
                stored.settle_at = self._now() + SETTLE_AFTER_SECONDS
                stored.settle_outcome = "failed" if method == "bank_debit_fail" else "succeeded"
            data.update(
                status="complete",
                payment_status=payment_status,
                payment_intent=_new_id("pi_test"),
                charge_id=_new_id("ch_test"),
            )
            stored.data = data
            await self._event(session, "checkout.session.completed", public(data))
            await session.commit()
        self._kick()
        success = str(data.get("success_url") or "/")
        return RedirectResponse(success.replace("{CHECKOUT_SESSION_ID}", data["id"]), 303)

    # --- events -------------------------------------------------------------------

    async def _event(self, session: AsyncSession, kind: str, obj: dict[str, Any]) -> None:
        event_id = _new_id("evt_test")
        payload = {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "type": kind,
            "created": self._now(),
            "livemode": False,
            "data": {"object": obj},
        }
        session.add(
            SimEvent(
                id=event_id, type=kind, payload=json.dumps(payload), created=self._now(), attempts=0
            )
        )

    def _kick(self) -> None:
        if not self.auto_deliver:
            return
        task = asyncio.get_running_loop().create_task(self._deliver_quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_quietly(self) -> None:
        try:
            await self.deliver_pending()
        except Exception:
            log.exception("simulator.deliver_failed")

    async def tick(self) -> None:
        """Expire sessions past their time, settle bank debits, deliver events."""
        await self._ensure()
        now = self._now()
        async with self._sessions() as session:
            for stored in (await session.execute(select(SimSession))).scalars():
                data = dict(stored.data)
                if data["status"] == "open" and data["expires_at"] <= now:
                    data["status"] = "expired"
                    stored.data = data
                    await self._event(session, "checkout.session.expired", public(data))
                elif stored.settle_at is not None and stored.settle_at <= now:
                    succeeded = stored.settle_outcome == "succeeded"
                    data["payment_status"] = "paid" if succeeded else "unpaid"
                    stored.data = data
                    stored.settle_at = None
                    kind = "succeeded" if succeeded else "failed"
                    await self._event(
                        session, f"checkout.session.async_payment_{kind}", public(data)
                    )
            await session.commit()
        await self.deliver_pending()

    async def deliver_pending(self) -> int:
        """Send every undelivered event, oldest first; returns how many landed."""
        await self._ensure()
        if self._deliver is None:
            return 0
        delivered = 0
        async with self._sessions() as session:
            pending = (
                (
                    await session.execute(
                        select(SimEvent)
                        .where(SimEvent.delivered_at.is_(None))
                        .order_by(SimEvent.created)
                    )
                )
                .scalars()
                .all()
            )
        for event in pending:
            body = event.payload.encode()
            header = sign(body, self.webhook_secret, timestamp=self._now())
            status = await self._deliver(
                body, {"Stripe-Signature": header, "Content-Type": "application/json"}
            )
            async with self._sessions() as session:
                values: dict[str, Any] = {"attempts": SimEvent.attempts + 1}
                if 200 <= status < 300:
                    values["delivered_at"] = self._now()
                    delivered += 1
                await session.execute(
                    update(SimEvent).where(SimEvent.id == event.id).values(**values)
                )
                await session.commit()
        return delivered

    async def events(self) -> list[dict[str, Any]]:
        """Every event sent or waiting, oldest first (for tests and debugging)."""
        await self._ensure()
        async with self._sessions() as session:
            rows = (await session.execute(select(SimEvent).order_by(SimEvent.created))).scalars()
            return [json.loads(row.payload) for row in rows]
