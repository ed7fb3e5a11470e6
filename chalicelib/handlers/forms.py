"""What every landing page shares (API.md "HTML pages"): branded rendering, CSRF protection,
form bodies, and headers that keep a link's secret out of Referers and caches.

CSRF is a double-submit cookie: the page sets a random `__Host-` cookie (Secure, HttpOnly,
SameSite=Strict, Path=/, no Domain, expiring) and embeds in the form the moment it was drawn
and an HMAC of the cookie, the page's concrete path (the link's own secret included, not the
route's template) and that moment; a POST must bring both, matching, within
`CSRF_MAX_AGE_SECONDS`. So a pair drawn on one link is refused on every other and goes stale.
No server-side state, so any Lambda can check any form. Browsers keep `__Host-`/Secure cookies
on https, and Chromium on http://127.0.0.1 too (a potentially trustworthy origin), so the
local stack sets the same cookie as production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from chalice.app import Request, Response

from chalicelib import clock, config, secret_store
from chalicelib.errors import Invalid, TooLarge
from chalicelib.handlers.http import raw_body
from chalicelib.models.orgs import Organization
from chalicelib.services.email import rendering
from chalicelib.services.practices import branding

CSRF_COOKIE = "__Host-portico_csrf"
CSRF_FIELD = "csrf_token"

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    # The token in the path must never leave in a Referer, nor stay in a shared cache.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True)
class Csrf:
    """The cookie a page sets and the matching token its form carries."""

    cookie: str
    token: str


_PARAMETER = re.compile(r"\{(\w+)\+?\}")


def _path(request: Request) -> str:
    """The page's concrete path: its route's template with this request's parameters (the
    link's secret or code), the same behind API Gateway's stage prefix and `chalice local`."""
    context = request.context or {}
    template = str(context.get("resourcePath") or "")
    values = request.uri_params or {}
    return _PARAMETER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _sign(cookie: str, path: str, drawn: int) -> str:
    key = secret_store.page_secret().encode() or secrets.token_bytes(32)  # empty: none verifies
    message = f"{cookie}|{path}|{drawn}".encode()
    return f"{drawn}.{hmac.new(key, message, hashlib.sha256).hexdigest()}"


def cookie_of(request: Request, name: str) -> str | None:
    """The value of the request's cookie `name` (20 to 100 characters, as Portico's cookies
    are), or None."""
    raw = request.headers.get("cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel and 20 <= len(morsel.value) <= 100 else None


def set_cookie(name: str, value: str, *, max_age: int, same_site: str = "Strict") -> str:
    """A page's Set-Cookie: host-only and sent over HTTPS only (`__Host-` names: Secure,
    Path=/, no Domain), out of scripts' reach (HttpOnly), and gone after `max_age` seconds
    (0 deletes it): the CSRF pair's cookie and the held sign-in's (`hand_over`) alike."""
    return f"{name}={value}; Path=/; Secure; HttpOnly; SameSite={same_site}; Max-Age={max_age}"


def _cookie_of(request: Request) -> str | None:
    return cookie_of(request, CSRF_COOKIE)


def csrf(request: Request) -> Csrf:
    """The CSRF pair for a page: the visitor's cookie if it has one, else a new one, and a
    token for this page's path drawn now."""
    cookie = _cookie_of(request) or secrets.token_urlsafe(24)
    return Csrf(cookie, _sign(cookie, _path(request), int(clock.now().timestamp())))


def csrf_valid(request: Request, fields: dict[str, str]) -> bool:
    """The form came with its page's pair: the cookie, and a token drawn for this very path
    less than `CSRF_MAX_AGE_SECONDS` ago."""
    cookie = _cookie_of(request)
    sent = fields.get(CSRF_FIELD, "")
    drawn, _, _ = sent.partition(".")
    if cookie is None or not drawn.isdigit() or len(drawn) > 12:
        return False
    age = int(clock.now().timestamp()) - int(drawn)
    if not 0 <= age <= config.CSRF_MAX_AGE_SECONDS:
        return False
    return hmac.compare_digest(sent, _sign(cookie, _path(request), int(drawn)))


def form(request: Request, allowed: set[str]) -> dict[str, str]:
    """The posted form's fields (one value each, only the `allowed` ones and the CSRF token);
    413 past the size limit, 400 when it is not a form."""
    raw = raw_body(request)
    if len(raw) > config.MAX_FORM_BODY_BYTES:
        raise TooLarge("The form is larger than it can be.", code="body_too_large")
    try:
        parsed = parse_qs(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=50
        )
    except (UnicodeDecodeError, ValueError):
        raise Invalid("The form could not be read.", code="invalid_form") from None
    return {
        name: values[0]
        for name, values in parsed.items()
        if name in allowed | {CSRF_FIELD} and values
    }


def page_headers(extra: dict[str, str] | None = None) -> dict[str, str | list[str]]:
    """The headers of every HTML answer: a landing page, or an email preview of HTML a
    practice wrote (B8), which must not run script, be framed or be sniffed as anything else."""
    return {**HEADERS, **(extra or {})}


def html(body: str, status: int = 200) -> Response:
    """An HTML answer that is not a branded page (an email preview, B8), with the pages'
    headers."""
    return Response(body=body, status_code=status, headers=page_headers())


def page(
    template: str,
    *,
    org: Organization | None,
    status: int = 200,
    pair: Csrf | None = None,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    """A landing page in the organization's branding (neutral when there is none: an unknown
    link must not reveal which practice, B2), with its CSRF cookie when it has a form."""
    brand = branding.branding_of(org)
    token = pair.token if pair else ""
    body = rendering.render_page(
        template, brand=brand, csrf_field=CSRF_FIELD, csrf_token=token, **values
    )
    sent = page_headers(headers)
    if pair is not None:
        sent["Set-Cookie"] = set_cookie(
            CSRF_COOKIE, pair.cookie, max_age=config.CSRF_MAX_AGE_SECONDS
        )
    return Response(body=body, status_code=status, headers=sent)


def csrf_refused(request: Request) -> Response:
    """403: a form without its CSRF pair (expired, or posted from elsewhere); every page says
    it the same way, neutrally branded, with a fresh cookie for the retry."""
    return page("forbidden.html", org=None, status=403, pair=csrf(request))


def failure_page(failed: Response) -> Response:
    """A page's failure that is not the page's own (app.py): AWS busy past the SDK's retries
    (429, its Retry-After kept) or a server error (500), said as a page a person can read, not
    as the API's JSON. Neutrally branded: the practice may not have been read."""
    kept = {k: str(v) for k, v in failed.headers.items() if k.lower() == "retry-after"}
    if failed.status_code != 429:
        return page("failed.html", org=None, status=failed.status_code)
    # The contract's message says why and when (AWS busy: in a moment; a limit: its wait)
    message = failed.body["error"]["message"]
    return page("busy.html", org=None, status=429, headers=kept, message=message)


def allowing_script(script: str, *, calls_api: bool = False) -> dict[str, str]:
    """Headers that let exactly this inline script run (by its hash, nothing else), and call
    this site's API when `calls_api`."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = HEADERS["Content-Security-Policy"] + f"; script-src 'sha256-{digest}'"
    if calls_api:
        policy += "; connect-src 'self'"
    return {"Content-Security-Policy": policy}


def redirect(location: str, headers: dict[str, str] | None = None) -> Response:
    """303 See Other: after a successful form, the browser GETs the next page (API.md)."""
    return Response(
        body="",
        status_code=303,
        headers={"Location": location, "Referrer-Policy": "no-referrer", **(headers or {})},
    )
