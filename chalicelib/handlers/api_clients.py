"""Clients (API.md "Clients"): add, list and search, read, change, archive, set a password,
the timeline."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import actor, created, ok, parse, parse_query
from chalicelib.handlers.views.clients import client_view, timeline_view
from chalicelib.schemas.clients import CreateClient, ListClientsQuery, SetPassword, UpdateClient
from chalicelib.schemas.common import PageQuery
from chalicelib.services.clients import arrivals, clients, timeline
from chalicelib.services.invites import invites

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def create_client(org_id: str) -> Response:
    request = bp.current_request
    # The body is read after the session (a 401 first) and before its batch read (issue #17).
    caller = actor(request, arrivals.create_reads(org_id, lambda: parse(CreateClient, request)))
    profile, invite = arrivals.create(caller, org_id, parse(CreateClient, request))
    return created({"client": client_view(profile, invite)})


def list_clients(org_id: str) -> Response:
    request = bp.current_request
    found, cursor = clients.list_clients(
        actor(request), org_id, parse_query(ListClientsQuery, request)
    )
    return ok({"clients": [client_view(p) for p in found], "next_cursor": cursor})


def get_client(org_id: str, client_id: str) -> Response:
    caller = actor(bp.current_request, invites.record_reads(org_id, client_id))
    profile, invite = invites.record(caller, org_id, client_id)
    return ok({"client": client_view(profile, invite)})  # with its invite's status (B1)


def update_client(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    caller = actor(request, clients.profile_reads(org_id, client_id))
    profile = clients.update(caller, org_id, client_id, parse(UpdateClient, request))
    return ok({"client": client_view(profile)})


def archive_client(org_id: str, client_id: str) -> Response:
    caller = actor(bp.current_request, clients.profile_reads(org_id, client_id))
    profile = clients.archive(caller, org_id, client_id)
    return ok({"client": client_view(profile)})


def unarchive_client(org_id: str, client_id: str) -> Response:
    caller = actor(bp.current_request, clients.profile_reads(org_id, client_id))
    profile = clients.unarchive(caller, org_id, client_id)
    return ok({"client": client_view(profile)})


def set_client_password(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    profile = clients.set_password(actor(request), org_id, client_id, parse(SetPassword, request))
    return ok({"client": client_view(profile)})


def client_timeline(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    events, cursor = timeline.timeline(
        actor(request), org_id, client_id, parse_query(PageQuery, request)
    )
    return ok({"events": [timeline_view(e) for e in events], "next_cursor": cursor})
