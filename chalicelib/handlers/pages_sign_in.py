"""Hosted sign-in (B9; API.md "HTML pages"): the sign-in page, the account chooser, the switch
page the portal links to, and sign-out.

- `/sign-in` signs in with the one service every way in uses: a password through
  `auth.sign_in` (R2, R45, R50, R51, R52), or a one-time code through `passcodes` (R22). A
  wrong password and an unknown email answer the same page. `?org=slug` wears that practice's
  branding; without it the page is neutral (B7).
- `/sign-in/choose` lists every account of the login (R2) with its practice's name and logo;
  choosing one enters it at once (`auth.switch`, R3) and hands the portal a one-time code.
- `/sign-in/switch` is where the portal's "Switch account" button posts its session: the same
  chooser then lists the other accounts (R3) and offers sign-out.

The session between these pages is held in a short-lived cookie (`hand_over`), never in a URL.
Forms post back to their own path with a CSRF pair; no page runs a script.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from chalice import Blueprint
from chalice.app import Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib import config
from chalicelib.errors import NotFound, Throttled, Unauthenticated
from chalicelib.handlers import forms, hand_over
from chalicelib.handlers.http import source_address
from chalicelib.handlers.views.identity import choice_view
from chalicelib.rules.actors import Actor
from chalicelib.schemas.identity import (
    Login,
    OtpRequest,
    OtpVerify,
    PasswordResetRequest,
    PortalRequest,
    Switch,
)
from chalicelib.services.identity import auth
from chalicelib.services.invites import passcodes, resets
from chalicelib.services.portal import hosted

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py
B = TypeVar("B", bound=BaseModel)

SIGN_IN_FIELDS = {"intent", "email", "password", "code"}
CHOOSE_FIELDS = {"intent", "account_id"}


# /sign-in ------------------------------------------------------------------------------------


def sign_in_page() -> Response:
    request = bp.current_request
    door = hosted.sign_in_page(_org_slug(request))
    if hand_over.portal_request(request) is None:
        return _incomplete(door)
    return _sign_in_form(request, door)


def sign_in_submit() -> Response:
    request = bp.current_request
    fields = forms.form(request, SIGN_IN_FIELDS)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    door = hosted.sign_in_page(_org_slug(request))
    portal = hand_over.portal_request(request)
    if portal is None:
        return _incomplete(door)
    intent = fields.get("intent", "")
    act = _INTENTS.get(intent, _with_password)
    if act in {_send_code, _with_code} and not door.offers_passcode:
        act = _with_password
    try:
        outcome = act(request, door, fields)
    except Throttled as throttled:  # R45, R52: counted before anything was checked
        step = _code_form if act is _with_code else _sign_in_form
        shown = step(request, door, fields, {"form": throttled.message}, status=429)
        shown.headers.update(throttled.headers())
        return shown
    if isinstance(outcome, Response):
        return outcome
    assert outcome.token is not None
    return hand_over.signed_in(outcome.token, entered=outcome.account is not None, portal=portal)


Outcome = Response | auth.SignedIn


def _with_password(request: Request, door: hosted.SignInPage, fields: dict[str, str]) -> Outcome:
    """R2, R45, R50: the one sign-in; R51: an unknown email and a wrong password answer alike."""
    login = _valid(
        Login, {"email": fields.get("email", ""), "password": fields.get("password", "")}
    )
    if isinstance(login, dict):
        return _sign_in_form(request, door, fields, login)
    try:
        return auth.sign_in(login, source_address(request))
    except Unauthenticated as wrong:
        return _sign_in_form(request, door, fields, {"form": wrong.message})


def _send_code(request: Request, door: hosted.SignInPage, fields: dict[str, str]) -> Outcome:
    """R22: "email me a code"; the next step says the same whether or not one was sent (R51)."""
    asked = _valid(OtpRequest, {"email": fields.get("email", "")})
    if isinstance(asked, dict):
        return _sign_in_form(request, door, fields, asked)
    passcodes.request(asked.email, source_address(request))
    return _code_form(request, door, {"email": asked.email})


def _with_code(request: Request, door: hosted.SignInPage, fields: dict[str, str]) -> Outcome:
    """R22: the emailed code signs in as a password would, over the accounts it may open."""
    given = _valid(OtpVerify, {"email": fields.get("email", ""), "code": fields.get("code", "")})
    if isinstance(given, dict):
        return _code_form(request, door, fields, given)
    try:
        return passcodes.verify(given.email, given.code, source_address(request))
    except Unauthenticated as wrong:
        return _code_form(request, door, fields, {"code": wrong.message})


def _send_reset(request: Request, door: hosted.SignInPage, fields: dict[str, str]) -> Outcome:
    """R20: "forgot your password": a reset link by email, told alike for every address."""
    asked = _valid(PasswordResetRequest, {"email": fields.get("email", "")})
    if isinstance(asked, dict):
        return _sign_in_form(request, door, fields, asked)
    resets.request(asked.email, source_address(request))
    return forms.page("sign_in_reset_sent.html", org=door.org, sign_in_url=_again(request))


_INTENTS: dict[str, Callable[[Request, hosted.SignInPage, dict[str, str]], Outcome]] = {
    "password": _with_password,
    "send_code": _send_code,
    "verify_code": _with_code,
    "reset": _send_reset,
}


def _sign_in_form(
    request: Request,
    door: hosted.SignInPage,
    fields: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    *,
    status: int | None = None,
) -> Response:
    return _page(request, door, "password", fields or {}, errors, status, door.offers_passcode)


def _code_form(
    request: Request,
    door: hosted.SignInPage,
    fields: dict[str, str],
    errors: dict[str, str] | None = None,
    *,
    status: int | None = None,
) -> Response:
    """R22: the code's step; it says the same whether or not a code was sent (R51)."""
    return _page(request, door, "code", fields, errors, status, True, sign_in_url=_again(request))


