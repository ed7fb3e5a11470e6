"""Client profiles: add, list and search, read, change, archive (R5, R8, R10–R12, R19, R38, R55).

A profile belongs to one organization and is changed only through it (R5, R7). Its email
links it to an identity (R1); the organization-wide email claim keeps one active profile per
address unless family members share it (R12). Every change is one transaction.
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.condition import size
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib import clock, db, logs, paging
from chalicelib.db import Tx
from chalicelib.errors import Conflict, field_error
from chalicelib.models.identities import Identity
from chalicelib.models.links import Link
from chalicelib.models.orgs import Provider
from chalicelib.models.profiles import ClientProfile, OrgEmailClaim, ProfileStatus
from chalicelib.rules.actors import Actor, provider_ref
from chalicelib.rules.people import search_form
from chalicelib.schemas.clients import ListClientsQuery, SetPassword, UpdateClient
from chalicelib.services import access, audit, records
from chalicelib.services.clients import search
from chalicelib.services.clients.arrivals import care_team_of
from chalicelib.services.clients.email_claims import (
    attach_email,
    claim_email,
    email_in_use,
    refuse_staff,
    release_email,
)
from chalicelib.services.identity import identities, passwords, sessions
from chalicelib.services.practices import orgs


def profile_reads(org_id: str, client_id: str) -> sessions.Ahead:
    """The path's profile, read ahead with a staff session of its organization (issue #17): what
    archive, unarchive and a change read first."""
    return sessions.in_org(org_id, lambda: records.client_keys(org_id, client_id))


def get(actor: Actor, org_id: str, client_id: str) -> ClientProfile:
    access.staff_of(actor, org_id)
    return records.client(org_id, client_id)


# Changing a client ---------------------------------------------------------------------------

_REQUIRED = ("first_name", "last_name", "primary_provider_id", "client_type")
_CLEARABLE = ("phone", "group_id")


def update(actor: Actor, org_id: str, client_id: str, req: UpdateClient) -> ClientProfile:
    """Staff change names, contact details, providers, group and email (R19, R5); an email
    change is audited with the logins it moved between (R47, ids only: R48)."""
    staff = access.staff_of(actor, org_id)
    changes = req.model_dump(exclude_unset=True)
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            raise field_error(name, "This field cannot be cleared.")
    profile = records.client(org_id, client_id)
    if profile.status != ProfileStatus.ACTIVE:
        raise records.client_archived()
    if changes.get("group_id") and orgs.group_of(org_id, changes["group_id"]) is None:
        raise field_error("group_id", "No group with this id in this practice.")
    if "primary_provider_id" in changes:
        primary = orgs.clinical_provider(
            org_id, changes["primary_provider_id"], "primary_provider_id"
        )
        profile.primary_provider_id = primary.provider_id
    if "care_team" in changes or "primary_provider_id" in changes:
        team = (changes["care_team"] or []) if "care_team" in changes else profile.care_team
        profile.care_team = care_team_of(org_id, list(team), profile.primary_provider_id)
    for name in ("first_name", "last_name", "client_type", *_CLEARABLE):
        if name in changes:
            setattr(profile, name, changes[name])
    if "dob" in changes:
        profile.dob = req.dob.isoformat() if req.dob else None

    before = (profile.email, profile.identity_id, profile.shared_email)

    def attempt(tx: Tx) -> None:
        # A retry after an email race starts again from the profile as it was read.
        profile.email, profile.identity_id, profile.shared_email = before
        if "email" in changes or "shared_email" in changes:
            _change_email(tx, profile, changes)
        if profile.identity_id != before[1]:
            audit.record(
                tx,
                org_id=org_id,
                action="client.email_changed",
                actor=provider_ref(staff.provider_id),
                client_id=client_id,
                details={"from_identity_id": before[1], "to_identity_id": profile.identity_id},
            )
        profile.updated_at = clock.now()
        search.save(tx, profile)

    db.run(attempt, retry_on=identities.EmailClaimedMeanwhile)
    logs.event(
        "client.updated", org_id=org_id, client_id=client_id, fields=",".join(sorted(changes))
    )
    return profile


def _change_email(tx: Tx, profile: ClientProfile, changes: dict[str, Any]) -> None:
    """R19/R5: the profile moves to the identity of its new email (created if needed); the old
    identity and its other profiles stay as they are. Sessions of the old identity in this
    account end, since `client_account_open` checks the profile's identity."""
    new_email = changes.get("email", profile.email)
    shared = changes.get("shared_email")
    shared = profile.shared_email if shared is None else shared
    if new_email == profile.email and (shared == profile.shared_email or new_email is None):
        return
    if new_email == profile.email:
        # Only the shared flag changes. Sharing needs no condition; un-sharing is allowed only
        # while this profile is the address's one active user (R12).
        claim = OrgEmailClaim(profile.org_id, OrgEmailClaim.key_for(new_email))
        condition = None
        if not shared:
            condition = (size(OrgEmailClaim.client_ids) == 1) & OrgEmailClaim.client_ids.contains(
                profile.client_id
            )
        tx.update(
            claim,
            [OrgEmailClaim.shared.set(shared)],
            condition=condition,
            on_conflict=lambda: email_in_use(profile.org_id, new_email),
        )
        profile.shared_email = shared
        return
    release_email(tx, profile)
    if new_email is None:
        profile.email = profile.identity_id = None
        profile.shared_email = False
        return
    attach_email(tx, profile, new_email, shared=shared)


# Archive (R38) -------------------------------------------------------------------------------


