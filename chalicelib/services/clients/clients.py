"""Client profiles: add, list, read, change, archive (R5, R8, R10–R12, R19, R38).

A profile belongs to one organization and is changed only through it (R5, R7). Its email
links it to an identity (R1); the organization-wide email claim keeps one active profile per
address unless family members share it (R12). Every change is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pynamodb.expressions.condition import size
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib import clock, db, ids, logs, paging
from chalicelib.db import Tx
from chalicelib.errors import Conflict, field_error
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Group, Organization, Provider, StaffClaim
from chalicelib.models.profiles import ClientProfile, ImportKey, OrgEmailClaim
from chalicelib.rules.actors import Actor, actor_ref
from chalicelib.rules.people import client_type
from chalicelib.rules.settings import org_settings
from chalicelib.schemas import CreateClient, ListClientsQuery, SetPassword, UpdateClient
from chalicelib.services import access, audit, chat, outbox, records
from chalicelib.services.identity import identities, passwords
from chalicelib.services.invites import invites
from chalicelib.services.invites.invites import InviteOutcome
from chalicelib.services.practices import orgs


def get(actor: Actor, org_id: str, client_id: str) -> ClientProfile:
    access.staff_of(actor, org_id)
    return records.client(org_id, client_id)


# A client arrives (R10–R12, R16–R18) ---------------------------------------------------------


class _LookUp:
    """Says "read the email's identity now" (the default) rather than a caller's earlier read."""


LOOK_UP = _LookUp()

# R10 sources: how the client arrived; shown on the profile and in its audit event (R47).
SOURCES = ("staff", "group_link", "booking", "package", "import")
# The audit actor of a client who arrives by themselves (link, booking, purchase).
SELF = "self"


@dataclass(frozen=True)
class Arrival:
    """Everything one arriving client brings, whatever the way in (R10–R12, R16–R18)."""

    first_name: str
    last_name: str
    source: str
    primary_provider_id: str
    email: str | None = None
    phone: str | None = None
    dob: date | None = None
    client_type: str | None = None
    group_id: str | None = None
    care_team: tuple[str, ...] = ()
    shared_email: bool = False
    send_invite: bool = True
    # A self-sign-up is active at once (R16): activated now, welcomed (R21), no invite needed.
    activate: bool = False
    # The password a self-sign-up chose, for a login this arrival creates (never an existing one).
    password_hash: str | None = None
    # The email's identity as the caller read it already (an import reads them in batches).
    identity: Identity | _LookUp | None = LOOK_UP
    # R18: the key of a row without email, so the same file imported again adds nothing.
    import_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Admitted:
    profile: ClientProfile
    invite: InviteOutcome
    identity: Identity | None
    extra: Any = None


class AlreadyImported(Conflict):
    """R18: a row without email whose person this practice imported before."""

    def __init__(self) -> None:
        super().__init__("This person was imported before.", code="already_imported")


