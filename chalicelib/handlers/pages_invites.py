"""Landing pages of invites, staff invites and password resets (API.md "HTML pages"; R15,
R20, R49, B2: a dead invite or staff invite lets its visitor ask for a new one).

GET shows the page; POST (form, CSRF required) acts. Success signs the person in and hands the
portal a one-time code (`hand_over`, B9), after an invite, a staff invite or a reset: never the
session's token in a URL. A dead link answers 410 saying why, an unknown one 404 on a neutral
page, a missing or wrong CSRF token 403.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import Request, Response

from chalicelib import config
from chalicelib.handlers import forms, hand_over
from chalicelib.handlers.http import source_address
from chalicelib.services.invites import landing, resets
from chalicelib.services.practices import staff

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py

FIELDS = {"password", "confirm", "intent"}


def _not_found() -> Response:
    return forms.page("not_found.html", org=None, status=404)


def _invite_page(
    request: Request,
    found: landing.Landing,
    errors: dict[str, str] | None = None,
    status: int | None = None,
) -> Response:
    if found.state == landing.LandingState.UNKNOWN:
        return _not_found()
    shown: dict[str, Any] = {"portal_url": config.PORTAL_URL, "errors": errors or {}}
    if found.state == landing.LandingState.DEAD:
        return forms.page(
            "invite_dead.html",
            org=found.org,
            status=410,
            pair=forms.csrf(request),
            reason=found.reason,
            **shown,
        )
    if found.state == landing.LandingState.REQUESTED:
        return forms.page("invite_requested.html", org=found.org, **shown)
    assert found.profile is not None
    return forms.page(
        "invite.html",
        org=found.org,
        status=status or (400 if errors else 200),
        pair=forms.csrf(request),
        state=found.state,
        first_name=found.profile.first_name,
        **shown,
    )


def invite_page(token: str) -> Response:
    return _invite_page(bp.current_request, landing.landing(token))


def invite_form(token: str) -> Response:
    request = bp.current_request
    fields = forms.form(request, FIELDS)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    if fields.get("intent") == "renew":  # B2: a dead link asks the practice for a new one
        return _invite_page(request, landing.renewal(token))
    outcome = landing.accept(
        token, fields.get("password", ""), fields.get("confirm", ""), source_address(request)
    )
    if outcome.handover_code:
        return hand_over.with_code(outcome.handover_code)
    return _invite_page(request, outcome.landing, outcome.errors, outcome.status)


def _staff_invite_page(
    request: Request,
    found: staff.StaffLanding,
    errors: dict[str, str] | None = None,
    status: int | None = None,
) -> Response:
    if found.state == staff.StaffInviteState.UNKNOWN:
        return _not_found()
    shown: dict[str, Any] = {"portal_url": config.PORTAL_URL, "errors": errors or {}}
    if found.state == staff.StaffInviteState.DEAD:
        return forms.page(
            "staff_invite_dead.html",
            org=found.org,
            status=410,
            pair=forms.csrf(request),
            reason=found.reason,
            **shown,
        )
    if found.state == staff.StaffInviteState.REQUESTED:
        return forms.page("invite_requested.html", org=found.org, **shown)
    assert found.provider is not None
    return forms.page(
        "staff_invite.html",
        org=found.org,
        status=status or (400 if errors else 200),
        pair=forms.csrf(request),
        state=found.state,
        first_name=found.provider.first_name,
        **shown,
    )


def staff_invite_page(token: str) -> Response:
    return _staff_invite_page(bp.current_request, staff.landing(token))


def staff_invite_form(token: str) -> Response:
    request = bp.current_request
    fields = forms.form(request, FIELDS)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    if fields.get("intent") == "renew":  # B2: a dead link asks the practice for a new one
        return _staff_invite_page(request, staff.renewal(token))
    outcome = staff.accept(
        token, fields.get("password", ""), fields.get("confirm", ""), source_address(request)
    )
    if outcome.handover_code:
        return hand_over.with_code(outcome.handover_code)
    return _staff_invite_page(request, outcome.landing, outcome.errors, outcome.status)


def _reset_page(
    request: Request, found: resets.ResetLanding, errors: dict[str, str] | None = None
) -> Response:
    if found.state == resets.ResetState.UNKNOWN:
        return _not_found()
    shown: dict[str, Any] = {"portal_url": config.PORTAL_URL, "errors": errors or {}}
    if found.state == resets.ResetState.DEAD:
        return forms.page(
            "reset_dead.html", org=found.org, status=410, reason=found.reason, **shown
        )
    return forms.page(
        "reset.html",
        org=found.org,
        status=400 if errors else 200,
        pair=forms.csrf(request),
        **shown,
    )


def reset_page(token: str) -> Response:
    return _reset_page(bp.current_request, resets.landing(token))


def reset_form(token: str) -> Response:
    request = bp.current_request
    fields = forms.form(request, FIELDS)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    outcome = resets.redeem(token, fields.get("password", ""), fields.get("confirm", ""))
    if outcome.session_token:
        return hand_over.signed_in(outcome.session_token, entered=outcome.entered)
    return _reset_page(request, outcome.landing, outcome.errors)
