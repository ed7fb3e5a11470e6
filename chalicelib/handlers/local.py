"""Local stage only (API.md): the outbox, draining the queue, ticking the triggers.

Every other stage answers 404 (`local_stage.require_local`)."""

from __future__ import annotations

import secrets

from chalice import Blueprint
from chalice.app import Response

from chalicelib import config
from chalicelib.handlers import forms
from chalicelib.handlers.http import html, ok, parse, raw_body
from chalicelib.handlers.views.local import outbox_view
from chalicelib.schemas.local import FaultsBody, TickBody
from chalicelib.services import local_stage
from chalicelib.services.email import rendering

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def outbox_page() -> Response:
    emails = [outbox_view(sent) for sent in local_stage.sent_emails()]
    return html(rendering.render_page("outbox.html", emails=list(reversed(emails))))


def outbox_json() -> Response:
    return Response(body=[outbox_view(sent) for sent in local_stage.sent_emails()], status_code=200)


def drain() -> Response:
    return ok(local_stage.drain())


def local_ses_feedback() -> Response:
    """R54: deliver an SES event (bounce, complaint) as the feedback queue would."""
    local_stage.require_local()
    message = raw_body(bp.current_request).decode("utf-8", errors="replace")
    return ok({"outcome": local_stage.ses_feedback(message)})


def tick() -> Response:
    local_stage.require_local()  # before parsing: other stages answer 404 whatever the body
    return ok(local_stage.tick(parse(TickBody, bp.current_request).now))


def faults() -> Response:
    local_stage.require_local()
    body = parse(FaultsBody, bp.current_request)
    return ok(local_stage.set_faults(body.dynamodb, body.ses, body.sqs))


# The stand-in portal is a small client of the API, as the real portal front end is (B9): its
# one script trades the one-time code of the URL's fragment for the session (and removes it from
# the address and history at once), keeps the session in this tab's sessionStorage, shows the
# account entered with a "Switch account" control at the top (a form that posts the session,
# never in a URL, to the hosted switch page), and the portal sections the account may see:
# a feature turned off is not shown (R36); a section the API answers is shown only when it
# answers 200, so what a caregiver's grant leaves out (R33) is not shown either.
# The CSP lets this script alone run and call the API.
PORTAL_SCRIPT = """
const $ = (id) => document.getElementById(id);
const fragment = new URLSearchParams(location.hash.slice(1));
const code = fragment.get("code");
if (location.hash) history.replaceState(null, "", location.pathname + location.search);
const SECTIONS = [
  ["appointments", "Appointments", "/v1/portal/appointments", "appointments",
    ["appointment", "appointments"]],
  ["bills", "Bills and payments"], ["goals", "Goals"],
  ["journal", "Journal", "/v1/portal/journal-entries", "entries",
    ["journal entry", "journal entries"]],
  ["documents", "Documents"], ["forms", "Intake forms"], ["care_plans", "Care plans"],
  ["programs", "Programs"], ["packages", "Packages"],
];
let token = sessionStorage.getItem("portico_session");
const call = (method, path, body) => fetch(path, {
  method,
  headers: Object.assign({"content-type": "application/json"},
    token ? {Authorization: "Bearer " + token} : {}),
  body: body ? JSON.stringify(body) : undefined,
}).then((answer) => answer.text().then((text) => [answer.status, text ? JSON.parse(text) : {}]));
const say = (text) => { $("who").textContent = text; };
const section = (title, lines) => {
  const part = document.createElement("section");
  const heading = document.createElement("h2");
  heading.textContent = title;
  part.appendChild(heading);
  for (const line of lines) {
    const p = document.createElement("p");
    p.textContent = line;
    part.appendChild(p);
  }
  $("sections").appendChild(part);
};
const counted = (items, [one, many]) => items.length === 0 ? "No " + many + " yet."
  : items.length + " " + (items.length === 1 ? one : many) + ".";
function ended(text) {
  sessionStorage.removeItem("portico_session");
  token = null;
  say(text);
  $("sign-in").hidden = false;
}
async function show() {
  const [status, me] = await call("GET", "/v1/me");
  if (status !== 200) return ended("Your session has ended. Sign in again.");
  $("session-token").value = token;
  $("controls").hidden = false;
  const entered = me.account;
  if (!entered) {
    say("Signed in as " + me.identity.email + ". Choose one of your accounts to continue.");
    $("switch-button").textContent = "Choose an account";
    return;
  }
  const where = "Signed in as " + me.identity.email + " in " + entered.org.name;
  if (entered.kind === "staff") {
    say(where + " (staff account, " + entered.role + ")");
    section("Staff account", ["The practice's dashboard is a separate front end."]);
    return;
  }
  const [, profile] = await call("GET", "/v1/portal/profile");
  const person = profile.profile
    ? profile.profile.first_name + " " + profile.profile.last_name : "";
  say(where + (entered.kind === "caregiver"
    ? " (caregiver for " + person + ")" : " (client account: " + person + ")"));
  const [, settings] = await call("GET", "/v1/portal/settings");
  const features = (settings.effective || {}).features || {};
  for (const [feature, title, path, key, noun] of SECTIONS) {
    if (!features[feature]) continue;
    if (!path) { section(title, ["Nothing here yet."]); continue; }
    const [seen, body] = await call("GET", path);
    if (seen === 200) section(title, [counted(body[key], noun)]);
  }
  const [chatStatus, chat] = await call("GET", "/v1/portal/chat");
  if (chatStatus === 200) section("Messages", chat.messages.map((m) => m.text));
  $("sections").dataset.ready = "true";
}
async function start() {
  if (code) {
    const [status, body] = await call("POST", "/v1/auth/exchange", {code});
    if (status !== 200) {
      return ended("This sign-in link was used already or has expired. Sign in again.");
    }
    token = body.token;
    sessionStorage.setItem("portico_session", token);
  }
  if (!token) return ended("Not signed in.");
  return show();
}
$("sign-out").addEventListener("click", async () => {
  await call("POST", "/v1/auth/logout");
  $("controls").hidden = true;
  $("sections").replaceChildren();
  ended("You are signed out.");
});
start();
"""


def local_portal_page() -> Response:
    local_stage.require_local()
    return forms.page(
        "local_portal.html",
        org=None,
        headers={
            **forms.allowing_script(PORTAL_SCRIPT, calls_api=True),
            # No secret is ever in this page's address (the script drops the code at once),
            # and its Switch account form must carry its Origin, which no-referrer blanks.
            "Referrer-Policy": "same-origin",
        },
        script=PORTAL_SCRIPT,
        switch_url=f"{config.PUBLIC_URL}/sign-in/switch",
        sign_in_url=f"{config.PUBLIC_URL}/sign-in",
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


def api_document() -> Response:
    return Response(
        body=local_stage.api_document(),
        status_code=200,
        headers={"Content-Type": "application/yaml; charset=utf-8", "Cache-Control": "no-store"},
    )


def redoc_bundle() -> Response:
    return Response(
        body=local_stage.redoc_bundle(),
        status_code=200,
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
        },
    )
