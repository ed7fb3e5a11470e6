"""CSV import of clients (API.md "Clients": POST /v1/orgs/{org_id}/imports, R18)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import actor, ok, parse_query, raw_body
from chalicelib.handlers.views.clients import import_view
from chalicelib.schemas.clients import ImportQuery
from chalicelib.services.clients import imports

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def import_clients(org_id: str) -> Response:
    request = bp.current_request
    who = actor(request)
    query = parse_query(ImportQuery, request)
    outcomes = imports.import_clients(
        who,
        org_id,
        raw_body(request),
        send_invites=query.send_invites,
        charset=_charset(request.headers.get("content-type", "")),
    )
    return ok(import_view(outcomes))


def _charset(content_type: str) -> str | None:
    """`text/csv; charset=windows-1252` names the file's encoding; the import tries it first."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')[:40]
    return None
