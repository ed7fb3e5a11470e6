"""How every page that signs someone in hands them to the portal (B9, API.md "Hand-over"):
the one place that does, so no page ever puts a session token in a URL.

- `to_portal`: 303 to `PORTAL_URL#code=…`, a one-time code (60 seconds, single use) that the
  portal trades through `POST /v1/auth/exchange`; the app's `state` rides beside it.
- `hold`: between pages (the chooser, a group's intake forms before the portal) the session is
  kept in a short-lived cookie, `__Host-` (Secure, Path=/, host-only), HttpOnly, never in a URL
  nor in a page. SameSite=Lax, not Strict: the switch page is reached from the portal, another
  site in production, and a Strict cookie set on that navigation would not come back on its
  redirect; every form that acts on it still needs its CSRF pair.
- `signed_in`: a session already in an account goes to the portal; one that must choose, to
  the chooser (R2).

`PortalRequest` is what an app may add to `/sign-in?…`: its PKCE challenge (native apps, OAuth
2.1) and `state`; every page of the way keeps it in its own address, never in a cookie.
"""

from __future__ import annotations

from urllib.parse import urlencode

from chalice.app import Request, Response
from pydantic import ValidationError

from chalicelib import config
from chalicelib.errors import Unauthenticated
from chalicelib.handlers import forms
from chalicelib.rules.actors import Actor
from chalicelib.schemas.identity import PortalRequest
from chalicelib.services.identity import handover, sessions

HELD_COOKIE = "__Host-portico_signin"
HELD_SECONDS = 15 * 60
CHOOSER = "/sign-in/choose"
SIGN_IN = "/sign-in"


def portal_request(request: Request) -> PortalRequest | None:
    """The app's PKCE challenge and state from the page's address; None when they are malformed
    (the page answers 400 rather than hand over a code the app could not trade)."""
    try:
        return PortalRequest.model_validate(dict(request.query_params or {}))
    except ValidationError:
        return None


def query(portal: PortalRequest | None, **extra: str) -> str:
    """`?…` carrying the app's request to the next page ('' when there is nothing to carry)."""
    values = {**(portal.model_dump(exclude_none=True) if portal else {}), **extra}
    return f"?{urlencode(values)}" if values else ""


def to_portal(session_token: str, portal: PortalRequest | None = None) -> Response:
    """B9: the portal gets a one-time code for the session, in the URL's fragment (which no
    server, log nor Referer sees); the held session, if any, is let go."""
    return with_code(
        handover.issue(session_token, portal.code_challenge if portal else None), portal
    )


def with_code(code: str, portal: PortalRequest | None = None) -> Response:
    """`to_portal` for a code the sign-in's own change wrote (`handover.add`)."""
    fragment = {"code": code, **({"state": portal.state} if portal and portal.state else {})}
    return forms.redirect(
        f"{config.PORTAL_URL}#{urlencode(fragment)}", headers={"Set-Cookie": released()}
    )


def hold(session_token: str, location: str) -> Response:
    """303 to the next page of a sign-in, the session held in the short-lived cookie."""
    return forms.redirect(
        location,
        headers={
            "Set-Cookie": forms.set_cookie(
                HELD_COOKIE, session_token, max_age=HELD_SECONDS, same_site="Lax"
            )
        },
    )


def signed_in(
    session_token: str, *, entered: bool, portal: PortalRequest | None = None
) -> Response:
    """R2: in an account already (the login has one, or the page entered one), to the portal;
    otherwise to the chooser."""
    if entered:
        return to_portal(session_token, portal)
    return hold(session_token, CHOOSER + query(portal))


def held(request: Request) -> tuple[str, Actor] | None:
    """The session a sign-in holds between pages and who it is, while the browser still has
    the cookie and the session is alive (read afresh, as every request is: R37, R38, R46)."""
    token = forms.cookie_of(request, HELD_COOKIE)
    actor = live(token) if token else None
    return (token, actor) if token and actor else None


def live(session_token: str) -> Actor | None:
    """The session's actor, or None when it has ended."""
    try:
        return sessions.authenticate(session_token)
    except Unauthenticated:
        return None


def released() -> str:
    """The Set-Cookie that lets the held session go (after the hand-over, or a sign-out)."""
    return forms.set_cookie(HELD_COOKIE, "", max_age=0, same_site="Lax")
