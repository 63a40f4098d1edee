"""Helpers for the notification tests: a real SMTP server on loopback, the mails
it (or the mail folder) received, and the outbox rows behind them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, TLSSetupException
from sqlalchemy import select

from lib.outbox import OutboxMessage
from lib.runtime import Portal
from tests.ports import free_port


def parse(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None, "no text/plain part"
    return str(part.get_content())


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None, "no text/html part"
    return str(part.get_content())


@dataclass
class Received:
    """One SMTP transaction as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool = False

    @property
    def mail(self) -> EmailMessage:
        return parse(self.raw)

    @property
    def outbox_id(self) -> str:
        return str(self.mail["X-Portal-Message-Id"])


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts.

    `refuse` makes it answer DATA with that reply instead (e.g. "451 try later")."""

    port: int
    received: list[Received] = field(default_factory=list)
    refuse: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse is not None:
            return self.refuse
        with self._lock:
            self.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=[str(r) for r in envelope.rcpt_tos],
                    raw=bytes(envelope.original_content or envelope.content),
                    tls=server.transport.get_extra_info("ssl_object") is not None,
                )
            )
        return "250 OK"

    def by_outbox_id(self) -> dict[str, list[Received]]:
        grouped: dict[str, list[Received]] = {}
        for item in self.received:
            grouped.setdefault(item.outbox_id, []).append(item)
        return grouped


class _StartTlsSMTP(SMTP):
    """aiosmtpd 1.4's STARTTLS drives asyncio's private SSL protocol, which
    Python 3.11 changed (the handshake never completes); the public
    `loop.start_tls` does the same job."""

    async def smtp_STARTTLS(self, arg: str) -> None:
        if arg:
            await self.push("501 Syntax: STARTTLS")
            return
        if not self.tls_context:
            await self.push("454 TLS not available")
            return
        await self.push("220 Ready to start TLS")
        assert self.transport is not None
        try:
            self._original_transport = self.transport
            secured = await self.loop.start_tls(
                self.transport, self, self.tls_context, server_side=True
            )
        except Exception as error:
            raise TLSSetupException() from error
        assert secured is not None
        self._reader._transport = secured  # type: ignore[attr-defined]
        self._writer._transport = secured  # type: ignore[attr-defined]
        self.transport = secured
        # What the client said before the handshake counts for nothing (RFC 3207 4.2).
        self._reader._buffer.clear()  # type: ignore[attr-defined]
        self._tls_protocol = secured.get_protocol()  # type: ignore[assignment]
        peer = self.session.peer if self.session else None
        self.session = self._create_session()
        self.session.peer = peer
        self.session.ssl = {"cipher": secured.get_extra_info("cipher")}
        self._set_rset_state()


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _StartTlsSMTP(self.handler, **self.SMTP_kwargs)


@contextmanager
def smtp_server(**options: Any) -> Iterator[SmtpServer]:
    """Started on a free port; `options` go to aiosmtpd (TLS, authentication)."""
    server = SmtpServer(port=free_port())
    controller = _Controller(server, hostname="127.0.0.1", port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def eml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def eml_by_outbox_id(folder: Path) -> dict[str, list[Path]]:
    """The .eml files in a mail folder, grouped by the outbox row they came from."""
    grouped: dict[str, list[Path]] = {}
    for path in eml_files(folder):
        message_id = str(parse(path.read_bytes())["X-Portal-Message-Id"])
        grouped.setdefault(message_id, []).append(path)
    return grouped


async def outbox_rows(portal: Portal, *, kind: str | None = None) -> list[OutboxMessage]:
    async with portal.read_sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return list((await session.execute(query)).scalars().all())


async def outbox_row(portal: Portal, message_id: str) -> OutboxMessage:
    async with portal.read_sessions() as session:
        row = await session.get(OutboxMessage, message_id)
        assert row is not None, f"no outbox row {message_id}"
        return row
