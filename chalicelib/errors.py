"""One family of errors, each with a status, a code and a message a person can act on.

They derive from Chalice's ChaliceUnhandledError so that they pass through Chalice to the
middleware in app.py, the one place that turns them into the contract's JSON.
"""

from __future__ import annotations

from typing import Any

from chalice.app import ChaliceUnhandledError


class PorticoError(ChaliceUnhandledError):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}

    def headers(self) -> dict[str, str]:
        return {}


class Invalid(PorticoError):
    """400: malformed or invalid input; `details` names the fields."""

    def __init__(
        self, message: str, *, details: list[dict[str, str]] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code or "invalid_request", details=details or [])


class Unauthenticated(PorticoError):
    status = 401
    code = "unauthenticated"


class Forbidden(PorticoError):
    status = 403
    code = "forbidden"


class NotFound(PorticoError):
    status = 404
    code = "not_found"


class Conflict(PorticoError):
    status = 409
    code = "conflict"


class TooLarge(PorticoError):
    status = 413
    code = "too_large"


class Throttled(PorticoError):
    status = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def busy() -> Throttled:
    """429 when AWS sheds load past the SDK's retries, or leaves a batch's keys unread: the
    caller may send the request again (a change is one transaction, there whole or not at
    all)."""
    return Throttled("Portico is busy right now; try again in a moment.", retry_after=1)


def field_error(field: str, message: str) -> Invalid:
    """A 400 about one field of the request."""
    return Invalid(message, details=[{"field": field, "message": message}])
