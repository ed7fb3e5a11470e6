"""Local stage only (API.md): the outbox, draining the queue, ticking the triggers.

Every other stage answers 404 (`local_stage.require_local`)."""

from __future__ import annotations

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
