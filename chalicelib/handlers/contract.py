"""The contract's error answers (API.md conventions), for app.py's middleware: Portico's errors
and Chalice's own, in one shape. Light on purpose: a cold start loads it before any handler."""

from __future__ import annotations

from chalice.app import Request, Response

from chalicelib import metrics
from chalicelib.errors import PorticoError
from chalicelib.handlers.routes import PAGES


def error_response(error: PorticoError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers={**error.headers()})


# Chalice answers some requests before any view runs (wrong method, wrong media type) and
# turns an unexpected exception into its own 500; those answers get the contract's shape.
_CHALICE_ERRORS = {
    "MethodNotAllowedError": ("method_not_allowed", "This path does not take that method."),
    "UnsupportedMediaType": (
        "unsupported_media_type",
        "Send the body as this path takes it: application/json (text/csv for an import, a form "
        "for a page).",
    ),
    "InternalServerError": ("internal_error", "Something went wrong on our side; try again."),
}


def counted(response: Response) -> Response:
    """Every 429 the API answers, a page's included, counts as a throttle (metrics.py)."""
    if response.status_code == 429:
        metrics.count("Throttled")
    return response


def contract_shape(response: Response) -> Response:
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code, message = _CHALICE_ERRORS.get(body["Code"], ("error", str(body.get("Message"))))
        response.body = {"error": {"code": code, "message": message}}
    return response


# The failures a page does not answer itself: AWS busy past the SDK's retries, a server error.
_PAGE_FAILURES = frozenset({429, 500})


def page_failure(request: Request, response: Response) -> bool:
    """A page's route (API.md "HTML pages") answered the API's JSON error for a failure that
    was not the page's own: a person's browser should get a page instead (forms.failure_page).
    A page's own answers (a throttled sign-in's form, R45) are pages already and stay."""
    path = (request.context or {}).get("resourcePath")
    body = response.body
    return (
        response.status_code in _PAGE_FAILURES
        and path in PAGES
        and isinstance(body, dict)
        and "error" in body
    )
