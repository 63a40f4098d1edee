"""`portal serve`: uvicorn, with the portal's own answers where uvicorn would
answer by itself, its own proxy handling, and a bounded graceful shutdown.

- A request head uvicorn cannot take (malformed, a request line or headers too
  long) gets the portal's JSON error shape instead of uvicorn's plain text.
- uvicorn's proxy-header handling is off: lib.middleware.ProxyHeadersMiddleware
  reads X-Forwarded-For counting trusted hops from the right.
- On SIGTERM or SIGINT the listening socket closes at once (new connections are
  refused), requests in flight finish, then the app shuts down; a request still
  running after GRACEFUL_SHUTDOWN_SECONDS is cancelled (Render kills at 30 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from http import HTTPStatus
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lib.logs import log_config

MAX_TARGET_BYTES = 8 * 1024
MAX_HEAD_BYTES = 32 * 1024
GRACEFUL_SHUTDOWN_SECONDS = 25

_MALFORMED = (400, "malformed_request", "The request is not valid HTTP/1.1.")
_TARGET_TOO_LONG = (414, "uri_too_long", f"The request address is over {MAX_TARGET_BYTES} bytes.")
_HEAD_TOO_LARGE = (
    431,
    "headers_too_large",
    f"The request headers are over {MAX_HEAD_BYTES // 1024} KB.",
)


def refusal(status: int, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response in the portal's error shape; the connection closes."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "x-content-type-options: nosniff",
        "cache-control: no-store",
        "connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class CoalescingTransport:
    """A transport whose writes in one turn of the event loop leave as one.

    uvicorn writes a response's head and its body separately, each a system
    call that, on loopback and behind most proxies, carries a segment through
    the kernel's TCP stack at once: a fifth of a small read's cost. The
    writes of one turn (a response is written in one) are joined instead and
    sent when the turn ends."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class JsonErrorsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what "auto" picks with uvicorn[standard]),
    answering in the portal's error shape. llhttp sets no limit on the size of a
    request head: these methods do."""

    _refused: tuple[int, str, str] | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._refused, self._head_bytes = None, 0

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_TARGET_BYTES:
            self._refuse(_TARGET_TOO_LONG)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(_HEAD_TOO_LARGE)
        super().on_header(name, value)

    def _refuse(self, reason: tuple[int, str, str]) -> None:
        self._refused = reason
        # uvicorn answers any parser error through send_400_response below.
        raise httptools.HttpParserError(reason[2])

    def send_400_response(self, msg: str) -> None:
        self.transport.write(refusal(*(self._refused or _MALFORMED)))
        self.transport.close()


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(*, host: str, port: int, workers: int) -> None:
    # uvicorn handles SIGTERM itself while it serves, and raises it again once it
    # has shut down gracefully; ending then with 0 says the stop was clean (as
    # `portal scheduler` does). Before uvicorn runs, SIGTERM ends the process too.
    signal.signal(signal.SIGTERM, _stopped)
    # Each worker sizes its database pool by how many share the server (lib.db.pool_size).
    os.environ["WEB_CONCURRENCY"] = str(workers)
    uvicorn.run("functions.router:create_app", **uvicorn_options(host, port, workers))


def uvicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """How `portal serve` runs uvicorn; the benchmark serves its ceiling (a bare
    Starlette endpoint) with the very same options."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        # A class at module level: with several workers it is pickled by name.
        "http": JsonErrorsProtocol,
        # asyncio's own event loop, not uvloop: under a saturating load uvloop
        # left a few connections unserved for up to a second (a bare Starlette
        # endpoint costing 0.4 ms of CPU, 64 connections: p99 500 ms and max 1
        # s on uvloop; p99 36 ms on asyncio, at 8% fewer requests per second).
        "loop": "asyncio",
        "proxy_headers": False,
        "log_config": log_config(),
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
