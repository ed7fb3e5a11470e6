"""Organizations, providers and groups (API.md "Organizations")."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import actor, created, ok, parse, source_address
from chalicelib.handlers.views.practices import group_view, org_view, provider_view
from chalicelib.schemas.practices import AddProvider, CreateGroup, CreateOrg, UpdateGroup, UpdateOrg
from chalicelib.services.practices import orgs

bp = Blueprint(__name__)


@bp.route("/v1/orgs", methods=["POST"])
def create_org() -> Response:
    request = bp.current_request
    org, token = orgs.sign_up(parse(CreateOrg, request), source_address(request))
    return created({"org": org_view(org), "token": token})


@bp.route("/v1/orgs/{org_id}", methods=["GET"])
def get_org(org_id: str) -> Response:
    return ok({"org": org_view(orgs.get(actor(bp.current_request), org_id))})


@bp.route("/v1/orgs/{org_id}", methods=["PATCH"])
def update_org(org_id: str) -> Response:
    request = bp.current_request
    org = orgs.update(actor(request), org_id, parse(UpdateOrg, request))
    return ok({"org": org_view(org)})


@bp.route("/v1/orgs/{org_id}/providers", methods=["POST"])
def add_provider(org_id: str) -> Response:
    request = bp.current_request
    provider = orgs.add_provider(actor(request), org_id, parse(AddProvider, request))
    return created({"provider": provider_view(provider)})


@bp.route("/v1/orgs/{org_id}/providers", methods=["GET"])
def list_providers(org_id: str) -> Response:
    found = orgs.list_providers(actor(bp.current_request), org_id)
    return ok({"providers": [provider_view(p) for p in found], "next_cursor": None})


@bp.route("/v1/orgs/{org_id}/groups", methods=["POST"])
def create_group(org_id: str) -> Response:
    request = bp.current_request
    group = orgs.create_group(actor(request), org_id, parse(CreateGroup, request))
    return created({"group": group_view(group)})


@bp.route("/v1/orgs/{org_id}/groups", methods=["GET"])
def list_groups(org_id: str) -> Response:
    found = orgs.list_groups(actor(bp.current_request), org_id)
    return ok({"groups": [group_view(g) for g in found], "next_cursor": None})


@bp.route("/v1/orgs/{org_id}/groups/{group_id}", methods=["PATCH"])
def update_group(org_id: str, group_id: str) -> Response:
    request = bp.current_request
    group = orgs.update_group(actor(request), org_id, group_id, parse(UpdateGroup, request))
    return ok({"group": group_view(group)})


@bp.route("/v1/orgs/{org_id}/groups/{group_id}/invite-link", methods=["POST"])
def rotate_group_link(org_id: str, group_id: str) -> Response:
    group = orgs.rotate_group_link(actor(bp.current_request), org_id, group_id)
    shown = group_view(group)
    return ok({"group": shown, "invite_url": shown["invite_url"]})
