"""Authorization: the one answer to "may this session do this to this record" (`may`).

Routes never check roles themselves; services call these. A record of another organization is
answered exactly as a missing one (R4): same status, code and message, no extra read, so
neither the body nor the timing says whether it exists.
"""

from __future__ import annotations

from chalicelib import clock
from chalicelib.errors import Forbidden, NotFound
from chalicelib.models.orgs import Provider, Role
from chalicelib.models.sessions import SessionKind
from chalicelib.rules import grants
from chalicelib.rules.actors import Actor, Permit, provider_ref
from chalicelib.rules.settings import FEATURES
from chalicelib.services import records
from chalicelib.services.identity.sessions import require_account

ADMIN = (Role.ADMIN,)
STAFF = (Role.ADMIN, Role.PROVIDER, Role.STAFF)
# Roles that may be a client's primary provider or on its care team (R10).
CLINICAL = (Role.ADMIN, Role.PROVIDER)


def staff_of(actor: Actor, org_id: str, roles: tuple[str, ...] = STAFF) -> Provider:
    """The acting staff membership in `org_id`, or the error this session gets there."""
    account = require_account(actor)
    if account.kind != SessionKind.STAFF or actor.provider is None:
        raise Forbidden("This needs a staff account of the practice.", code="staff_only")
    if account.org_id != org_id:
        raise records.org_missing()
    if account.role not in roles:
        raise Forbidden(
            "Your role in this practice cannot do this; ask one of its admins.",
            code="role_not_allowed",
        )
    return actor.provider


def may(
    actor: Actor,
    org_id: str,
    client_id: str | None = None,
    *,
    feature: str | None = None,
    roles: tuple[str, ...] = STAFF,
    holder_only: bool = False,
    portal: bool = False,
) -> Permit:
    """The one answer to "may this session do this to this client's records" (DESIGN
    "Authorization"): staff of the organization by role; the client in their own account; a
    caregiver in the care receiver's account within their grant's scopes and the receiver's
    age tier today (R30, R33, B4). A feature that is off for the client is refused to both
    (R36); `holder_only` keeps an action to the account's own client (B6). Clients and
    caregivers act only through the portal (`portal=True`); every other action is staff's.
    Another organization's or another client's records answer as missing (R4)."""
    account = require_account(actor)
    if account.kind == SessionKind.STAFF or not portal:
        provider = staff_of(actor, org_id, roles)
        return Permit(org_id, client_id, provider_ref(provider.provider_id))
    if account.org_id != org_id or (client_id is not None and client_id != account.client_id):
        raise NotFound("No such record.", code="not_found")
    assert actor.profile is not None
    assert actor.settings is not None
    if feature in FEATURES and not actor.settings.allows(feature):
        raise Forbidden(
            "This part of the portal is turned off for this account; ask the practice.",
            code="feature_disabled",
        )
    if account.kind == SessionKind.CLIENT:
        return Permit(org_id, account.client_id, account.actor, None, actor.profile)
    assert actor.link is not None
    assert actor.org is not None
    if holder_only:
        raise Forbidden(
            "Only the account's own client can do this, not a caregiver.",
            code="account_holder_only",
        )
    if feature is not None and feature not in grants.scopes(
        actor.link, actor.profile, actor.org, clock.now().date()
    ):
        raise Forbidden(
            "Your caregiver access to this account does not include this; ask the practice.",
            code="outside_grant",
        )
    return Permit(org_id, account.client_id, account.actor, account.on_behalf_of, actor.profile)


def portal(actor: Actor, feature: str | None = None, *, holder_only: bool = False) -> Permit:
    """`may` for the Client Portal: the session's own account, entered as client or caregiver."""
    account = require_account(actor)
    if account.kind == SessionKind.STAFF or account.client_id is None:
        raise Forbidden(
            "This is the Client Portal: enter a client account first.", code="portal_only"
        )
    return may(
        actor,
        account.org_id,
        account.client_id,
        feature=feature,
        holder_only=holder_only,
        portal=True,
    )