def admit(
    org: Organization,
    arrival: Arrival,
    *,
    actor: str,
    also: Callable[[Tx, ClientProfile, Identity | None], Any] | None = None,
) -> Admitted:
    """The one way a client arrives, whoever brings them (R10–R12, R16–R18, R47).

    In one transaction: the profile; its email claimed in the organization (R12: one active
    profile per address unless shared; a staff address refused); the email's identity linked,
    created if new (R1); the invite seam (R13); the audit event (R47); and what the caller adds
    through `also` (a session, a booking, a sign-up count). Nothing is half-written: a refused
    condition fails it all, with its product error. An identity created meanwhile by another
    request is found on a second attempt.
    """
    assert arrival.source in SOURCES, arrival.source
    known: list[Identity | _LookUp | None] = [arrival.identity]

    def attempt() -> Admitted:
        moment = clock.now()
        profile = ClientProfile(
            org.org_id,
            ids.new_id("cl"),
            first_name=arrival.first_name,
            last_name=arrival.last_name,
            phone=arrival.phone,
            dob=arrival.dob.isoformat() if arrival.dob else None,
            client_type=arrival.client_type or client_type(arrival.dob, clock.now().date()),
            group_id=arrival.group_id,
            primary_provider_id=arrival.primary_provider_id,
            care_team=list(arrival.care_team),
            source=arrival.source,
            created_at=moment,
            updated_at=moment,
        )
        tx = Tx()
        identity = None
        if arrival.email:
            identity, is_new = _attach_email(
                tx, profile, arrival.email, shared=arrival.shared_email, known=known[0]
            )
            if arrival.password_hash:
                if not is_new:  # a sign-up never takes over a login, even one made meanwhile
                    raise Conflict(
                        "This email already has a login; sign in with it.", code="email_has_login"
                    )
                identity.password_hash = arrival.password_hash
        tx.save(profile, condition=ClientProfile.client_id.does_not_exist())
        if arrival.import_key:
            tx.save(
                ImportKey(
                    org.org_id,
                    ImportKey.key_for(arrival.import_key),
                    imported_client_id=profile.client_id,
                ),
                condition=ImportKey.key.does_not_exist(),
                on_conflict=AlreadyImported,
            )
        if arrival.activate:
            profile.activated_at = moment
            chat.welcome(tx, org, profile)  # R21: the first activation
        invite = invites.for_new_client(
            tx, org, profile, send=arrival.send_invite and not arrival.activate, actor=actor
        )
        audit.record(
            tx,
            org_id=org.org_id,
            action="client.added",
            actor=actor,
            client_id=profile.client_id,
            details={"source": arrival.source, **arrival.details},
        )
        extra = also(tx, profile, identity) if also else None
        tx.commit()
        outbox.dispatch(invite.jobs)
        logs.event(
            "client.created",
            org_id=org.org_id,
            client_id=profile.client_id,
            identity_id=profile.identity_id,
            source=arrival.source,
        )
        return Admitted(profile, invite, identity, extra)

    try:
        return attempt()
    except identities.EmailClaimedMeanwhile:
        known[0] = LOOK_UP  # the batch read is stale: another request made the identity
        return attempt()


def create(
    actor: Actor,
    org_id: str,
    req: CreateClient,
    *,
    also: Callable[[Tx, ClientProfile, Identity | None], Any] | None = None,
) -> tuple[ClientProfile, InviteOutcome]:
    """Staff add a client (R10–R12); the invite is decided in the same transaction (R13), and
    so is what `also` adds (a link made with the new client, R25)."""
    staff = access.staff_of(actor, org_id)
    org = records.org(org_id)
    if req.group_id and orgs.group_of(org_id, req.group_id) is None:
        raise field_error("group_id", "No group with this id in this practice.")
    primary = _primary_for_staff_add(org_id, staff, req.primary_provider_id)
    care_team = _care_team(org_id, req.care_team, primary.provider_id)
    arrival = Arrival(
        first_name=req.first_name,
        last_name=req.last_name,
        source="staff",
        primary_provider_id=primary.provider_id,
        email=req.email,
        phone=req.phone,
        dob=req.dob,
        client_type=req.client_type,
        group_id=req.group_id,
        care_team=tuple(care_team),
        shared_email=req.shared_email,
        send_invite=req.send_invite,
    )
    admitted = admit(org, arrival, actor=actor_ref(actor), also=also)
    return admitted.profile, admitted.invite


def primary_for_arrival(
    org: Organization, group: Group | None, providers: list[Provider]
) -> Provider | None:
    """R10, for a client who arrives by themselves or by an import row that names nobody:
    the group's default provider, else the organization's, else its only clinical provider.
    (A provider the link or booking names is checked by the caller, before this.) None when
    none of these decides: several providers and no default."""
    clinical = {
        p.provider_id: p for p in providers if p.role in access.CLINICAL and p.status == "active"
    }
    for candidate in (
        group.default_provider_id if group else None,
        org_settings(org).get("default_provider_id"),
    ):
        if candidate and candidate in clinical:
            return clinical[candidate]
    if len(clinical) == 1:
        return next(iter(clinical.values()))
    return None


def founding_admin(providers: list[Provider]) -> Provider:
    """Who holds a self-arrived client when R10's defaults decide nothing: the practice's
    earliest admin, so that a client who signed up is never turned away for the practice's
    missing setting (staff can reassign them)."""
    admins = [p for p in providers if p.role == "admin" and p.status == "active"]
    return min(admins or providers, key=lambda p: p.created_at)