def archive(actor: Actor, org_id: str, client_id: str) -> ClientProfile:
    """R38: archived, never deleted. Hidden from the default list, its sessions end at once
    (`client_account_open`), and its email is free for another active profile."""
    staff = access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    if profile.status == ProfileStatus.ARCHIVED:
        return profile
    tx = Tx()
    release_email(tx, profile)
    profile.status = ProfileStatus.ARCHIVED
    profile.archived_at = profile.updated_at = clock.now()
    search.save(tx, profile)
    _audit_status(tx, profile, "client.archived", staff.provider_id)
    tx.commit()
    logs.event("client.archived", org_id=org_id, client_id=client_id, actor=staff.provider_id)
    return profile


def unarchive(actor: Actor, org_id: str, client_id: str) -> ClientProfile:
    staff = access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    if profile.status == ProfileStatus.ACTIVE:
        return profile
    tx = Tx()
    if profile.email:
        claim_email(tx, profile)
    if profile.identity_id:
        # R12: the address may have become a provider's while the client was archived.
        refuse_staff(tx, org_id, profile.identity_id)
    profile.status = ProfileStatus.ACTIVE
    profile.archived_at = None
    profile.updated_at = clock.now()
    search.save(tx, profile)
    _audit_status(tx, profile, "client.unarchived", staff.provider_id)
    tx.commit()
    logs.event("client.unarchived", org_id=org_id, client_id=client_id, actor=staff.provider_id)
    return profile


def _audit_status(tx: Tx, profile: ClientProfile, action: str, provider_id: str) -> None:
    """R47: an archive or unarchive is audited in its own transaction."""
    audit.record(
        tx,
        org_id=profile.org_id,
        action=action,
        actor=provider_ref(provider_id),
        client_id=profile.client_id,
    )


# Listing -------------------------------------------------------------------------------------


def list_clients(
    actor: Actor, org_id: str, q: ListClientsQuery
) -> tuple[list[ClientProfile], str | None]:
    """One Query on the index that matches the filter, in name order (never a Scan); with `q`,
    the search (R55) of the clients that `q` starts the first name, last name or email of."""
    access.staff_of(actor, org_id)
    if q.q is not None and search_form(q.q):
        if q.provider_id:
            raise field_error(
                "q",
                "Search finds clients of every provider; search, or list one provider's "
                "clients, not both at once.",
            )
        return search.find(org_id, q.q, q.status, q.limit, q.cursor)
    by_status = q.status != "all"
    index: GlobalSecondaryIndex[ClientProfile]
    if q.provider_id and by_status:
        index, attr = ClientProfile.by_provider_status, "org_provider_status"
        partition = f"{org_id}#{q.provider_id}#{q.status}"
    elif q.provider_id:
        index, attr, partition = (
            ClientProfile.by_provider,
            "org_provider",
            f"{org_id}#{q.provider_id}",
        )
    elif by_status:
        index, attr, partition = ClientProfile.by_status, "org_status", f"{org_id}#{q.status}"
    else:
        index, attr, partition = ClientProfile.by_name, "org_id", org_id
    start = paging.decode(
        q.cursor, {"org_id", "client_id", "sort_name", attr}, {attr: partition, "org_id": org_id}
    )
    return paging.page(
        lambda key: index.query(partition, limit=q.limit, last_evaluated_key=key), start
    )


# Passwords (R8) ------------------------------------------------------------------------------


def set_password(actor: Actor, org_id: str, client_id: str, req: SetPassword) -> ClientProfile:
    """R8: an admin sets a client's password only while the client's last organization is the
    admin's and every account of the login (profiles, staff memberships, caregiver grants) is
    in the admin's organization; else one refusal, whatever the reason (R4 allows no more).
    The password opens only this organization's accounts until the owner proves the mailbox
    (R50). The last organization is a condition of the write, so a switch cannot slip in
    between; an account added elsewhere meanwhile is not opened by it (R50). Every session of
    that login ends (R46)."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    profile = records.client(org_id, client_id)
    if profile.status != ProfileStatus.ACTIVE:
        raise records.client_archived()
    identity = identities.get(profile.identity_id) if profile.identity_id else None
    if identity is None:
        raise Conflict(
            "This client has no email, so they have no login to set a password for. Add an "
            "email first.",
            code="no_login",
        )

    def refused() -> Conflict:
        return Conflict(
            "This client's password can only be changed by them. Send them a password-reset "
            "email instead.",
            code="password_owned_elsewhere",
        )

    elsewhere = _accounts_elsewhere(identity.id, org_id)  # read whatever the last org: one cost
    if identity.last_org_id != org_id or elsewhere:
        raise refused()
    tx = Tx()
    identities.set_unproven_password(
        tx,
        identity,
        passwords.hash_password(req.password),
        org_id=org_id,
        condition=Identity.last_org_id == org_id,
        on_conflict=refused,
    )
    audit.record(  # R47: a password set by staff, in the change's transaction
        tx,
        org_id=org_id,
        action="password.set_by_staff",
        actor=provider_ref(admin.provider_id),
        client_id=client_id,
        details={"identity_id": identity.id},
    )
    tx.commit()
    logs.event("client.password_set", org_id=org_id, client_id=client_id, actor=admin.provider_id)
    return profile


def _accounts_elsewhere(identity_id: str, org_id: str) -> bool:
    """R8: whether the login has a record in another organization that is, or may become, an
    account of it (any profile, archived ones included; any staff membership; any caregiver
    grant): three Queries on the login's indexes, whatever the organizations' sizes."""
    return any(
        record.org_id != org_id
        for query in (
            ClientProfile.by_identity.query(identity_id),
            Provider.by_identity.query(identity_id),
            Link.by_caregiver.query(identity_id),
        )
        for record in query
    )
