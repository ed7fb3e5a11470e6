"""The email log and previews (API.md, R43, B8)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers import forms
from chalicelib.handlers.http import actor, ok, parse_query
from chalicelib.handlers.views.email import email_view
from chalicelib.schemas.emails import EmailLogQuery
from chalicelib.services.email import emails

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def email_log(org_id: str) -> Response:
    request = bp.current_request
    jobs, cursor, invite_status = emails.email_log(
        actor(request), org_id, parse_query(EmailLogQuery, request)
    )
    shown = [email_view(job, invite_status.get(job.job_id)) for job in jobs]
    return ok({"emails": shown, "next_cursor": cursor})


def email_preview_kinds(org_id: str) -> Response:
    return ok({"kinds": emails.preview_kinds(actor(bp.current_request), org_id)})


def email_preview(org_id: str, kind: str) -> Response:
    # B8: HTML a practice wrote, answered with the pages' headers (no script, no framing).
    return forms.html(emails.preview(actor(bp.current_request), org_id, kind))
