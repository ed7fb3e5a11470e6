"""The caregiver-invite landing page (API.md "HTML pages", R30): accept access to a care
receiver's account, by setting a password or confirming one's own."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Request, Response

from chalicelib.errors import Invalid, Throttled
from chalicelib.handlers import forms, hand_over
from chalicelib.handlers.http import source_address
from chalicelib.models.tokens import TokenStatus
from chalicelib.services.families import caregiver_invites

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py

PAGE = "caregiver_invite.html"
DEAD = "caregiver_invite_dead.html"
FIELDS = {"password", "confirm"}


def _dead(invite: caregiver_invites.CaregiverInvite | None) -> Response:
    if invite is None:
        return forms.page(DEAD, org=None, status=404, state="unknown")
    return forms.page(DEAD, org=invite.org, status=410, state=invite.state)


def _form(
    request: Request, invite: caregiver_invites.CaregiverInvite, status: int, errors: dict[str, str]
) -> Response:
    assert invite.receiver is not None
    return forms.page(
        PAGE,
        org=invite.org,
        status=status,
        pair=forms.csrf(request),
        has_password=invite.has_password,
        receiver_first_name=invite.receiver.first_name,
        errors=errors,
    )


def caregiver_invite_page(token: str) -> Response:
    invite = caregiver_invites.caregiver_invite(token)
    if invite is None or invite.state != TokenStatus.LIVE:
        return _dead(invite)
    return _form(bp.current_request, invite, 200, {})


def accept_caregiver_invite(token: str) -> Response:
    request = bp.current_request
    invite = caregiver_invites.caregiver_invite(token)
    if invite is None or invite.state != TokenStatus.LIVE:
        return _dead(invite)
    fields = forms.form(request, FIELDS)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    try:
        session_token = caregiver_invites.accept_caregiver_invite(
            invite, fields.get("password", ""), fields.get("confirm"), source_address(request)
        )
    except Invalid as error:
        errors = {d["field"]: d["message"] for d in error.extra.get("details", [])}
        return _form(request, invite, 400, errors or {"form": error.message})
    except Throttled as error:
        return _form(request, invite, 429, {"form": error.message})
    # B9: signed in, choosing between the care receiver's account and their own (R2).
    return hand_over.signed_in(session_token, entered=False)
