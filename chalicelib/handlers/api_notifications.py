"""Notifications (API.md "Clients", R54): a client notified with one kind of the catalogue,
and the addresses SES reported bouncing or complaining.

Two doors to one service function: staff call the API.md path with their session, as every
client of the API does; the platform's own services call `/v1/services/…` with IAM-signed
requests, which API Gateway checks (Chalice's IAM authorizer, on that route alone), so no
session of theirs exists to steal. `chalice local` does not check IAM signatures (it admits
the call if it carries a SigV4 header); the deployment template's method says `AWS_IAM`
(tests/test_deployment.py).
"""

from __future__ import annotations

from urllib.parse import unquote

from chalice import Blueprint
from chalice.app import Request, Response

from chalicelib import config
from chalicelib.errors import Forbidden
from chalicelib.handlers.http import accepted, actor, no_content, ok, parse
from chalicelib.handlers.views.email import notification_view, suppressed_view
from chalicelib.schemas.notifications import SendNotification, idempotency_key
from chalicelib.services.email import notifications, suppressions
from chalicelib.services.email.notifications import Caller, PlatformService

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py

SIGV4 = "AWS4-HMAC-SHA256 "  # how a Signature Version 4 Authorization header starts


def _notify(caller: Caller, request: Request, org_id: str, client_id: str) -> Response:
    notified = notifications.notify(
        caller,
        org_id,
        client_id,
        parse(SendNotification, request, required=True),
        idempotency_key(request.headers.get("idempotency-key")),
    )
    return accepted({"notification": notification_view(notified)})


def notify_client(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    return _notify(actor(request), request, org_id, client_id)


def _signed_caller(request: Request) -> PlatformService:
    """The IAM principal API Gateway checked. A request without one is refused, should the
    route ever be served without its authorizer. `chalice local` checks no signature and gives
    no principal: there the request must still carry a Signature Version 4 `Authorization`
    header, as the contract says, so an unsigned call answers as it would on AWS."""
    identity = (request.context or {}).get("identity") or {}
    principal = identity.get("userArn")
    signed_locally = config.is_local() and (request.headers.get("authorization") or "").startswith(
        SIGV4
    )
    if not principal and not signed_locally:
        raise Forbidden("This route takes IAM-signed requests only.", code="iam_signature_needed")
    return PlatformService(str(principal or "unchecked-local-signature"))


def notify_client_as_service(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    return _notify(_signed_caller(request), request, org_id, client_id)


def suppressed_address(org_id: str, email: str) -> Response:
    found = suppressions.get(actor(bp.current_request), org_id, unquote(email))
    return ok({"suppressed_address": suppressed_view(found)})


def clear_suppressed_address(org_id: str, email: str) -> Response:
    suppressions.clear(actor(bp.current_request), org_id, unquote(email))
    return no_content()
