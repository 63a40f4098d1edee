"""Sending e-mail: over SMTP (`SMTP_URL`), or as `.eml` files in a folder."""

from __future__ import annotations

import itertools
import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import anyio.to_thread

from lib.errors import ConfigurationError

SMTP_TIMEOUT_SECONDS = 20


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class FileMailer:
    """One `.eml` file per message: what development and tests read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        await anyio.to_thread.run_sync(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["X-Portal-Message-Id"] or os.urandom(8).hex())
        # Written aside, then linked into place: a reader never sees half a
        # message, and a message sent twice leaves a second file (as it would
        # leave a second mail in an inbox) instead of silently replacing the first.
        fd, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(bytes(message))
            for copy in itertools.count():
                target = self.folder / (f"{name}.eml" if copy == 0 else f"{name}.{copy}.eml")
                try:
                    os.link(temporary, target)
                except FileExistsError:
                    continue
                return
        finally:
            os.unlink(temporary)


class SmtpMailer:
    """`smtp://user:pass@host:port` uses STARTTLS when the server offers it
    (`?starttls=required` insists on it); `smtps://` is TLS from the start."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ConfigurationError("SMTP_URL must look like smtp://user:pass@host:port")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.require_starttls = "starttls=required" in parts.query

    async def send(self, message: EmailMessage) -> None:
        await anyio.to_thread.run_sync(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls:
            client = smtplib.SMTP_SSL(
                self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            client.ehlo()
            if not self.tls:
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif self.require_starttls:
                    raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS")
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def create_mailer(smtp_url: str | None, mail_dir: Path) -> Mailer:
    return SmtpMailer(smtp_url) if smtp_url else FileMailer(mail_dir)