def _primary_for_staff_add(org_id: str, staff: Provider, requested: str | None) -> Provider:
    """R10: the named provider; else the adding provider; else the practice's only one."""
    if requested:
        return orgs.clinical_provider(org_id, requested, "primary_provider_id")
    if staff.role == "provider":
        return staff
    candidates = orgs.clinical_providers(org_id)
    if len(candidates) == 1:
        return candidates[0]
    raise field_error(
        "primary_provider_id",
        "This practice has several providers: name the client's primary provider.",
    )


def _care_team(org_id: str, provider_ids: list[str], primary_id: str) -> list[str]:
    """R10: other providers of the same organization, each once."""
    if not provider_ids:
        return []
    if len(set(provider_ids)) != len(provider_ids):
        raise field_error("care_team", "Name each care team member once.")
    if primary_id in provider_ids:
        raise field_error("care_team", "The primary provider is not also on the care team.")
    found = {
        p.provider_id: p
        for p in Provider.batch_get([(org_id, Provider.sk_for(pid)) for pid in provider_ids])
    }
    for index, pid in enumerate(provider_ids):
        member = found.get(pid)
        if member is None or member.status != "active" or member.role not in access.CLINICAL:
            raise field_error(f"care_team.{index}", "No provider with this id in this practice.")
    return provider_ids


# Email and its claims (R1, R5, R12, R19) -----------------------------------------------------


def _attach_email(
    tx: Tx,
    profile: ClientProfile,
    email: str,
    *,
    shared: bool,
    known: Identity | _LookUp | None = LOOK_UP,
) -> tuple[Identity, bool]:
    """Give the profile this email and its identity (created if needed), and claim the email
    in the organization. The identity's other profiles are untouched (R5)."""
    if isinstance(known, _LookUp):
        identity, is_new = identities.find_or_add(tx, email, first_org_id=profile.org_id)
    elif known is None:
        identity, is_new = identities.add(tx, email, first_org_id=profile.org_id), True
    else:
        identity, is_new = known, False
    if not is_new:
        tx.check(
            StaffClaim,
            profile.org_id,
            StaffClaim.sk_for(identity.id),
            condition=StaffClaim.sk.does_not_exist(),
            on_conflict=lambda: Conflict(
                "This address belongs to a staff account of this practice; a client needs "
                "their own email.",
                code="email_is_staff",
            ),
        )
    profile.identity_id = identity.id
    profile.email = email
    profile.shared_email = shared
    _claim_email(tx, profile)
    return identity, is_new


def _claim_email(tx: Tx, profile: ClientProfile) -> None:
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
        on_conflict=lambda: _email_in_use(org_id, email),
    )


def _email_in_use(org_id: str, email: str) -> Conflict:
    claim = db.get(OrgEmailClaim, org_id, OrgEmailClaim.key_for(email))
    holders = sorted(claim.client_ids or ()) if claim else []
    return Conflict(
        "Another active client of this practice uses this email. Use another address, or "
        "say that family members share it (shared_email: true).",
        code="email_in_use",
        conflicting_client_ids=holders,
    )


def _release_email(tx: Tx, profile: ClientProfile) -> None:
    if profile.email:
        claim = OrgEmailClaim(profile.org_id, OrgEmailClaim.key_for(profile.email))
        tx.update(claim, [OrgEmailClaim.client_ids.delete({profile.client_id})])


# Changing a client ---------------------------------------------------------------------------

_REQUIRED = ("first_name", "last_name", "primary_provider_id", "client_type")
_CLEARABLE = ("phone", "group_id")


