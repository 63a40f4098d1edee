"""The payment simulator, driven by the official `stripe` client through our
gateway: Checkout Sessions, expiry, refunds, the hosted test page and the
signed events it sends. No portal database is involved: the simulator runs
alone in a tiny Starlette app, and the test catches what it delivers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.config import Settings
from lib.errors import ConfigurationError
from lib.payments.gateway import LineItem, PaymentGateway, PaymentProviderError
from lib.payments.signing import verify
from lib.payments.simulator import Simulator, parse_form

API_KEY = "sk_test_simulator_under_test"
SECRET = "whsec_simulator_under_test"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Caught:
    """What the simulator sent to the 'webhook', and what the webhook answers."""

    clock: FrozenClock
    events: list[dict[str, Any]] = field(default_factory=list)
    answer: int = 200

    async def deliver(self, body: bytes, headers: dict[str, str]) -> int:
        # Signed with the webhook secret at the moment of sending.
        verify(body, headers["Stripe-Signature"], SECRET, now=self.clock.now())
        if self.answer < 300:
            self.events.append(json.loads(body))
        return self.answer

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@dataclass
class Rig:
    simulator: Simulator
    gateway: PaymentGateway
    browser: httpx.AsyncClient
    clock: FrozenClock
    caught: Caught

    async def session(self, *lines: int, payment_id: str = "pay_1", key: str = "k1") -> Any:
        return await self.gateway.create_checkout_session(
            payment_id=payment_id,
            lines=[LineItem(f"Course {n}", amount, "usd") for n, amount in enumerate(lines)],
            customer_email="student@example.com",
            success_url="http://site/return?session_id={CHECKOUT_SESSION_ID}",
            cancel_url="http://site/cancel",
            expires_at=self.clock.now() + timedelta(minutes=30),
            idempotency_key=key,
        )

    async def pay(self, session_id: str, method: str = "card", card: str = "") -> httpx.Response:
        return await self.browser.post(
            f"/simulator/checkout/{session_id}/pay", data={"method": method, "card_number": card}
        )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FrozenClock(START)
    caught = Caught(clock)
    simulator = Simulator(
        database_path=tmp_path / "sim.db",
        api_key=API_KEY,
        webhook_secret=SECRET,
        public_url="http://site",
        clock=clock,
        deliver=caught.deliver,
        auto_deliver=False,
    )
    app = Starlette(routes=[Mount("/simulator", routes=simulator.routes())])
    transport = httpx.ASGITransport(app=app)
    gateway = PaymentGateway(
        api_key=API_KEY, api_base="http://sim.internal/simulator", transport=transport
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://site") as browser:
        yield Rig(simulator, gateway, browser, clock, caught)
    await simulator.close()


def test_stripe_form_encoding_becomes_nested_data() -> None:
    pairs = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][unit_amount]", "500"),
        ("line_items[1][price_data][unit_amount]", "700"),
        ("metadata[payment_id]", "pay_1"),
    ]
    assert parse_form(pairs) == {
        "mode": "payment",
        "line_items": [
            {"quantity": "1", "price_data": {"unit_amount": "500"}},
            {"price_data": {"unit_amount": "700"}},
        ],
        "metadata": {"payment_id": "pay_1"},
    }


async def test_a_session_is_created_and_retrieved_as_stripe_would(rig: Rig) -> None:
    created = await rig.session(12900, 4900)
    fetched = await rig.gateway.retrieve_session(created.id)
    assert fetched == created
    assert created.id.startswith("cs_test_")
    assert created.url == f"http://site/simulator/checkout/{created.id}"
    assert (created.status, created.payment_status) == ("open", "unpaid")
    assert (created.amount_total, created.currency) == (17800, "usd")
    assert created.metadata == {"payment_id": "pay_1"}
    assert created.client_reference_id == "pay_1"
    assert created.customer_email == "student@example.com"
    assert created.expires_at == START + timedelta(minutes=30)


async def test_the_same_idempotency_key_returns_the_same_session(rig: Rig) -> None:
    first = await rig.session(5000, key="same")
    again = await rig.session(5000, key="same")
    other = await rig.session(5000, key="other")
    assert again.id == first.id
    assert other.id != first.id


async def test_a_wrong_api_key_is_refused(rig: Rig, tmp_path: Path) -> None:
    app = Starlette(routes=[Mount("/simulator", routes=rig.simulator.routes())])
    stranger = PaymentGateway(
        api_key="sk_test_wrong",
        api_base="http://sim.internal/simulator",
        transport=httpx.ASGITransport(app=app),
    )
    with pytest.raises(PaymentProviderError) as refused:
        await stranger.retrieve_session("cs_test_any")
    assert refused.value.status_code == 502


@pytest.mark.parametrize("minutes", [29, 24 * 60 + 1])
async def test_an_expiry_outside_stripes_limits_is_refused(rig: Rig, minutes: int) -> None:
    with pytest.raises(PaymentProviderError):
        await rig.gateway.create_checkout_session(
            payment_id="pay_1",
            lines=[LineItem("Course", 100, "usd")],
            customer_email="s@example.com",
            success_url="http://site/ok",
            cancel_url="http://site/cancel",
            expires_at=rig.clock.now() + timedelta(minutes=minutes),
            idempotency_key=f"expiry-{minutes}",
        )


async def test_lines_in_two_currencies_are_refused(rig: Rig) -> None:
    with pytest.raises(PaymentProviderError):
        await rig.gateway.create_checkout_session(
            payment_id="pay_1",
            lines=[LineItem("A", 100, "usd"), LineItem("B", 100, "eur")],
            customer_email="s@example.com",
            success_url="http://site/ok",
            cancel_url="http://site/cancel",
            expires_at=rig.clock.now() + timedelta(minutes=30),
            idempotency_key="mixed",
        )


async def test_the_test_card_pays_and_a_signed_completed_event_is_sent(rig: Rig) -> None:
    created = await rig.session(12900)
    response = await rig.pay(created.id, card="4242 4242 4242 4242")
    assert response.status_code == 303
    assert response.headers["location"] == f"http://site/return?session_id={created.id}"

    assert await rig.simulator.deliver_pending() == 1
    (sent,) = rig.caught.events
    assert sent["type"] == "checkout.session.completed"
    session = sent["data"]["object"]
    assert (session["id"], session["payment_status"], session["status"]) == (
        created.id,
        "paid",
        "complete",
    )
    assert session["metadata"] == {"payment_id": "pay_1"}
    assert session["payment_intent"].startswith("pi_test_")
    assert (await rig.gateway.retrieve_session(created.id)).payment_status == "paid"
    # Delivered once: nothing left to send.
    assert await rig.simulator.deliver_pending() == 0


async def test_the_declined_card_sends_nothing(rig: Rig) -> None:
    created = await rig.session(12900)
    response = await rig.pay(created.id, card="4000 0000 0000 0002")
    assert response.status_code == 402
    assert "declined" in response.text
    assert await rig.simulator.deliver_pending() == 0
    assert (await rig.gateway.retrieve_session(created.id)).status == "open"


@pytest.mark.parametrize(
    ("method", "settled"),
    [
        ("bank_debit", "checkout.session.async_payment_succeeded"),
        ("bank_debit_fail", "checkout.session.async_payment_failed"),
    ],
)
async def test_a_bank_debit_settles_a_minute_later(rig: Rig, method: str, settled: str) -> None:
    created = await rig.session(12900)
    assert (await rig.pay(created.id, method=method)).status_code == 303
    await rig.simulator.deliver_pending()
    assert rig.caught.types() == ["checkout.session.completed"]
    assert rig.caught.events[0]["data"]["object"]["payment_status"] == "unpaid"

    rig.clock.advance(seconds=59)
    await rig.simulator.tick()
    assert rig.caught.types() == ["checkout.session.completed"]
    rig.clock.advance(seconds=1)
    await rig.simulator.tick()
    assert rig.caught.types() == ["checkout.session.completed", settled]
    last = rig.caught.events[-1]["data"]["object"]
    assert last["payment_status"] == ("paid" if method == "bank_debit" else "unpaid")


async def test_an_unpaid_session_expires_on_time_and_cannot_be_paid(rig: Rig) -> None:
    created = await rig.session(12900)
    rig.clock.advance(minutes=29, seconds=59)
    await rig.simulator.tick()
    assert rig.caught.events == []
    rig.clock.advance(seconds=1)
    await rig.simulator.tick()
    assert rig.caught.types() == ["checkout.session.expired"]
    assert (await rig.pay(created.id, card="4242424242424242")).status_code == 410


async def test_expiring_a_session_sends_the_event_and_a_second_expiry_is_harmless(
    rig: Rig,
) -> None:
    created = await rig.session(12900)
    await rig.gateway.expire_session(created.id)
    await rig.gateway.expire_session(created.id)
    await rig.simulator.deliver_pending()
    assert rig.caught.types() == ["checkout.session.expired"]
    assert (await rig.gateway.retrieve_session(created.id)).status == "expired"


async def test_refunds_add_up_to_the_charge_and_no_further(rig: Rig) -> None:
    created = await rig.session(10000)
    await rig.pay(created.id, card="4242424242424242")
    intent = (await rig.gateway.retrieve_session(created.id)).payment_intent
    assert intent is not None

    await rig.gateway.refund(
        payment_intent=intent, amount=4000, payment_id="pay_1", idempotency_key="r1"
    )
    # A retry of the same refund refunds nothing more.
    await rig.gateway.refund(
        payment_intent=intent, amount=4000, payment_id="pay_1", idempotency_key="r1"
    )
    with pytest.raises(PaymentProviderError):
        await rig.gateway.refund(
            payment_intent=intent, amount=6001, payment_id="pay_1", idempotency_key="r2"
        )
    await rig.gateway.refund(
        payment_intent=intent, amount=6000, payment_id="pay_1", idempotency_key="r3"
    )
    await rig.simulator.deliver_pending()
    refunds = [e["data"]["object"] for e in rig.caught.events if e["type"] == "charge.refunded"]
    assert [(r["amount_refunded"], r["refunded"]) for r in refunds] == [
        (4000, False),
        (10000, True),
    ]
    assert all(r["metadata"] == {"payment_id": "pay_1"} for r in refunds)


async def test_an_unpaid_charge_cannot_be_refunded(rig: Rig) -> None:
    with pytest.raises(PaymentProviderError):
        await rig.gateway.refund(
            payment_intent="pi_unknown", amount=100, payment_id="pay_1", idempotency_key="r"
        )


async def test_an_event_the_webhook_refuses_is_sent_again_later(rig: Rig) -> None:
    created = await rig.session(12900)
    await rig.pay(created.id, card="4242424242424242")
    rig.caught.answer = 500
    assert await rig.simulator.deliver_pending() == 0
    rig.caught.answer = 200
    assert await rig.simulator.deliver_pending() == 1
    assert rig.caught.types() == ["checkout.session.completed"]


async def test_the_simulator_never_runs_in_production(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        secret_key="production-secret-key-0123456789abcdef",
        env="production",
    )
    with pytest.raises(ConfigurationError):
        build_portal(settings)
