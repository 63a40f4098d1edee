"""HTTP caching for GET endpoints that declare it (`@endpoint(..., cache=...)`).

- Anonymous callers: the answer comes from the process's page cache, keyed by
  the path, the query, the data version and today's date (a course's status
  depends on the date); `Cache-Control: public, max-age=N`, a strong `ETag`
  (a hash of the body) and `304 Not Modified` for a matching `If-None-Match`.
- Signed-in callers (any `Authorization` header): the answer is made afresh,
  `Cache-Control: private, no-cache` with the body's `ETag`, so that a browser
  revalidates every time and a repeat costs a 304 instead of the body.

Both say `Vary: Authorization`: a cache never hands an anonymous answer to a
signed-in request, nor the reverse. `CDN-Cache-Control: no-store` (RFC 9213)
keeps CDNs, some of which ignore `Vary`, from keeping even anonymous answers.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from starlette.requests import Request
from starlette.responses import Response

from lib.caching import NotCacheable, Page
from lib.runtime import Portal

Produce = Callable[[], Awaitable[Response]]
PageKey = tuple[str, str, tuple[tuple[str, str], ...], int, date]


@dataclass(frozen=True)
class CachePolicy:
    """Which versioned data an endpoint's answers depend on (`source`, a key of
    `Portal.caches`) and for how long a browser may keep an anonymous answer."""

    source: str
    max_age: int = 10


PUBLIC_CATALOG = CachePolicy("catalog", max_age=10)

PRIVATE = "private, no-cache"


async def answer_cached(
    request: Request, portal: Portal, policy: CachePolicy, produce: Produce
) -> Response:
    store = portal.caches.get(policy.source)
    if store is None or request.headers.get("authorization"):
        return _private(request, await produce())
    version = await store.version()
    key: PageKey = (
        policy.source,
        request.url.path,
        _normalized_query(request),
        version,
        portal.clock.now().date(),
    )
    try:
        page = await store.pages.get_or_make(key, lambda: _page(produce))
    except NotCacheable as refused:
        answer: Response = refused.answer  # type: ignore[assignment]
        return answer
    return _public(request, page, policy)


async def _page(produce: Produce) -> Page:
    response = await produce()
    if response.status_code != 200:
        raise NotCacheable(response)
    body = bytes(response.body)
    return Page(body=body, etag=etag_of(body), media_type=response.media_type or "")


def _normalized_query(request: Request) -> tuple[tuple[str, str], ...]:
    # A handler reads the first value of each name, so that is all the key
    # needs; the order of the names does not change the answer.
    query = request.query_params
    return tuple(sorted((name, query[name]) for name in set(query.keys())))


def _public(request: Request, page: Page, policy: CachePolicy) -> Response:
    headers = {
        "ETag": page.etag,
        "Cache-Control": f"public, max-age={policy.max_age}",
        "CDN-Cache-Control": "no-store",
        "Vary": "Authorization",
    }
    if matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.body, headers=headers, media_type=page.media_type)


def _private(request: Request, response: Response) -> Response:
    response.headers["Cache-Control"] = PRIVATE
    response.headers["Vary"] = "Authorization"
    if response.status_code != 200:
        return response
    etag = etag_of(bytes(response.body))
    response.headers["ETag"] = etag
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={k: response.headers[k] for k in _KEPT_ON_304})
    return response


_KEPT_ON_304 = ("ETag", "Cache-Control", "Vary")


def etag_of(body: bytes) -> str:
    """A strong validator: the same bytes, the same tag, in every process."""
    digest = hashlib.blake2b(body, digest_size=16).digest()
    return '"' + base64.urlsafe_b64encode(digest).decode().rstrip("=") + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: a list of tags or `*`, compared weakly."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
