"""The Client Portal (API.md "Client Portal"): a session in a client or caregiver account."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import accepted, actor, created, ok, parse
from chalicelib.handlers.views.appointments import appointment_view
from chalicelib.handlers.views.common import iso_or_none
from chalicelib.handlers.views.portal import effective_view, portal_profile_view, record_view
from chalicelib.handlers.views.practices import audit_view
from chalicelib.schemas.portal import JournalEntry, LeaveRequest
from chalicelib.services.portal import leaving, portal

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def portal_profile() -> Response:
    profile, hidden = portal.profile(actor(bp.current_request))
    return ok({"profile": portal_profile_view(profile, hidden)})


def portal_settings() -> Response:
    return ok({"effective": effective_view(portal.settings(actor(bp.current_request)))})


def list_journal_entries() -> Response:
    entries = portal.journal(actor(bp.current_request))
    return ok({"entries": [record_view(e) for e in entries]})


def write_journal_entry() -> Response:
    request = bp.current_request
    entry = portal.write_journal(actor(request), parse(JournalEntry, request))
    return created({"entry": record_view(entry)})


def portal_appointments() -> Response:
    found = portal.appointments_of(actor(bp.current_request))
    return ok({"appointments": [appointment_view(a) for a in found]})


def portal_chat() -> Response:
    messages = portal.chat_messages(actor(bp.current_request))
    return ok({"messages": [record_view(m) for m in messages]})


def portal_access_log() -> Response:
    return ok({"events": [audit_view(e) for e in portal.access_log(actor(bp.current_request))]})


def portal_leave_request() -> Response:
    request = bp.current_request
    requested_at = leaving.ask_to_leave(actor(request), parse(LeaveRequest, request))
    return accepted({"leave_request": {"requested_at": iso_or_none(requested_at)}})
