"""Appointments (API.md): book one for one or more clients; list them (R34, R44)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import actor, created, ok, parse, parse_query
from chalicelib.handlers.views.appointments import appointment_view
from chalicelib.schemas.appointments import CreateAppointment
from chalicelib.schemas.common import PageQuery
from chalicelib.services import appointments

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def create_appointment(org_id: str) -> Response:
    request = bp.current_request
    made = appointments.create(actor(request), org_id, parse(CreateAppointment, request))
    return created({"appointment": appointment_view(made)})


def list_appointments(org_id: str) -> Response:
    request = bp.current_request
    found, cursor = appointments.list_appointments(
        actor(request), org_id, parse_query(PageQuery, request)
    )
    return ok({"appointments": [appointment_view(a) for a in found], "next_cursor": cursor})
