"""Delivery without SMTP_URL: one `.eml` file per message in PORTAL_MAIL_DIR;
and what the deliverer does with messages it cannot or must not send."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import pytest

from functions.messages import service
from functions.runtime import build_portal
from lib.clock import FrozenClock
from lib.config import Settings
from lib.mail import FileMailer
from lib.runtime import Portal
from tests.factories import Factory
from tests.functions.messages.support import (
    eml_by_outbox_id,
    eml_files,
    outbox_row,
    outbox_rows,
    parse,
    text_of,
)


async def test_one_eml_file_per_message(factory: Factory, portal: Portal) -> None:
    # GIVEN no SMTP_URL, and three students who registered
    assert portal.settings.smtp_url is None
    students = [await factory.registered() for _ in range(3)]

    # WHEN the deliverer runs twice
    first = await service.deliver_due(portal)
    second = await service.deliver_due(portal)

    # THEN the mail folder holds one file per message, named after it, to its student
    assert (first.sent, second.sent) == (3, 0)
    files = eml_by_outbox_id(portal.settings.mail_dir)
    rows = await outbox_rows(portal)
    assert sorted(files) == sorted(r.id for r in rows)
    emails = {s.id: s.email for s in students}
    for row in rows:
        [path] = files[row.id]
        assert path.name == f"{row.id}.eml"
        mail = parse(path.read_bytes())
        assert mail.get_all("To") == [emails[row.recipient_id]]
        assert "Welcome" in str(mail["Subject"])
        assert "http://testserver/#/catalog" in text_of(mail)
    # AND no half-written file is left behind
    assert [p.name for p in portal.settings.mail_dir.iterdir() if p.suffix != ".eml"] == []


async def test_mail_to_a_deactivated_account_is_skipped(factory: Factory, portal: Portal) -> None:
    # GIVEN a message for an active student and one for a deactivated one
    active = await factory.user()
    gone = await factory.user(active=False)
    kept = await factory.queued(recipient=active)
    dropped = await factory.queued(recipient=gone)

    # WHEN the deliverer runs twice
    report = await service.deliver_due(portal)
    again = await service.deliver_due(portal)

    # THEN only the active student got mail; the other row is marked skipped, once
    assert (report.sent, report.skipped) == (1, 1)
    assert (again.sent, again.skipped) == (0, 0)
    assert list(eml_by_outbox_id(portal.settings.mail_dir)) == [kept.id]
    assert (await outbox_row(portal, dropped.id)).status == "skipped"


async def test_a_message_that_cannot_be_written_fails_without_blocking_the_queue(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN an oldest message whose subject would carry a line break (a header
    # injection), and a good one queued after it
    student = await factory.user()
    bad = await factory.queued(
        recipient=student,
        kind="catalog.waitlist_promoted",
        payload={"course_code": "X-1", "course_title": "Intro\r\nBcc: attacker@example.com"},
    )
    clock.advance(minutes=1)
    good = await factory.queued(recipient=student)

    # WHEN the deliverer runs, and runs again later
    report = await service.deliver_due(portal)
    clock.advance(hours=2)
    later = await service.deliver_due(portal)

    # THEN the good one is sent, the bad one is failed with a reason and never mailed
    assert (report.sent, report.failed) == (1, 1)
    assert (later.sent, later.failed) == (0, 0)
    assert list(eml_by_outbox_id(portal.settings.mail_dir)) == [good.id]
    row = await outbox_row(portal, bad.id)
    assert row.status == "failed"
    assert "ValueError" in (row.last_error or "")
    assert all(
        "attacker@example.com" not in p.read_text() for p in eml_files(portal.settings.mail_dir)
    )


class SlowMailer:
    """The real file mailer on a server where every send takes three minutes."""

    def __init__(self, inner: FileMailer, clock: FrozenClock) -> None:
        self.inner = inner
        self.clock = clock

    async def send(self, message: EmailMessage) -> None:
        await self.inner.send(message)
        self.clock.advance(minutes=3)


async def test_a_slow_deliverer_hands_back_what_it_cannot_send_in_time(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN four queued messages and sends that take three minutes each
    student = await factory.user()
    queued = [await factory.queued(recipient=student) for _ in range(4)]
    slow = replace(portal, mailer=SlowMailer(FileMailer(portal.settings.mail_dir), clock))

    # WHEN one deliverer claims them all
    report = await service.deliver_due(slow)

    # THEN it sends only while its claim is young, and the rest go back to the queue
    assert report.sent == 2
    rows = {r.id: r for r in await outbox_rows(portal)}
    assert sorted(r.status for r in rows.values()) == ["pending", "pending", "sent", "sent"]
    assert all(r.claimed_by is None for r in rows.values())
    # AND the next run, after any claim would have gone stale, sends the rest once
    clock.advance(service.STALE_CLAIM + timedelta(minutes=1))
    rest = await service.deliver_due(slow)
    assert rest.sent == 2
    assert (await service.deliver_due(slow)).sent == 0
    files = eml_by_outbox_id(portal.settings.mail_dir)
    assert sorted(files) == sorted(m.id for m in queued)
    assert {len(paths) for paths in files.values()} == {1}


class DyingMailer:
    """The real file mailer in a process that is killed during its second send."""

    def __init__(self, inner: FileMailer) -> None:
        self.inner = inner
        self.sends = 0

    async def send(self, message: EmailMessage) -> None:
        self.sends += 1
        if self.sends == 2:
            raise asyncio.CancelledError
        await self.inner.send(message)


async def test_a_deliverer_killed_mid_batch_resends_only_what_it_had_not_sent(
    factory: Factory, portal: Portal, clock: FrozenClock
) -> None:
    # GIVEN three queued messages and a deliverer that dies during its second send
    student = await factory.user()
    queued = [await factory.queued(recipient=student) for _ in range(3)]
    mailer = FileMailer(portal.settings.mail_dir)
    dying = replace(portal, mailer=DyingMailer(mailer))

    # WHEN it runs
    with pytest.raises(asyncio.CancelledError):
        await service.deliver_due(dying)

    # THEN the message it sent is recorded as sent; the others stay claimed
    statuses = {r.id: r.status for r in await outbox_rows(portal)}
    assert sorted(statuses.values()) == ["sending", "sending", "sent"]
    [sent] = [message_id for message_id, status in statuses.items() if status == "sent"]
    assert list(eml_by_outbox_id(portal.settings.mail_dir)) == [sent]
    # AND once the claims are stale, the next deliverer sends those two, once each
    clock.advance(service.STALE_CLAIM + timedelta(minutes=1))
    assert (await service.deliver_due(replace(portal, mailer=mailer))).sent == 2
    files = eml_by_outbox_id(portal.settings.mail_dir)
    assert sorted(files) == sorted(m.id for m in queued)
    assert {len(paths) for paths in files.values()} == {1}


async def test_two_deliverers_on_the_mail_folder_write_each_message_once(
    factory: Factory, portal: Portal, settings: Settings, clock: FrozenClock
) -> None:
    # GIVEN sixty queued messages and a second deliverer with its own engine
    students = [await factory.user() for _ in range(3)]
    for n in range(60):
        await factory.queued(recipient=students[n % 3])
    other = build_portal(settings, clock=clock)

    async def drain(deliverer: Portal) -> int:
        sent = 0
        while (report := await service.deliver_due(deliverer, batch=4)).sent:
            sent += report.sent
        return sent

    # WHEN three deliverers drain the queue at once
    try:
        counts = await asyncio.gather(drain(portal), drain(other), drain(other))
    finally:
        await other.dispose()

    # THEN every message has exactly one file, and every row is sent
    assert sum(counts) == 60
    files = eml_by_outbox_id(portal.settings.mail_dir)
    assert len(files) == 60
    assert {len(paths) for paths in files.values()} == {1}
    assert {(r.status, r.attempts) for r in await outbox_rows(portal)} == {("sent", 1)}
