"""HTTP plumbing: endpoints with declared access, one error renderer, middleware."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.errors import (
    Forbidden,
    Invalid,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PortalError,
)
from lib.runtime import CurrentUser, Portal
from lib.security import Role

log = logging.getLogger("portal")
access_log = logging.getLogger("portal.access")

BodyT = TypeVar("BodyT")
SchemaT = TypeVar("SchemaT", bound=BaseModel)

ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Access:
    """Who may call an endpoint. There is no default: every endpoint says."""

    public: bool
    roles: frozenset[Role]

    def describe(self) -> str:
        if self.public:
            return "anyone"
        if self.roles == ALL_ROLES:
            return "signed in"
        return ", ".join(sorted(r.value for r in self.roles))


ANYONE = Access(public=True, roles=ALL_ROLES)
SIGNED_IN = Access(public=False, roles=ALL_ROLES)


def only(*roles: Role) -> Access:
    if not roles:
        raise ValueError("only() needs at least one role")
    return Access(public=False, roles=frozenset(roles))


@dataclass
class Call(Generic[BodyT]):
    """Everything a handler needs: the request, its session, the caller, the body."""

    request: Request
    portal: Portal
    # None for an endpoint whose service opens its own transactions.
    db: AsyncSession | None
    user: CurrentUser | None
    body: BodyT

    @property
    def session(self) -> AsyncSession:
        if self.db is None:
            raise RuntimeError("this endpoint's service manages its own transactions")
        return self.db

    @property
    def now(self) -> datetime:
        return self.portal.clock.now()

    @property
    def me(self) -> CurrentUser:
        if self.user is None:
            raise NotAuthenticated()
        return self.user

    @property
    def client_address(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    def path(self, name: str) -> str:
        value = str(self.request.path_params[name])
        # No id contains a NUL; PostgreSQL refuses it in text, so stop it here.
        if "\x00" in value:
            raise NotFound()
        return value

    def query(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        if value is not None and "\x00" in value:
            raise Invalid(fields={name: "must not contain a NUL character"})
        return value


@dataclass(frozen=True)
class EndpointSpec:
    access: Access
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    summary: str
    query: Sequence[str]
    errors: Sequence[int]
    own_transactions: bool = False


Handler = Callable[[Call[Any]], Awaitable[Response | BaseModel | None]]
Endpoint = Callable[[Request], Awaitable[Response]]


def endpoint(
    access: Access,
    *,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    summary: str = "",
    query: Sequence[str] = (),
    errors: Sequence[int] = (),
    own_transactions: bool = False,
) -> Callable[[Handler], Endpoint]:
    """Wrap a handler: authenticate, check the role, parse the body, run it in
    one database session that commits once on success and rolls back on error.

    With `own_transactions` the handler gets no session: its service opens its
    own (`portal.transaction()`), e.g. to call Stripe between two of them. The
    caller is then read in a session closed before the handler runs, so that
    no session is held open (on SQLite: the write lock) while it works."""
    spec = EndpointSpec(
        access, body, response, status, summary, tuple(query), tuple(errors), own_transactions
    )

    def wrap(handler: Handler) -> Endpoint:
        async def run(request: Request) -> Response:
            portal: Portal = request.app.state.portal
            try:
                if own_transactions:
                    result = await _run_alone(request, portal, access, body, handler)
                else:
                    result = await _run_in_session(request, portal, access, body, handler)
            except PortalError:
                raise
            except Exception as exc:
                log.exception("request.failed", extra={"path": request.url.path})
                raise InternalError() from exc
            if isinstance(result, Response):
                return result
            if result is None:
                return Response(status_code=204 if status == 200 else status)
            return json_response(result, status=status)

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        run.__portal_spec__ = spec  # type: ignore[attr-defined]
        return run

    return wrap


async def _run_in_session(
    request: Request,
    portal: Portal,
    access: Access,
    body: type[BaseModel] | None,
    handler: Handler,
) -> Response | BaseModel | None:
    read_only = request.method in {"GET", "HEAD"}
    maker = portal.read_sessions if read_only else portal.sessions
    async with maker() as session:
        try:
            user = await _authenticate(request, portal, session, access)
            parsed = await _parse_body(request, body) if body is not None else None
            result = await handler(Call(request, portal, session, user, parsed))
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return result


async def _run_alone(
    request: Request,
    portal: Portal,
    access: Access,
    body: type[BaseModel] | None,
    handler: Handler,
) -> Response | BaseModel | None:
    async with portal.read_sessions() as reader:
        user = await _authenticate(request, portal, reader, access)
    parsed = await _parse_body(request, body) if body is not None else None
    return await handler(Call(request, portal, None, user, parsed))


def spec_of(endpoint: object) -> EndpointSpec | None:
    return getattr(endpoint, "__portal_spec__", None)


class InternalError(PortalError):
    status_code = 500
    code = "internal_error"

    def __init__(self) -> None:
        super().__init__("Something went wrong on our side. Please try again.")


async def _authenticate(
    request: Request, portal: Portal, session: AsyncSession, access: Access
) -> CurrentUser | None:
    header = request.headers.get("authorization")
    if not header:
        if access.public:
            return None
        raise NotAuthenticated()
    if access.public:
        # A stale token must not lock anyone out of sign-in or refresh. The
        # caller is read in a session of its own so that the request's session
        # has not begun (on SQLite: taken the write lock) before the handler runs.
        try:
            async with portal.read_sessions() as reader:
                return await _user_from_header(header, portal, reader)
        except NotAuthenticated:
            return None
    user = await _user_from_header(header, portal, session)
    if user.role not in access.roles:
        raise Forbidden()
    return user


async def _user_from_header(header: str, portal: Portal, session: AsyncSession) -> CurrentUser:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Use an `Authorization: Bearer <token>` header.")
    claims = portal.tokens.verify(token.strip(), now=portal.clock.now())
    if portal.load_user is None:
        raise RuntimeError("no user loader configured")
    # The user is read on every call so that a deactivation or a role change
    # takes effect at once, not when the access token runs out.
    user = await portal.load_user(session, claims.user_id)
    if user is None:
        raise NotAuthenticated("This account is no longer active.")
    return user


async def _parse_body(request: Request, schema: type[SchemaT]) -> SchemaT:
    raw = await request.body()
    if not raw.strip():
        raise PortalError("The request needs a JSON body.", status_code=400, code="malformed_json")
    try:
        parsed = schema.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise PortalError(
                "The request body is not valid JSON.", status_code=400, code="malformed_json"
            ) from None
        raise Invalid(fields=validation_fields(exc)) from None
    # PostgreSQL refuses NUL in text: refuse it here, naming the field.
    if bad := _nul_field(parsed.model_dump()):
        raise Invalid(fields={bad: "must not contain a NUL character"})
    return parsed


def _nul_field(value: object, path: str = "") -> str | None:
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        items: list[tuple[str, object]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for key, item in items:
        if found := _nul_field(item, f"{path}.{key}" if path else key):
            return found
    return None


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not an accepted field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "enum": "is not one of the accepted values",
    "literal_error": "is not one of the accepted values",
    "string_too_long": "is too long",
    "string_too_short": "is too short",
    "date_type": "must be a date, YYYY-MM-DD",
    "date_parsing": "must be a date, YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date, YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date, YYYY-MM-DD",
    "time_type": "must be a time, HH:MM",
    "time_parsing": "must be a time, HH:MM",
    "datetime_type": "must be a date and time in ISO 8601",
    "datetime_parsing": "must be a date and time in ISO 8601",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
}


def validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "body"
        fields.setdefault(name, _MESSAGES.get(err["type"], err["msg"]))
    return fields


def json_response(
    data: BaseModel | dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return JSONResponse(payload, status_code=status, headers=headers)


def render_error(error: PortalError) -> Response:
    return JSONResponse(error.to_dict(), status_code=error.status_code, headers=error.headers)


async def portal_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PortalError)
    return render_error(exc)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = {
        404: "Nothing here.",
        405: "This method is not allowed here.",
    }.get(exc.status_code, str(exc.detail))
    return render_error(
        PortalError(message, status_code=exc.status_code, code=code, headers=exc.headers)
    )


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    PortalError: portal_error_handler,
    HTTPException: http_error_handler,
}


# --- middleware -------------------------------------------------------------

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


class RequestContextMiddleware:
    """Request id, one JSON access-log line, security headers, HTTPS in production."""

    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        started = time.perf_counter()
        status_holder: dict[str, int | None] = {"status": None}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                if self.production:
                    extra.append(
                        (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
                    )
                if scope["path"].startswith("/api/"):
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        if self.production and scope.get("scheme") == "http":
            # The redirect carries the request id and headers like any answer.
            await _redirect_to_https(scope, headers, send_with_headers)
            return

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # A failure outside any endpoint (which renders its own): the client
            # still gets the one error shape, with this request's id, and the
            # server re-raises so that its log has the traceback.
            if status_holder["status"] is None:
                await render_error(InternalError())(scope, receive, send_with_headers)
            raise
        finally:
            access_log.info(
                json.dumps(
                    {
                        "event": "http.request",
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_holder["status"] or 500,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                )
            )


async def _redirect_to_https(scope: Scope, headers: dict[str, str], send: Send) -> None:
    host = headers.get("host", "")
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