def update(actor: Actor, org_id: str, client_id: str, req: UpdateClient) -> ClientProfile:
    """Staff change names, contact details, providers, group and email (R19, R5)."""
    access.staff_of(actor, org_id)
    changes = req.model_dump(exclude_unset=True)
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            raise field_error(name, "This field cannot be cleared.")
    profile = records.client(org_id, client_id)
    if profile.status != "active":
        raise _archived()
    if changes.get("group_id") and orgs.group_of(org_id, changes["group_id"]) is None:
        raise field_error("group_id", "No group with this id in this practice.")
    if "primary_provider_id" in changes:
        primary = orgs.clinical_provider(
            org_id, changes["primary_provider_id"], "primary_provider_id"
        )
        profile.primary_provider_id = primary.provider_id
    if "care_team" in changes or "primary_provider_id" in changes:
        team = (changes["care_team"] or []) if "care_team" in changes else profile.care_team
        profile.care_team = _care_team(org_id, list(team), profile.primary_provider_id)
    for name in ("first_name", "last_name", "client_type", *_CLEARABLE):
        if name in changes:
            setattr(profile, name, changes[name])
    if "dob" in changes:
        profile.dob = req.dob.isoformat() if req.dob else None

    before = (profile.email, profile.identity_id, profile.shared_email)

    def attempt() -> ClientProfile:
        # A retry after an email race starts again from the profile as it was read.
        profile.email, profile.identity_id, profile.shared_email = before
        tx = Tx()
        if "email" in changes or "shared_email" in changes:
            _change_email(tx, profile, changes)
        profile.updated_at = clock.now()
        tx.save(profile)
        tx.commit()
        logs.event(
            "client.updated", org_id=org_id, client_id=client_id, fields=",".join(sorted(changes))
        )
        return profile

    return identities.retrying_email_race(attempt)


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
            on_conflict=lambda: _email_in_use(profile.org_id, new_email),
        )
        profile.shared_email = shared
        return
    _release_email(tx, profile)
    if new_email is None:
        profile.email = profile.identity_id = None
        profile.shared_email = False
        return
    _attach_email(tx, profile, new_email, shared=shared)


def _archived() -> Conflict:
    return Conflict("This client is archived; unarchive them first.", code="client_archived")


# Archive (R38) -------------------------------------------------------------------------------


def archive(actor: Actor, org_id: str, client_id: str) -> ClientProfile:
    """R38: archived, never deleted. Hidden from the default list, its sessions end at once
    (`client_account_open`), and its email is free for another active profile."""
    staff = access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    if profile.status == "archived":
        return profile
    tx = Tx()
    _release_email(tx, profile)
    profile.status = "archived"
    profile.archived_at = profile.updated_at = clock.now()
    tx.save(profile)
    tx.commit()
    logs.event("client.archived", org_id=org_id, client_id=client_id, actor=staff.provider_id)
    return profile


def unarchive(actor: Actor, org_id: str, client_id: str) -> ClientProfile:
    staff = access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    if profile.status == "active":
        return profile
    tx = Tx()
    if profile.email:
        _claim_email(tx, profile)
    profile.status = "active"
    profile.archived_at = None
    profile.updated_at = clock.now()
    tx.save(profile)
    tx.commit()
    logs.event("client.unarchived", org_id=org_id, client_id=client_id, actor=staff.provider_id)
    return profile


# Listing -------------------------------------------------------------------------------------


def list_clients(
    actor: Actor, org_id: str, q: ListClientsQuery
) -> tuple[list[ClientProfile], str | None]:
    """One Query on the index that matches the filter, in name order (never a Scan)."""
    access.staff_of(actor, org_id)
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
    """R8: an admin sets a client's password only while the client's last organization is
    the admin's. The condition is part of the write, so a switch cannot slip in between.
    Every session of that login ends (R46)."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    profile = records.client(org_id, client_id)
    if profile.status != "active":
        raise _archived()
    identity = identities.get(profile.identity_id) if profile.identity_id else None
    if identity is None:
        raise Conflict(
            "This client has no email, so they have no login to set a password for. Add an "
            "email first.",
            code="no_login",
        )

    def refused() -> Conflict:
        return Conflict(
            "This client last signed in to another practice's portal, so their password can "
            "only be changed by them. Send them a password-reset email instead.",
            code="password_owned_elsewhere",
        )

    tx = Tx()
    identities.set_password(
        tx,
        identity,
        passwords.hash_password(req.password),
        condition=Identity.last_org_id == org_id,
        on_conflict=refused,
    )
    tx.commit()
    logs.event("client.password_set", org_id=org_id, client_id=client_id, actor=admin.provider_id)
    return profile
