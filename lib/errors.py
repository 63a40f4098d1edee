"""The one error model: every expected failure is a PortalError with a stable code."""

from __future__ import annotations

from collections.abc import Mapping


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable portal."""


class PortalError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class NotAuthenticated(PortalError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Sign in to continue.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(PortalError):
    status_code = 403
    code = "forbidden"

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class NotFound(PortalError):
    status_code = 404
    code = "not_found"

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class Invalid(PortalError):
    status_code = 422
    code = "invalid"

    def __init__(
        self, message: str = "Some fields are not valid.", *, fields: Mapping[str, str]
    ) -> None:
        super().__init__(message, fields=fields)


class PayloadTooLarge(PortalError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(PortalError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, headers={"Retry-After": str(self.retry_after)})
