"""The one way a client arrives (R10–R12, R16–R18): staff, a group link, a booking or purchase,
or the import all admit a client here, with its primary provider, care team, email claims,
invite and audit event in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib import clock, db, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, field_error
from chalicelib.models.identities import EmailClaim, Identity
from chalicelib.models.orgs import Group, Organization, Provider, ProviderStatus, Role
from chalicelib.models.profiles import ClientProfile, ImportKey
from chalicelib.rules.actors import Actor, actor_ref
from chalicelib.rules.people import client_type
from chalicelib.rules.settings import org_settings
from chalicelib.schemas.clients import CreateClient
from chalicelib.services import access, audit, chat, records
from chalicelib.services.clients import search
from chalicelib.services.clients.email_claims import LOOK_UP, LookUp, attach_email
from chalicelib.services.identity import identities, sessions
from chalicelib.services.invites import invites
from chalicelib.services.invites.invites import InviteOutcome
from chalicelib.services.practices import orgs

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
    # The password a self-sign-up chose, for a login this arrival creates (never an existing
    # one); unproven, bound to this organization (R50), unless the arrival comes through a
    # link sent to the address (a group sign-up's confirmation, R51), which proves the mailbox.
    password_hash: str | None = None
    mailbox_proven: bool = False
    # The email's identity as the caller read it already (an import reads them in batches).
    identity: Identity | LookUp | None = LOOK_UP
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
    # The caller's read of the email's identity serves the first attempt; a retry reads again.
    reads: Iterator[Identity | LookUp | None] = iter([arrival.identity])

    def attempt(tx: Tx) -> Admitted:
        known = next(reads, LOOK_UP)
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
            copy_holders={},  # R29: none yet; each contact and link writes its own entry
            created_at=moment,
            updated_at=moment,
        )
        identity = None
        if arrival.email:
            identity, is_new = attach_email(
                tx, profile, arrival.email, shared=arrival.shared_email, known=known
            )
            if arrival.password_hash:
                if identity is None or not is_new:  # a sign-up never takes over a login
                    raise Conflict(
                        "This email already has a login; sign in with it.", code="email_has_login"
                    )
                # R50: unproven, it opens only this practice's accounts.
                identities.choose_password(
                    identity,
                    arrival.password_hash,
                    org_id=org.org_id,
                    mailbox_proven=arrival.mailbox_proven,
                )
        search.save(tx, profile, condition=ClientProfile.client_id.does_not_exist())
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
        return Admitted(profile, invite, identity, extra)

    admitted = db.run(attempt, retry_on=identities.EmailClaimedMeanwhile)
    logs.event(
        "client.created",
        org_id=org.org_id,
        client_id=admitted.profile.client_id,
        identity_id=admitted.profile.identity_id,
        source=arrival.source,
    )
    return admitted


def create_reads(org_id: str, req: Callable[[], CreateClient]) -> sessions.Ahead:
    """What `create` reads before its write, read ahead with a staff session of the path's
    organization (issue #17): the organization, the providers and group the request names, the
    email's claim (R1), and without a named primary the practice's providers (R10)."""

    def plan() -> db.ReadAhead:
        asked = req()
        named = [asked.primary_provider_id] if asked.primary_provider_id else []
        keys: list[db.Key] = [
            (Organization, org_id, "org"),
            *[(Provider, org_id, Provider.sk_for(p)) for p in [*named, *asked.care_team]],
            *([(Group, org_id, Group.sk_for(asked.group_id))] if asked.group_id else []),
            *([(EmailClaim, EmailClaim.key_for(asked.email), None)] if asked.email else []),
        ]
        queries = {} if named else orgs.providers_reads(org_id)
        return db.ReadAhead(keys, queries)

    return sessions.in_org(org_id, plan)


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
    care_team = care_team_of(org_id, req.care_team, primary.provider_id)
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
        p.provider_id: p
        for p in providers
        if p.role in access.CLINICAL and p.status == ProviderStatus.ACTIVE
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
    admins = [p for p in providers if p.role == Role.ADMIN and p.status == ProviderStatus.ACTIVE]
    return min(admins or providers, key=lambda p: p.created_at)


def _primary_for_staff_add(org_id: str, staff: Provider, requested: str | None) -> Provider:
    """R10: the named provider; else the adding provider; else the practice's only one."""
    if requested:
        return orgs.clinical_provider(org_id, requested, "primary_provider_id")
    if staff.role == Role.PROVIDER:
        return staff
    candidates = orgs.clinical_providers(org_id)
    if len(candidates) == 1:
        return candidates[0]
    raise field_error(
        "primary_provider_id",
        "This practice has several providers: name the client's primary provider.",
    )


def care_team_of(org_id: str, provider_ids: list[str], primary_id: str) -> list[str]:
    """R10: other providers of the same organization, each once."""
    if not provider_ids:
        return []
    if len(set(provider_ids)) != len(provider_ids):
        raise field_error("care_team", "Name each care team member once.")
    if primary_id in provider_ids:
        raise field_error("care_team", "The primary provider is not also on the care team.")
    found = db.get_together([(Provider, org_id, Provider.sk_for(pid)) for pid in provider_ids])
    for index, pid in enumerate(provider_ids):
        member = found.of(Provider, org_id, Provider.sk_for(pid))
        if (
            member is None
            or member.status != ProviderStatus.ACTIVE
            or member.role not in access.CLINICAL
        ):
            raise field_error(f"care_team.{index}", "No provider with this id in this practice.")
    return provider_ids
