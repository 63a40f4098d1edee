"""HTTP plumbing: endpoints with declared access and one error renderer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from lib.body import parse_body
from lib.db import counting_statements
from lib.errors import (
    Forbidden,
    Invalid,
    NotAuthenticated,
    NotFound,
    PortalError,
)
from lib.httpcache import CachePolicy, answer_cached
from lib.runtime import CurrentUser, Portal
from lib.security import Role

log = logging.getLogger("portal")

BodyT = TypeVar("BodyT")
SchemaT = TypeVar("SchemaT", bound=BaseModel)

ALL_ROLES: frozenset[Role] = frozenset(Role)
STATEMENTS_HEADER = "X-Portal-Statements"


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
    cache: CachePolicy | None = None


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
    cache: CachePolicy | None = None,
) -> Callable[[Handler], Endpoint]:
    """Wrap a handler: authenticate, check the role, parse the body, run it in
    one database session that commits once on success and rolls back on error.

    With `own_transactions` the handler gets no session: its service opens its
    own (`portal.transaction()`), e.g. to call Stripe between two of them. The
    caller is then read in a session closed before the handler runs, so that
    no session is held open (on SQLite: the write lock) while it works.

    With `cache` a GET answers with HTTP caching headers and 304s, anonymous
    callers from the process's page cache (see lib.httpcache)."""
    spec = EndpointSpec(
        access, body, response, status, summary, tuple(query), tuple(errors), own_transactions,
        cache,
    )  # fmt: skip

    def wrap(handler: Handler) -> Endpoint:
        async def run(request: Request) -> Response:
            portal: Portal = request.app.state.portal
            if not portal.settings.count_statements:
                return await _serve(request, portal, spec, handler)
            with counting_statements() as counter:
                response = await _serve(request, portal, spec, handler)
            response.headers[STATEMENTS_HEADER] = str(counter[0])
            return response

        run.__name__ = handler.__name__
        run.__doc__ = handler.__doc__
        run.__portal_spec__ = spec  # type: ignore[attr-defined]
        return run

    return wrap


def _serve(
    request: Request, portal: Portal, spec: EndpointSpec, handler: Handler
) -> Awaitable[Response]:
    if spec.cache is not None and request.method in {"GET", "HEAD"}:
        return answer_cached(
            request, portal, spec.cache, lambda: _answer(request, portal, spec, handler)
        )
    return _answer(request, portal, spec, handler)


async def _answer(
    request: Request, portal: Portal, spec: EndpointSpec, handler: Handler
) -> Response:
    try:
        if spec.own_transactions:
            result = await _run_alone(request, portal, spec.access, spec.body, handler)
        else:
            result = await _run_in_session(request, portal, spec.access, spec.body, handler)
    except PortalError:
        raise
    except Exception as exc:
        log.exception("request.failed", extra={"path": request.url.path})
        raise InternalError() from exc
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204 if spec.status == 200 else spec.status)
    return json_response(result, status=spec.status)


async def _run_in_session(
    request: Request,
    portal: Portal,
    access: Access,
    body: type[BaseModel] | None,
    handler: Handler,
) -> Response | BaseModel | None:
    # The caller is read before the request's session begins (on SQLite a
    # write session's BEGIN IMMEDIATE takes the write lock).
    user = await _authenticate(request, portal, access)
    parsed = await parse_body(request, body) if body is not None else None
    if request.method in {"GET", "HEAD"}:
        return await _run_read(request, portal, user, parsed, handler)
    async with portal.sessions() as session:
        try:
            result = await handler(Call(request, portal, session, user, parsed))
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    return result


async def _run_read(
    request: Request, portal: Portal, user: CurrentUser | None, parsed: Any, handler: Handler
) -> Response | BaseModel | None:
    """A read: its session costs nothing until a statement goes through it
    (a fast read path sends its statements by the driver, lib/fastreads.py),
    and holds no transaction to commit (each statement reads the latest)."""
    session = portal.read_sessions()
    try:
        return await handler(Call(request, portal, session, user, parsed))
    finally:
        if session.in_transaction():
            await session.close()


async def _run_alone(
    request: Request,
    portal: Portal,
    access: Access,
    body: type[BaseModel] | None,
    handler: Handler,
) -> Response | BaseModel | None:
    user = await _authenticate(request, portal, access)
    parsed = await parse_body(request, body) if body is not None else None
    return await handler(Call(request, portal, None, user, parsed))


def spec_of(endpoint: object) -> EndpointSpec | None:
    return getattr(endpoint, "__portal_spec__", None)


class InternalError(PortalError):
    status_code = 500
    code = "internal_error"

    def __init__(self) -> None:
        super().__init__("Something went wrong on our side. Please try again.")


async def _authenticate(request: Request, portal: Portal, access: Access) -> CurrentUser | None:
    header = request.headers.get("authorization")
    if not header:
        if access.public:
            return None
        raise NotAuthenticated()
    if access.public:
        # A stale token must not lock anyone out of sign-in or refresh.
        try:
            return await _user_from_header(header, portal)
        except NotAuthenticated:
            return None
    user = await _user_from_header(header, portal)
    if user.role not in access.roles:
        raise Forbidden()
    return user


async def _user_from_header(header: str, portal: Portal) -> CurrentUser:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Use an `Authorization: Bearer <token>` header.")
    claims = portal.tokens.verify(token.strip(), now=portal.clock.now())
    # The user is read on every call so that a deactivation or a role change
    # takes effect at once, not when the access token runs out.
    user = await portal.load_user(portal.reads, claims.user_id, claims.issued_at)
    if user is None:
        raise NotAuthenticated("Your session has ended. Sign in again.")
    return user


class JSONBytes(Response):
    """An answer already encoded as JSON (e.g. from a cache of encoded parts)."""

    media_type = "application/json"


def json_response(
    data: BaseModel | dict[str, Any] | list[Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """JSON from a response model (pydantic's own serializer) or from plain
    data (orjson: datetimes as ISO 8601 with their offset, like isoformat())."""
    if isinstance(data, BaseModel):
        content = type(data).__pydantic_serializer__.to_json(data)
    else:
        content = orjson.dumps(data)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def render_error(error: PortalError) -> Response:
    return json_response(error.to_dict(), status=error.status_code, headers=error.headers)


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
