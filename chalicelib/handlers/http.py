"""What every JSON route shares: parsing into schemas, the caller's session, answers."""

from __future__ import annotations

from typing import Any, TypeVar

from chalice.app import Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib import config
from chalicelib.errors import Invalid, TooLarge
from chalicelib.rules.actors import Actor
from chalicelib.services.identity import sessions

B = TypeVar("B", bound=BaseModel)


def raw_body(request: Request) -> bytes:
    """The body as sent. Chalice types it `str | bytes`; API Gateway and `chalice local` hand
    over bytes, and a str (a test client's) is encoded as the UTF-8 it was."""
    raw = request.raw_body or b""
    return raw.encode() if isinstance(raw, str) else raw


def parse(schema: type[B], request: Request, *, required: bool = False) -> B:
    """The request's JSON body as `schema`, or the contract's 400/413 (API.md conventions).

    A missing body reads as `{}` (an empty change), unless `required`: a PUT replaces what it
    names, so a body lost on the way must not reset everything."""
    raw = raw_body(request)
    if len(raw) > config.MAX_JSON_BODY_BYTES:
        raise TooLarge("The request body is larger than 1 MB.", code="body_too_large")
    if required and not raw.strip():
        raise Invalid(
            "Send the request's JSON body.",
            details=[{"field": "body", "message": "This request needs a JSON body."}],
        )
    try:
        return schema.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _invalid(exc) from None


def parse_query(schema: type[B], request: Request) -> B:
    params = dict(request.query_params or {})
    try:
        return schema.model_validate(params)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> Invalid:
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"]
        if error["type"] == "json_invalid":
            field, message = "body", "The body is not valid JSON."
        elif error["type"] == "extra_forbidden":
            message = "This field is not part of this request."
        elif error["type"] == "model_type":
            message = "Expected a JSON object."
        details.append({"field": field, "message": message})
    return Invalid("Some fields need a fix: see details.", details=details)


def actor(request: Request, ahead: sessions.Ahead | None = None) -> Actor:
    """The caller's live session (401 if none): `Authorization: Bearer <token>`. `ahead`: what
    the route reads next, read with the session (issue #17)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return sessions.authenticate(token.strip() if scheme.lower() == "bearer" else None, ahead)


def source_address(request: Request) -> str:
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def ok(body: dict[str, Any]) -> Response:
    return Response(body=body, status_code=200)


def created(body: dict[str, Any]) -> Response:
    return Response(body=body, status_code=201)


def accepted(body: dict[str, Any] | None = None) -> Response:
    return Response(body=body or {}, status_code=202)


def html(page: str, status: int = 200) -> Response:
    return Response(
        body=page, status_code=status, headers={"Content-Type": "text/html; charset=utf-8"}
    )


def no_content() -> Response:
    return Response(body="", status_code=204)
