"""The group invite link's pages (API.md "HTML pages": GET, POST /join/{code}; R16, B3, R23).

The sign-up answers 303 to /join/{code}/welcome, the group's intake forms, with the new session
held in the sign-in's short-lived cookie (`hand_over`, B9): never in a URL. Its "Continue to
your portal" button posts back and hands the portal a one-time code then, however long the
person took over the forms.
"""

from __future__ import annotations

from urllib.parse import urlencode

from chalice import Blueprint
from chalice.app import Request, Response
from pydantic import ValidationError

from chalicelib import config
from chalicelib.errors import NotFound, Throttled
from chalicelib.handlers import forms, hand_over
from chalicelib.handlers.http import source_address
from chalicelib.schemas.public import JoinSignIn, JoinSignUp
from chalicelib.services.clients import joining
from chalicelib.services.clients.joining import (
    ConfirmationState,
    Explained,
    JoinLink,
    LinkClosed,
    WrongPassword,
)

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py

FIELDS = {"step", "first_name", "last_name", "email", "password", "password_confirm"}
KEPT = ("first_name", "last_name", "email")  # shown again; passwords never are


def _closed(error: LinkClosed | NotFound) -> Response:
    if isinstance(error, LinkClosed):
        return forms.page(
            "join_closed.html",
            org=error.org,
            status=410,
            reason=error.reason,
            portal_url=config.PORTAL_URL,
        )
    return forms.page(  # neutral: an unknown code names no practice
        "join_closed.html", org=None, status=404, reason="unknown", portal_url=config.PORTAL_URL
    )


def _form(
    link: JoinLink,
    request_pair: forms.Csrf,
    *,
    step: str = "sign_up",
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    shown = {name: (values or {}).get(name, "") for name in KEPT}
    return forms.page(
        "join.html",
        org=link.org,
        status=status,
        pair=request_pair,
        group_name=link.group.name,
        step=step,
        values=shown,
        errors=errors or {},
    )


def join_page(code: str) -> Response:
    try:
        link = joining.open_link(code)
    except (LinkClosed, NotFound) as error:
        return _closed(error)
    query = dict(bp.current_request.query_params or {})
    step = "sign_in" if query.get("step") == "sign_in" else "sign_up"
    return _form(link, forms.csrf(bp.current_request), step=step)


def join_submit(code: str) -> Response:
    request = bp.current_request
    fields = forms.form(request, FIELDS)
    pair = forms.csrf(request)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    try:
        link = joining.open_link(code)
    except (LinkClosed, NotFound) as error:
        return _closed(error)
    step = "sign_in" if fields.get("step") == "sign_in" else "sign_up"
    schema = JoinSignIn if step == "sign_in" else JoinSignUp
    try:
        data = schema.model_validate({k: v for k, v in fields.items() if k in schema.model_fields})
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "form": _message(e) for e in exc.errors()}
        return _form(link, pair, step=step, status=400, values=fields, errors=errors)
    return _join(request, link, pair, step, data, fields)


def join_welcome(code: str) -> Response:
    request = bp.current_request
    try:
        org, group = joining.group_of_code(code)
    except NotFound as error:
        return _closed(error)
    held = hand_over.held(request) is not None
    return forms.page(
        "join_welcome.html",
        org=org,
        pair=forms.csrf(request) if held else None,
        group_name=group.name,
        intake_forms=list(group.intake_forms),
        held=held,
        sign_in_url=f"{hand_over.SIGN_IN}?{urlencode({'org': org.slug})}",
    )


def join_continue(code: str) -> Response:
    """B9: on to the portal with a one-time code for the session the sign-up opened."""
    request = bp.current_request
    fields = forms.form(request, set())
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    try:
        org, _ = joining.group_of_code(code)
    except NotFound as error:
        return _closed(error)
    found = hand_over.held(request)
    if found is None:  # the held session ended (15 minutes passed): sign in as anyone would
        sign_in = f"{hand_over.SIGN_IN}?{urlencode({'org': org.slug})}"
        return forms.redirect(sign_in, headers={"Set-Cookie": hand_over.released()})
    return hand_over.to_portal(found[0])


def _join(
    request: Request,
    link: JoinLink,
    pair: forms.Csrf,
    step: str,
    data: JoinSignUp | JoinSignIn,
    fields: dict[str, str],
) -> Response:
    """The sign-up or sign-in, and the page each outcome gets (R16, R23, R51): a sign-up that
    did not prove a login's password answers "check your email", whatever the address."""
    code = link.code
    try:
        if step == "sign_in":
            joined = joining.sign_in(link, **_details(data), source=source_address(request))
        else:
            signed_up = joining.sign_up(link, **_details(data), source=source_address(request))
            if signed_up is None:
                return forms.page("join_check_email.html", org=link.org, group_name=link.group.name)
            joined = signed_up
    except Explained as explained:  # told only after the login's password was proven
        return forms.page(
            "join_closed.html",
            org=link.org,
            status=409,
            reason=explained.reason,
            portal_url=config.PORTAL_URL,
        )
    except WrongPassword as wrong:
        return _form(
            link,
            pair,
            step="sign_in",
            status=400,
            values=fields,
            errors={"password": wrong.message},
        )
    except Throttled as throttled:
        return _form(
            link,
            pair,
            step=step,
            status=429,
            values=fields,
            errors={"form": throttled.message},
        )
    except LinkClosed as closed:
        return _closed(closed)
    return hand_over.hold(joined.token, f"/join/{code}/welcome")


def join_confirm_page(token: str) -> Response:
    """R16, R51: the link emailed to a new address; a button finishes the sign-up (a GET never
    does: mail scanners open links)."""
    found = joining.confirmation(token)
    return _confirmation(found, forms.csrf(bp.current_request))


def join_confirm_submit(token: str) -> Response:
    request = bp.current_request
    found = joining.confirmation(token)
    if found.state != ConfirmationState.OPEN:
        return _confirmation(found, forms.csrf(request))
    fields = forms.form(request, set())
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    try:
        joined = joining.confirm(token)
    except joining.ConfirmationDead as dead:
        return _confirmation(dead.found, forms.csrf(request))
    except (LinkClosed, NotFound) as closed:
        return _closed(closed)
    return hand_over.hold(joined.token, f"/join/{joined.code}/welcome")


_CONFIRMATION_STATUS = {
    ConfirmationState.OPEN: 200,
    ConfirmationState.DEAD: 410,
    ConfirmationState.LOGIN_MADE: 409,
}


def _confirmation(found: joining.Confirmation, pair: forms.Csrf) -> Response:
    if found.state == ConfirmationState.UNKNOWN:
        return forms.page("not_found.html", org=None, status=404)
    is_open = found.state == ConfirmationState.OPEN
    return forms.page(
        "join_confirm.html",
        org=found.org,
        status=_CONFIRMATION_STATUS[found.state],
        pair=pair if is_open else None,
        state=found.state,
        reason=found.reason,
        group_name=found.group_name,
        portal_url=config.PORTAL_URL,
    )


def _details(data: JoinSignUp | JoinSignIn) -> dict[str, str]:
    return {
        "first_name": data.first_name,
        "last_name": data.last_name,
        "email": data.email,
        "password": data.password,
    }


def _message(error: object) -> str:
    assert isinstance(error, dict)
    if error["type"] == "missing":
        return "Fill this in."
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
