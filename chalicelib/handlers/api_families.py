"""Families and portal settings, for staff (API.md "Clients"): contacts, links and caregiver
grants (R24–R33), Client Portal settings at organization and client level (R35, R37), and the
audit log (R47)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import actor, created, no_content, ok, parse, parse_query
from chalicelib.handlers.views.families import contact_view, link_view
from chalicelib.handlers.views.portal import levelled_view
from chalicelib.handlers.views.practices import audit_view
from chalicelib.schemas.audit import AuditQuery
from chalicelib.schemas.families import CreateContact, CreateLink, UpdateContact, UpdateLink
from chalicelib.schemas.practices import PortalSettings
from chalicelib.services.families import contacts, links
from chalicelib.services.portal import portal_levels
from chalicelib.services.practices.audit_log import audit_events

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def add_contact(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    contact = contacts.add_contact(actor(request), org_id, client_id, parse(CreateContact, request))
    return created({"contact": contact_view(contact)})


def list_contacts(org_id: str, client_id: str) -> Response:
    found = contacts.contacts_of(actor(bp.current_request), org_id, client_id)
    return ok({"contacts": [contact_view(c) for c in found], "next_cursor": None})


def update_contact(org_id: str, client_id: str, contact_id: str) -> Response:
    request = bp.current_request
    contact = contacts.update_contact(
        actor(request), org_id, client_id, contact_id, parse(UpdateContact, request)
    )
    return ok({"contact": contact_view(contact)})


def remove_contact(org_id: str, client_id: str, contact_id: str) -> Response:
    contacts.remove_contact(actor(bp.current_request), org_id, client_id, contact_id)
    return no_content()


def create_link(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    link = links.create_link(actor(request), org_id, client_id, parse(CreateLink, request))
    return created({"link": link_view(link)})


def list_links(org_id: str, client_id: str) -> Response:
    found = links.links_of(actor(bp.current_request), org_id, client_id)
    return ok({"links": [link_view(link, side) for link, side in found], "next_cursor": None})


def update_link(org_id: str, client_id: str, link_id: str) -> Response:
    request = bp.current_request
    link = links.update_link(actor(request), org_id, client_id, link_id, parse(UpdateLink, request))
    return ok({"link": link_view(link)})


def remove_link(org_id: str, client_id: str, link_id: str) -> Response:
    links.remove_link(actor(bp.current_request), org_id, client_id, link_id)
    return no_content()


def get_client_portal_settings(org_id: str, client_id: str) -> Response:
    levelled = portal_levels.client_settings(actor(bp.current_request), org_id, client_id)
    return ok(levelled_view(levelled))


def put_client_portal_settings(org_id: str, client_id: str) -> Response:
    request = bp.current_request
    levelled = portal_levels.put_client_settings(
        actor(request), org_id, client_id, parse(PortalSettings, request, required=True)
    )
    return ok(levelled_view(levelled))


def get_org_portal_settings(org_id: str) -> Response:
    return ok(levelled_view(portal_levels.org_settings(actor(bp.current_request), org_id)))


def put_org_portal_settings(org_id: str) -> Response:
    request = bp.current_request
    levelled = portal_levels.put_org_settings(
        actor(request), org_id, parse(PortalSettings, request, required=True)
    )
    return ok(levelled_view(levelled))


def audit_log(org_id: str) -> Response:
    request = bp.current_request
    events, cursor = audit_events(actor(request), org_id, parse_query(AuditQuery, request))
    return ok({"events": [audit_view(e) for e in events], "next_cursor": cursor})
