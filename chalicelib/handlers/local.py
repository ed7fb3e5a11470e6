"""Local stage only (API.md): the outbox, draining the queue, ticking the triggers.

Every other stage answers 404 (`local_stage.require_local`)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import html, ok, parse
from chalicelib.handlers.views import outbox_view
from chalicelib.schemas import TickBody
from chalicelib.services import local_stage, rendering

bp = Blueprint(__name__)


@bp.route("/_local/outbox", methods=["GET"])
def outbox_page() -> Response:
    emails = [outbox_view(job) for job in local_stage.sent_emails()]
    return html(rendering.render_page("outbox.html", emails=list(reversed(emails))))


@bp.route("/_local/outbox.json", methods=["GET"])
def outbox_json() -> Response:
    return Response(body=[outbox_view(job) for job in local_stage.sent_emails()], status_code=200)


@bp.route("/_local/drain", methods=["POST"])
def drain() -> Response:
    return ok(local_stage.drain())


@bp.route("/_local/tick", methods=["POST"])
def tick() -> Response:
    local_stage.require_local()  # before parsing: other stages answer 404 whatever the body
    return ok(local_stage.tick(parse(TickBody, bp.current_request).now))
