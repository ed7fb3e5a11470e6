"""Authorization: the one answer to "may this session do this in this organization".

Routes never check roles themselves; services call these. A record of another organization is
answered exactly as a missing one (R4): same status, code and message, no extra read, so
neither the body nor the timing says whether it exists.
"""

from __future__ import annotations

from chalicelib.errors import Forbidden, NotFound
from chalicelib.models.orgs import Provider
from chalicelib.services.sessions import Actor, require_account

ADMIN = ("admin",)
STAFF = ("admin", "provider", "staff")
# Roles that may be a client's primary provider or on its care team (R10).
CLINICAL = ("admin", "provider")


def org_missing() -> NotFound:
    return NotFound("No such organization.", code="org_not_found")


def staff_of(actor: Actor, org_id: str, roles: tuple[str, ...] = STAFF) -> Provider:
    """The acting staff membership in `org_id`, or the error this session gets there."""
    account = require_account(actor)
    if account.kind != "staff" or actor.provider is None:
        raise Forbidden("This needs a staff account of the practice.", code="staff_only")
    if account.org_id != org_id:
        raise org_missing()
    if account.role not in roles:
        raise Forbidden(
            "Your role in this practice cannot do this; ask one of its admins.",
            code="role_not_allowed",
        )
    return actor.provider
