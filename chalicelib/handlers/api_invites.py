"""Invites, password resets and one-time passcodes (API.md; R14, R20, R22, B1)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import accepted, actor, no_content, ok, parse, source_address
from chalicelib.handlers.views.clients import invite_view
from chalicelib.handlers.views.identity import signed_in_view
from chalicelib.schemas.identity import OtpRequest, OtpVerify, PasswordResetRequest
from chalicelib.services.invites import invites, passcodes, resets

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def send_invite(org_id: str, client_id: str) -> Response:
    caller = actor(bp.current_request, invites.send_reads(org_id, client_id))
    outcome = invites.send(caller, org_id, client_id)
    return accepted({"invite": invite_view(outcome)})


def revoke_invite(org_id: str, client_id: str) -> Response:
    invites.revoke(actor(bp.current_request), org_id, client_id)
    return no_content()


def send_password_reset(org_id: str, client_id: str) -> Response:
    resets.send_for_client(actor(bp.current_request), org_id, client_id)
    return accepted()


def request_password_reset() -> Response:
    request = bp.current_request
    resets.request(parse(PasswordResetRequest, request).email, source_address(request))
    return accepted()


def request_otp() -> Response:
    request = bp.current_request
    passcodes.request(parse(OtpRequest, request).email, source_address(request))
    return accepted()


def verify_otp() -> Response:
    request = bp.current_request
    body = parse(OtpVerify, request)
    return ok(signed_in_view(passcodes.verify(body.email, body.code, source_address(request))))
