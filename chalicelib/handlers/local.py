"""Local stage only (API.md): the outbox, draining the queue, ticking the triggers.

Every other stage answers 404 (`local_stage.require_local`)."""

from __future__ import annotations

import secrets

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers import forms
from chalicelib.handlers.http import html, ok, parse
from chalicelib.handlers.views.email import outbox_view
from chalicelib.schemas.local import TickBody
from chalicelib.services import local_stage
from chalicelib.services.email import rendering

bp = Blueprint(__name__)


@bp.route("/_local/outbox", methods=["GET"])
def outbox_page() -> Response:
    emails = [outbox_view(sent) for sent in local_stage.sent_emails()]
    return html(rendering.render_page("outbox.html", emails=list(reversed(emails))))


@bp.route("/_local/outbox.json", methods=["GET"])
def outbox_json() -> Response:
    return Response(body=[outbox_view(sent) for sent in local_stage.sent_emails()], status_code=200)


@bp.route("/_local/drain", methods=["POST"])
def drain() -> Response:
    return ok(local_stage.drain())


@bp.route("/_local/tick", methods=["POST"])
def tick() -> Response:
    local_stage.require_local()  # before parsing: other stages answer 404 whatever the body
    return ok(local_stage.tick(parse(TickBody, bp.current_request).now))


# The stand-in portal reads the session token from the URL fragment (which no server sees) and
# shows who is signed in where; its CSP lets this script alone run and call the API.
PORTAL_SCRIPT = """
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const who = document.getElementById("who");
if (!token) {
  who.textContent = "Not signed in: open an invite link from the local outbox.";
} else {
  fetch("/v1/me", {headers: {Authorization: "Bearer " + token}})
    .then((answer) => answer.json().then((body) => [answer.status, body]))
    .then(([status, body]) => {
      if (status !== 200) {
        who.textContent = "This session has ended: " + body.error.message;
        return;
      }
      const entered = body.account;
      who.textContent = "Signed in as " + body.identity.email + (entered
        ? " in " + entered.org.name + " (" + entered.kind + " account)"
        : ", choosing one of your accounts");
      for (const account of body.accounts) {
        const item = document.createElement("li");
        item.textContent = account.org.name + ": " + account.kind + " account";
        document.getElementById("accounts").appendChild(item);
      }
    });
}
"""


@bp.route("/_local/portal", methods=["GET"])
def local_portal_page() -> Response:
    local_stage.require_local()
    return forms.page(
        "local_portal.html",
        org=None,
        headers=forms.allowing_script(PORTAL_SCRIPT, calls_api=True),
        script=PORTAL_SCRIPT,
    )


# The API reference: Redoc renders openapi.yaml in the browser. Its own policy lets in exactly
# what Redoc needs, from this site: its bundle and the one call to it (by a per-request nonce),
# the styles it inserts (given the same nonce), the document it fetches, its icons (data: URIs)
# and its search worker (a blob: it makes itself). The bundle also inserts one stylesheet as it
# loads, before any nonce reaches it (perfect-scrollbar's, for the side menu): allowed by its
# hash, and by that of the empty element it first inserts. Redoc's logo in the menu comes from
# its CDN: refused, and the menu shows no image (tests/e2e/test_api_reference.py).
API_REFERENCE_STYLES = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # redoc 2.5.4's perfect-scrollbar
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "": the element before its text
)
API_REFERENCE_POLICY = (
    "default-src 'none'; script-src 'nonce-{nonce}'; "
    f"style-src 'nonce-{{nonce}}' {' '.join(API_REFERENCE_STYLES)}; "
    "connect-src 'self'; img-src data:; worker-src blob:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.route("/_local/api", methods=["GET"])
def api_reference_page() -> Response:
    local_stage.require_local()
    nonce = secrets.token_urlsafe(18)
    return Response(
        body=rendering.render_page("api_reference.html", nonce=nonce),
        status_code=200,
        headers=forms.page_headers(
            {"Content-Security-Policy": API_REFERENCE_POLICY.format(nonce=nonce)}
        ),
    )


@bp.route("/_local/api/openapi.yaml", methods=["GET"])
def api_document() -> Response:
    return Response(
        body=local_stage.api_document(),
        status_code=200,
        headers={"Content-Type": "application/yaml; charset=utf-8", "Cache-Control": "no-store"},
    )


@bp.route("/_local/api/redoc.standalone.js", methods=["GET"])
def redoc_bundle() -> Response:
    return Response(
        body=local_stage.redoc_bundle(),
        status_code=200,
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
        },
    )
