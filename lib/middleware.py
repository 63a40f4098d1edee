"""ASGI middleware: the client as trusted proxies saw it, request context
(request id, access log, security headers, HTTPS in production), body limit."""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.errors import PayloadTooLarge
from lib.http import InternalError, render_error

access_log = logging.getLogger("portal.access")

_SCHEMES = {"http", "https"}


class ProxyHeadersMiddleware:
    """The client's address and scheme, read from X-Forwarded-For and
    X-Forwarded-Proto only as far as the `trusted_hops` proxies in front of the
    portal wrote them.

    Each proxy appends the address it received the request from, and the last
    one is the socket's peer; so with N trusted hops the client is the N-th
    address from the right. Whatever stands left of it was written by the client
    and is never read. With N = 0 both headers are ignored and the socket's peer
    is the client."""

    def __init__(self, app: ASGIApp, *, trusted_hops: int) -> None:
        self.app = app
        self.trusted_hops = trusted_hops

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted_hops and scope["type"] in {"http", "websocket"}:
            scope = dict(scope)
            headers = scope["headers"]
            address = forwarded_address(_values(headers, b"x-forwarded-for"), self.trusted_hops)
            if address is not None:
                scope["client"] = (address, 0)
            scheme = _pick(_values(headers, b"x-forwarded-proto"), self.trusted_hops)
            if scheme is not None and scheme.lower() in _SCHEMES:
                secure = scheme.lower() == "https"
                if scope["type"] == "websocket":
                    scope["scheme"] = "wss" if secure else "ws"
                else:
                    scope["scheme"] = "https" if secure else "http"
        await self.app(scope, receive, send)


def forwarded_address(entries: list[str], trusted_hops: int) -> str | None:
    """The client's address in an X-Forwarded-For list, or None when the entry
    the trusted proxies point at is not an IP address."""
    picked = _pick(entries, trusted_hops)
    return _ip(picked) if picked is not None else None


def _pick(entries: list[str], trusted_hops: int) -> str | None:
    if not entries:
        return None
    # Fewer entries than trusted proxies: every one was written by a proxy.
    return entries[-trusted_hops] if len(entries) >= trusted_hops else entries[0]


def _values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    # Repeated header lines are one list, in order (RFC 9110, 5.3).
    joined = ",".join(v.decode("latin-1") for k, v in headers if k.lower() == name)
    return [part.strip() for part in joined.split(",") if part.strip()]


def _ip(value: str) -> str | None:
    candidates = [value]
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        candidates.append(value[1 : value.index("]")])
    elif value.count(":") == 1:  # 203.0.113.7:51234
        candidates.append(value.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


def _security_headers(*, production: bool, api: bool) -> list[tuple[bytes, bytes]]:
    extra = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if production:
        extra.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    # An API answer is not kept anywhere unless its endpoint said how (lib.httpcache).
    if api:
        extra.append((b"cache-control", b"no-store"))
    return extra


# One line per request, formatted only when the access log is on. The request
# id and the method hold no character JSON escapes (the id is checked above,
# a method is an HTTP token); the path and the client are encoded.
_ACCESS_LINE = (
    '{"event": "http.request", "request_id": "%s", "method": "%s", "path": %s, '
    '"status": %d, "duration_ms": %.2f, "client": %s}'
)


class RequestContextMiddleware:
    """Request id, one JSON access-log line, security headers, HTTPS in production.

    It runs on every request, so it does the least it can: the two headers it
    needs are picked from the raw list, the security headers are built once."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production
        self._api_headers = _security_headers(production=production, api=True)
        self._site_headers = _security_headers(production=production, api=False)

    def _extra(
        self, path: str, own: Iterable[tuple[bytes, bytes]], request_id: str
    ) -> list[tuple[bytes, bytes]]:
        """The headers every answer gets; an API answer that says how it may be
        kept (its own Cache-Control) gets the site's, without `no-store`."""
        api = path.startswith("/api/") and not _has_header(own, b"cache-control")
        return [
            (b"x-request-id", request_id.encode()),
            *(self._api_headers if api else self._site_headers),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope["headers"], b"x-request-id")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                own = list(message.get("headers", ()))
                message["headers"] = [*own, *self._extra(scope["path"], own, request_id)]
            await send(message)

        if self.production and scope.get("scheme") == "http" and not _is_health_check(scope):
            # The redirect carries the request id and headers like any answer.
            await _redirect_to_https(scope, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # A failure outside any endpoint (which renders its own): the client
            # still gets the one error shape, with this request's id, and the
            # server re-raises so that its log has the traceback.
            if not status:
                await render_error(InternalError())(scope, receive, send_with_headers)
            raise
        finally:
            if access_log.isEnabledFor(logging.INFO):
                _log_access(scope, request_id, status or 500, started)


def _has_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _log_access(scope: Scope, request_id: str, status: int, started: float) -> None:
    client = scope.get("client")
    access_log.info(
        _ACCESS_LINE,
        request_id,
        scope["method"],
        orjson.dumps(scope["path"]).decode(),
        status,
        (time.perf_counter() - started) * 1000,
        orjson.dumps(client[0] if client else None).decode(),
    )


HEALTH_CHECK_PATH = "/api/health"


def _is_health_check(scope: Scope) -> bool:
    # A platform's health check (Render's) names no scheme, and counts a redirect
    # as healthy: it must reach the database check itself. It tells nothing secret.
    return scope["path"] == HEALTH_CHECK_PATH and scope["method"] in {"GET", "HEAD"}


async def _redirect_to_https(scope: Scope, send: Send) -> None:
    host = _header(scope["headers"], b"host")
    query = scope.get("query_string", b"").decode("latin-1")
    location = f"https://{host}{scope['path']}" + (f"?{query}" if query else "")
    await send(
        {
            "type": "http.response.start",
            "status": 308,
            "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


class BodyLimitMiddleware:
    """Refuse request bodies over the limit, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    response = render_error(self._error())
                    await response(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, limited_receive, send)

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The request body is larger than {self.max_bytes // 1024} KB.",
        )