def _page(
    request: Request,
    door: hosted.SignInPage,
    step: str,
    fields: dict[str, str],
    errors: dict[str, str] | None,
    status: int | None,
    offers_passcode: bool,
    **shown: Any,
) -> Response:
    """The sign-in page at `step`: 400 when a field is wrong, unless `status` says otherwise."""
    return forms.page(
        "sign_in.html",
        org=door.org,
        status=status or (400 if errors else 200),
        pair=forms.csrf(request),
        step=step,
        practice=door.org is not None,
        offers_passcode=offers_passcode,
        email=fields.get("email", ""),  # shown again; a password never is
        errors=errors or {},
        **shown,
    )


def _incomplete(door: hosted.SignInPage) -> Response:
    """400: the app's PKCE challenge or state is malformed; a code it could not trade is never
    handed over."""
    return forms.page("sign_in_incomplete.html", org=door.org, status=400)


# /sign-in/choose and /sign-in/switch -------------------------------------------------------


def choose_page() -> Response:
    request = bp.current_request
    if hand_over.portal_request(request) is None:
        return _incomplete(hosted.SignInPage(None, offers_passcode=False))
    found = hand_over.held(request)
    if found is None:
        return _start_again(request)
    return _chooser(request, found[1])


def choose_submit() -> Response:
    request = bp.current_request
    fields = forms.form(request, CHOOSE_FIELDS)
    if not forms.csrf_valid(request, fields):
        return forms.csrf_refused(request)
    portal = hand_over.portal_request(request)
    if portal is None:
        return _incomplete(hosted.SignInPage(None, offers_passcode=False))
    found = hand_over.held(request)
    if found is None:
        return _start_again(request)
    token, actor = found
    if fields.get("intent") == "sign_out":
        auth.sign_out(actor)
        shown = forms.page("signed_out.html", org=None, sign_in_url=hand_over.SIGN_IN)
        shown.headers["Set-Cookie"] = hand_over.released()
        return shown
    return _enter(request, actor, token, fields.get("account_id", ""), portal)


def _enter(
    request: Request, actor: Actor, token: str, account_id: str, portal: PortalRequest
) -> Response:
    """R3: the chosen account is entered at once and the portal gets its code."""
    chosen = _valid(Switch, {"account_id": account_id})
    if isinstance(chosen, dict):
        return _chooser(request, actor, {"form": "Choose one of the accounts below."})
    if actor.account is not None and chosen.account_id == actor.account.account_id:
        return hand_over.to_portal(token, portal)  # the account it is in already: no new entry
    try:
        switched = auth.switch(actor, chosen)
    except NotFound as gone:  # closed meanwhile (archived, login shut, grant removed)
        return _chooser(request, actor, {"form": gone.message})
    assert switched.token is not None
    return hand_over.to_portal(switched.token, portal)


def switch_from_portal() -> Response:
    """R3: the portal's "Switch account" button posts its session here (in the body, never a
    URL), and the chooser takes over. No CSRF pair can come from the portal, so the request
    must come from the portal's own origin (a browser's Origin header cannot be forged by
    another site); the session itself is the proof of who asks."""
    request = bp.current_request
    fields = forms.form(request, {"session_token"})
    if not _from_portal(request):
        return forms.csrf_refused(request)
    token = fields.get("session_token", "")
    if not token or hand_over.live(token) is None:
        return _start_again(request)
    return hand_over.hold(
        token, hand_over.CHOOSER + hand_over.query(hand_over.portal_request(request))
    )


def _chooser(request: Request, actor: Actor, errors: dict[str, str] | None = None) -> Response:
    found = hosted.chooser(actor)
    return forms.page(
        "choose.html",
        org=None,  # the accounts of several practices: the neutral look (B7)
        status=400 if errors else 200,
        pair=forms.csrf(request),
        email=found.identity.email,
        choices=[choice_view(choice) for choice in found.choices],
        switching=actor.account is not None,
        errors=errors or {},
    )


def _start_again(request: Request) -> Response:
    """The held sign-in ended (15 minutes passed, signed out, or never began): sign in again,
    keeping the app's request."""
    location = hand_over.SIGN_IN + hand_over.query(hand_over.portal_request(request))
    return forms.redirect(location, headers={"Set-Cookie": hand_over.released()})


def _from_portal(request: Request) -> bool:
    origin = request.headers.get("origin", "")
    allowed = {_origin_of(config.PORTAL_URL), _origin_of(config.PUBLIC_URL)}
    return origin in allowed


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Shared ---------------------------------------------------------------------------------------


def _org_slug(request: Request) -> str | None:
    query: dict[str, str] = dict(request.query_params or {})
    slug = query.get("org")
    return slug if slug and len(slug) <= 40 else None


def _again(request: Request) -> str:
    """This sign-in page's address as the visitor came (its practice and the app's request)."""
    slug = _org_slug(request)
    extra = {"org": slug} if slug else {}
    return hand_over.SIGN_IN + hand_over.query(hand_over.portal_request(request), **extra)


def _valid(schema: type[B], values: dict[str, str]) -> B | dict[str, str]:
    """The fields as `schema`, or the errors to show beside them."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        return {str(e["loc"][0]) if e["loc"] else "form": _message(e) for e in exc.errors()}


def _message(error: Any) -> str:
    if error["type"] in {"missing", "string_too_short"}:
        return "Fill this in."
    if error["type"] == "string_pattern_mismatch":
        return "Enter the 6 digits of the code."
    return str(error["msg"]).removeprefix("Value error, ")
