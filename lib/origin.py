"""Which site a browser request comes from, for endpoints that act on cookies."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from lib.errors import PortalError

DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginNotAllowed(PortalError):
    status_code = 403
    code = "origin_not_allowed"

    def __init__(self) -> None:
        super().__init__("This request came from a page of another site.")


def origin_of(url: str) -> str:
    """scheme://host[:port] as a browser writes it in `Origin`."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port if parts.port not in {None, DEFAULT_PORTS.get(scheme)} else None
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def require_same_site(request: Request, site_url: str) -> None:
    """For endpoints that act on the session cookies: refuse a browser request
    sent by a page of another site. Beside the cookies' SameSite=Strict, this
    holds even for a browser that ignores SameSite. A request without `Origin`
    (not from a browser, or a same-origin GET) passes unless Fetch Metadata
    says it is cross-site."""
    origin = request.headers.get("origin")
    if origin is None:
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise OriginNotAllowed()
        return
    # The site's own address, and the address this request was sent to (a
    # developer on 127.0.0.1 while SITE_URL says localhost): no other site
    # can send either as its origin.
    allowed = {origin_of(site_url), origin_of(f"{request.url.scheme}://{request.url.netloc}")}
    try:
        sent = origin_of(origin)
    except ValueError:
        raise OriginNotAllowed() from None
    if origin.strip().lower() == "null" or sent not in allowed:
        raise OriginNotAllowed()
