"""E-mail over SMTP to a real server on loopback (aiosmtpd): one recipient per
message, text and HTML, links to SITE_URL, escaped names, and what a refusing
or absent server leads to."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from functions.auth.models import User
from functions.messages import service
from functions.messages.service import MAX_ATTEMPTS, backoff
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.config import Settings
from lib.runtime import Portal
from tests import conftest
from tests.factories import Factory
from tests.functions.messages.support import (
    SmtpServer,
    html_of,
    outbox_row,
    outbox_rows,
    text_of,
)
from tests.ports import free_port

SITE = "https://portal.example.edu"
TRY_LATER = "451 try later"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return conftest.test_settings(database_url, tmp_path, smtp_url=smtp.url, site_url=SITE)


async def _students(factory: Factory) -> list[User]:
    return [
        await factory.registered(
            username="ada", email="ada.lovelace@example.com",
            full_name='Ada <script>alert("x")</script> & Co',
        ),
        await factory.registered(
            username="grace", email="grace.hopper@example.org", full_name="Grace Hopper"
        ),
        await factory.registered(
            username="alan", email="alan.turing@example.net", full_name="Alan Turing"
        ),
    ]  # fmt: skip


async def test_each_mail_reaches_its_one_recipient_and_names_no_one_else(
    factory: Factory, portal: Portal, smtp: SmtpServer, clock: FrozenClock
) -> None:
    # GIVEN three new students, each with a welcome queued, and a reminder for one of them
    students = await _students(factory)
    await factory.queued(
        recipient=students[1],
        kind="checkout.payment_due_soon",
        payload={"payment_id": "p1", "amount": 12900, "currency": "usd",
                 "due_at": "2026-01-12T09:00:00+00:00", "due_in": "in 3 days", "days": 3},
    )  # fmt: skip

    # WHEN the deliverer runs
    report = await service.deliver_due(portal)

    # THEN the SMTP server received four mails, each to one address only
    assert (report.sent, report.retrying, report.failed) == (4, 0, 0)
    assert len(smtp.received) == 4
    addresses = {s.id: s.email for s in students}
    for received in smtp.received:
        row = await outbox_row(portal, received.outbox_id)
        own = addresses[row.recipient_id]
        mail = received.mail
        assert received.rcpt_tos == [own]
        assert received.mail_from == "no-reply@student-portal.invalid"
        assert mail.get_all("To") == [own]
        assert mail["Cc"] is None
        assert mail["Bcc"] is None
        raw = received.raw.decode("utf-8", "replace").lower()
        for other in set(addresses.values()) - {own}:
            assert other.lower() not in raw, f"{other} leaked into the mail to {own}"
    # AND every row is sent, once, at the clock's time
    rows = await outbox_rows(portal)
    assert {(r.status, r.attempts, r.sent_at) for r in rows} == {("sent", 1, clock.now())}
    assert sorted(smtp.by_outbox_id()) == sorted(r.id for r in rows)


async def test_mail_has_text_and_html_with_links_to_the_site_and_escaped_names(
    factory: Factory, portal: Portal, smtp: SmtpServer
) -> None:
    # GIVEN a student whose name is made of markup, with a welcome and a receipt queued
    ada = (await _students(factory))[0]
    await factory.queued(
        recipient=ada,
        kind="checkout.payment_confirmed",
        payload={"payment_id": "pay_123", "amount": 17800, "currency": "usd",
                 "items": [{"description": "<b>PAY-1</b> Course", "amount": 12900},
                           {"description": "PAY-2 Course", "amount": 4900}]},
    )  # fmt: skip

    # WHEN the deliverer runs
    await service.deliver_due(portal)

    # THEN each mail to Ada has a plain text and an HTML part
    mails = [r.mail for r in smtp.received if r.rcpt_tos == ["ada.lovelace@example.com"]]
    assert len(mails) == 2
    for mail in mails:
        assert mail.is_multipart()
        text, html = text_of(mail), html_of(mail)
        # AND every link points at SITE_URL
        links = re.findall(r"https?://[^\s\"'<>]+", text) + re.findall(r'href="([^"]+)"', html)
        assert links
        assert all(link.startswith(f"{SITE}/") for link in links), links
        # AND her name is escaped in the HTML, and plain in the text
        assert 'Hello Ada <script>alert("x")</script> & Co,' in text
        assert "<script>" not in html
        assert "Ada &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    receipt = next(m for m in mails if m["Subject"] == "Payment received: you are enrolled")
    assert f"{SITE}/#/payments/pay_123" in text_of(receipt)
    assert "<b>" not in html_of(receipt)
    assert "&lt;b&gt;PAY-1&lt;/b&gt; Course: 129.00 USD" in html_of(receipt)
    assert "Total paid: 178.00 USD" in text_of(receipt)


async def test_starttls_required_but_not_offered_is_retried_not_sent_in_clear(
    factory: Factory, portal: Portal, smtp: SmtpServer, settings: Settings, clock: FrozenClock
) -> None:
    # GIVEN SMTP_URL insisting on STARTTLS, and a server that does not offer it
    insisting = replace(settings, smtp_url=f"{smtp.url}?starttls=required")
    deliverer = build_portal(insisting, clock=clock)
    try:
        student = await factory.registered(username="tls", email="tls@example.com")

        # WHEN the deliverer runs
        report = await service.deliver_due(deliverer)
    finally:
        await deliverer.dispose()

    # THEN nothing went over the wire; the message waits for its next try
    assert (report.sent, report.retrying) == (0, 1)
    assert smtp.received == []
    [row] = await outbox_rows(portal)
    assert row.recipient_id == student.id
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert row.next_attempt_at == clock.now() + backoff(1)
    assert row.last_error is not None
    assert "STARTTLS" in row.last_error


async def test_a_refusing_server_means_retries_with_backoff_then_a_visible_failure(
    factory: Factory, portal: Portal, smtp: SmtpServer, clock: FrozenClock
) -> None:
    # GIVEN a server that answers every mail with "451 try later"
    smtp.refuse = TRY_LATER
    student = await factory.registered(username="retry", email="retry@example.com")
    [message] = await outbox_rows(portal)

    # WHEN the deliverer runs each time the message falls due, and also just before
    seen = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = await service.deliver_due(portal)
        row = await outbox_row(portal, message.id)
        seen.append((row.status, row.attempts))
        if attempt < MAX_ATTEMPTS:
            # THEN (each time) the next try waits as long as the backoff says
            assert row.next_attempt_at == clock.now() + backoff(attempt)
            assert row.last_error is not None
            assert "451" in row.last_error
            assert report.retrying == 1
            clock.set(row.next_attempt_at - timedelta(seconds=1))
            early = await service.deliver_due(portal)
            assert (early.sent, early.retrying, early.failed) == (0, 0, 0)
            clock.set(row.next_attempt_at)

    # THEN after five attempts the message is failed, and nothing was accepted
    assert seen == [("pending", n) for n in range(1, MAX_ATTEMPTS)] + [("failed", MAX_ATTEMPTS)]
    assert [backoff(n) for n in range(1, MAX_ATTEMPTS)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8)
    ]
    assert smtp.received == []
    clock.advance(hours=2)
    assert (await service.deliver_due(portal)).failed == 0
    assert (await outbox_row(portal, message.id)).status == "failed"
    assert (await outbox_row(portal, message.id)).recipient_id == student.id


async def test_an_unreachable_server_is_retried(
    factory: Factory, portal: Portal, settings: Settings, clock: FrozenClock
) -> None:
    # GIVEN SMTP_URL pointing at a loopback port where nothing listens
    closed = replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    nowhere = build_portal(closed, clock=clock)
    try:
        await factory.registered(username="nowhere", email="nowhere@example.com")

        # WHEN the deliverer runs twice, the clock moving past the backoff between
        first = await service.deliver_due(nowhere)
        clock.advance(backoff(1))
        second = await service.deliver_due(nowhere)
    finally:
        await nowhere.dispose()

    # THEN both runs count a retry and the row says why
    assert (first.retrying, second.retrying) == (1, 1)
    [row] = await outbox_rows(portal)
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == clock.now() + backoff(2)
    assert row.last_error is not None
    assert "ConnectionRefusedError" in row.last_error


async def test_two_deliverers_at_once_send_every_message_once(
    factory: Factory, portal: Portal, smtp: SmtpServer, settings: Settings, clock: FrozenClock
) -> None:
    # GIVEN forty queued messages for four students, and a second deliverer with
    # its own engine and connections, as another process would have
    students = [await factory.user() for _ in range(4)]
    for n in range(40):
        await factory.queued(recipient=students[n % 4])
    other = build_portal(settings, clock=clock)

    async def drain(deliverer: Portal) -> int:
        sent = 0
        while (report := await service.deliver_due(deliverer, batch=3)).sent:
            sent += report.sent
        return sent

    # WHEN both drain the queue at the same moment, three messages at a time
    try:
        counts = await asyncio.gather(drain(portal), drain(other), drain(portal))
    finally:
        await other.dispose()

    # THEN every message reached the server exactly once
    assert sum(counts) == 40
    received = smtp.by_outbox_id()
    assert len(received) == 40
    assert {len(copies) for copies in received.values()} == {1}
    rows = await outbox_rows(portal)
    assert {r.status for r in rows} == {"sent"}
    assert {r.attempts for r in rows} == {1}


async def test_names_in_any_alphabet_arrive_intact_in_a_seven_bit_message(
    factory: Factory, portal: Portal, smtp: SmtpServer
) -> None:
    # GIVEN a student with a non-ASCII name, told about a course with an accented title
    student = await factory.user(full_name="Zoë Ñúñez 李")
    await factory.queued(
        recipient=student,
        kind="catalog.waitlist_promoted",
        payload={"course_id": "c1", "course_code": "ECO-1", "course_title": "Économie",
                 "status": "active"},
    )  # fmt: skip

    # WHEN it is delivered
    assert (await service.deliver_due(portal)).sent == 1

    # THEN what went over the wire is 7-bit, and reads back exactly
    [received] = smtp.received
    assert received.raw.isascii()
    mail = received.mail
    assert mail["Subject"] == "A seat opened in ECO-1 Économie"
    assert "Hello Zoë Ñúñez 李," in text_of(mail)
    assert "Zoë Ñúñez 李" in html_of(mail)
    assert "— Student Portal" in text_of(mail)
