"""Organizations, providers and groups (API.md "Organizations")."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import (
    accepted,
    actor,
    created,
    no_content,
    ok,
    parse,
    source_address,
)
from chalicelib.handlers.views.practices import (
    group_view,
    org_view,
    provider_view,
    staff_invite_view,
)
from chalicelib.schemas.practices import (
    AddProvider,
    CreateGroup,
    CreateOrg,
    Deactivate,
    UpdateGroup,
    UpdateOrg,
    UpdateProvider,
)
from chalicelib.services.practices import orgs, staff

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def create_org() -> Response:
    request = bp.current_request
    org, token = orgs.sign_up(parse(CreateOrg, request), source_address(request))
    return created({"org": org_view(org), "token": token})


def get_org(org_id: str) -> Response:
    return ok({"org": org_view(orgs.get(actor(bp.current_request), org_id))})


def update_org(org_id: str) -> Response:
    request = bp.current_request
    org = orgs.update(actor(request), org_id, parse(UpdateOrg, request))
    return ok({"org": org_view(org)})


def add_provider(org_id: str) -> Response:
    request = bp.current_request
    # The body is read after the session (a 401 first) and before its batch read (issue #17).
    caller = actor(request, staff.add_reads(org_id, lambda: parse(AddProvider, request)))
    provider = staff.add(caller, org_id, parse(AddProvider, request))
    return created({"provider": provider_view(provider)})


def list_providers(org_id: str) -> Response:
    found = staff.list_providers(actor(bp.current_request), org_id)
    return ok({"providers": [provider_view(p) for p in found], "next_cursor": None})


def update_provider(org_id: str, provider_id: str) -> Response:
    request = bp.current_request
    provider = staff.update(actor(request), org_id, provider_id, parse(UpdateProvider, request))
    return ok({"provider": provider_view(provider)})


def deactivate_provider(org_id: str, provider_id: str) -> Response:
    request = bp.current_request
    provider = staff.deactivate(actor(request), org_id, provider_id, parse(Deactivate, request))
    return ok({"provider": provider_view(provider)})


def reactivate_provider(org_id: str, provider_id: str) -> Response:
    provider = staff.reactivate(actor(bp.current_request), org_id, provider_id)
    return ok({"provider": provider_view(provider)})


def send_staff_invite(org_id: str, provider_id: str) -> Response:
    caller = actor(bp.current_request, staff.resend_reads(org_id, provider_id))
    invite = staff.resend(caller, org_id, provider_id)
    return accepted({"invite": staff_invite_view(invite)})


def revoke_staff_invite(org_id: str, provider_id: str) -> Response:
    staff.revoke(actor(bp.current_request), org_id, provider_id)
    return no_content()


def create_group(org_id: str) -> Response:
    request = bp.current_request
    group = orgs.create_group(actor(request), org_id, parse(CreateGroup, request))
    return created({"group": group_view(group)})


def list_groups(org_id: str) -> Response:
    found = orgs.list_groups(actor(bp.current_request), org_id)
    return ok({"groups": [group_view(g) for g in found], "next_cursor": None})


def update_group(org_id: str, group_id: str) -> Response:
    request = bp.current_request
    group = orgs.update_group(actor(request), org_id, group_id, parse(UpdateGroup, request))
    return ok({"group": group_view(group)})


def rotate_group_link(org_id: str, group_id: str) -> Response:
    group = orgs.rotate_group_link(actor(bp.current_request), org_id, group_id)
    shown = group_view(group)
    return ok({"group": shown, "invite_url": shown["invite_url"]})
