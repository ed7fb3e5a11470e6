"""A client's email and its claims (R1, R5, R12, R19): the login an email links the profile to,
and the organization-wide claim that keeps one active profile per address unless family
members share it.
"""

from __future__ import annotations

from chalicelib import db
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import StaffClaim
from chalicelib.models.profiles import ClientProfile, OrgEmailClaim
from chalicelib.services.identity import identities


class LookUp:
    """Says "read the email's identity now" (the default) rather than a caller's earlier read."""


LOOK_UP = LookUp()


def attach_email(
    tx: Tx,
    profile: ClientProfile,
    email: str,
    *,
    shared: bool,
    known: Identity | LookUp | None = LOOK_UP,
) -> tuple[Identity | None, bool]:
    """Give the profile this email and its identity (created if needed), and claim the email
    in the organization. The identity's other profiles are untouched (R5).

    Returns the identity when this change creates it or the caller knew it (None for a login
    found by its claim: R4 keeps that path as cheap as a new one), and whether it is new."""
    identity: Identity | None
    if isinstance(known, LookUp):
        identity_id, identity = identities.claim_or_add(tx, email, first_org_id=profile.org_id)
        is_new = identity is not None
    elif known is None:
        identity, is_new = identities.add(tx, email, first_org_id=profile.org_id), True
        identity_id = identity.id
    else:
        identity, is_new, identity_id = known, False, known.id
    if not is_new:
        refuse_staff(tx, profile.org_id, identity_id)
    profile.identity_id = identity_id
    profile.email = email
    profile.shared_email = shared
    claim_email(tx, profile)
    return identity, is_new


def refuse_staff(tx: Tx, org_id: str, identity_id: str) -> None:
    """R12: a login of the practice's own staff is never a client of it; checked in `tx`, so
    a provider added meanwhile fails the change whole."""
    tx.check(
        StaffClaim,
        org_id,
        StaffClaim.sk_for(identity_id),
        condition=StaffClaim.sk.does_not_exist(),
        on_conflict=lambda: Conflict(
            "This address belongs to a staff account of this practice; a client needs "
            "their own email.",
            code="email_is_staff",
        ),
    )


def claim_email(tx: Tx, profile: ClientProfile) -> None:
    org_id, email = profile.org_id, profile.email
    assert email is not None
    claim = OrgEmailClaim(org_id, OrgEmailClaim.key_for(email))
    add = [OrgEmailClaim.client_ids.add({profile.client_id})]
    if profile.shared_email:
        tx.update(claim, [*add, OrgEmailClaim.shared.set(True)])
        return
    tx.update(
        claim,
        add,
        condition=OrgEmailClaim.client_ids.does_not_exist(),  # R12
        on_conflict=lambda: email_in_use(org_id, email),
    )


def email_in_use(org_id: str, email: str) -> Conflict:
    claim = db.get(OrgEmailClaim, org_id, OrgEmailClaim.key_for(email))
    holders = sorted(claim.client_ids or ()) if claim else []
    return Conflict(
        "Another active client of this practice uses this email. Use another address, or "
        "say that family members share it (shared_email: true).",
        code="email_in_use",
        conflicting_client_ids=holders,
    )


def release_email(tx: Tx, profile: ClientProfile) -> None:
    if profile.email:
        claim = OrgEmailClaim(profile.org_id, OrgEmailClaim.key_for(profile.email))
        tx.update(claim, [OrgEmailClaim.client_ids.delete({profile.client_id})])
