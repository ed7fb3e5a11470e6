"""The accounts an identity may enter (R2) and whether one is still open (R37, R38).

Every place that asks "may this identity act in this account" (the account list, switching,
every authenticated request) asks rules/accounts.py whether it is open, so archiving
a profile or shutting its login removes it everywhere at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib import db
from chalicelib.models.identities import Identity
from chalicelib.models.links import Link, owner_for
from chalicelib.models.orgs import Organization, Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.sessions import SessionKind
from chalicelib.rules import grants as grants_rules
from chalicelib.rules.accounts import client_account_open, staff_account_open
from chalicelib.rules.actors import Account
from chalicelib.rules.settings import Effective, effective_for_client
from chalicelib.services import records
from chalicelib.services.records import Levels


def entering(identity: Identity, org_id: str) -> list[Action]:
    """R3: the write that makes `org_id` the identity's last organization (R8 and R9 read it),
    empty when it already is. Every way in (sign-in, switch, a passcode, an accepted invite, a
    group sign-up) adds it to the transaction that starts the session."""
    if identity.last_org_id == org_id:
        return []
    identity.last_org_id = org_id
    return [Identity.last_org_id.set(org_id)]


def client_account(profile: ClientProfile) -> Account:
    return Account(
        SessionKind.CLIENT, profile.org_id, client_id=profile.client_id, group_id=profile.group_id
    )


def caregiver_account(link: Link) -> Account:
    return Account(
        SessionKind.CAREGIVER,
        link.org_id,
        client_id=link.client_id,
        link_id=link.link_id,
        caregiver_client_id=link.linked_client_id,
    )


def staff_account(provider: Provider) -> Account:
    return Account(
        SessionKind.STAFF, provider.org_id, provider_id=provider.provider_id, role=provider.role
    )


@dataclass(frozen=True)
class Listing:
    """The accounts an identity may enter, and the organizations they are in (read with the
    levels of their settings, in the same BatchGetItem)."""

    accounts: list[Account]
    orgs: dict[str, Organization]


def list_for(identity: Identity) -> list[Account]:
    return listing(identity).accounts


def holdings_reads(identity_id: str) -> db.ReadAhead:
    """The three Queries of `listing`, to issue beside the session's read (issue #17)."""
    return db.ReadAhead(
        queries=dict(_holdings(identity_id)),
    )


def _holdings(identity_id: str) -> list[tuple[tuple[str, str], Callable[[], list[Any]]]]:
    """The identity's profiles, caregiver grants and staff memberships: a Query each, by name."""
    return [
        (("profiles-of", identity_id), lambda: list(ClientProfile.by_identity.query(identity_id))),
        (("grants-of", identity_id), lambda: list(Link.by_caregiver.query(identity_id))),
        (("memberships-of", identity_id), lambda: list(Provider.by_identity.query(identity_id))),
    ]


def _held(identity_id: str) -> tuple[list[ClientProfile], list[Link], list[Provider]]:
    """`_holdings`, read ahead with the session or issued together now."""
    own, grants, memberships = db.all_together(
        [partial(db.ahead_or, name, query) for name, query in _holdings(identity_id)]
    )
    return own, grants, memberships


def listing(identity: Identity) -> Listing:
    """Every account the identity may enter, in a fixed number of round trips (R2, DESIGN):
    one Query each for its profiles, its caregiver grants and its staff memberships, issued
    together (or read ahead with the session), then one BatchGetItem for the care receivers and
    one for the organizations and the settings' levels."""
    own, grants, memberships = _held(identity.id)
    receivers = _profiles({(link.org_id, link.client_id) for link in grants})
    levels = _levels([*own, *receivers.values()], also_orgs={p.org_id for p in memberships})
    accounts = [
        client_account(profile)
        for profile in own
        if client_account_open(profile, identity.id, _settings(profile, levels))
    ]
    by_id = {(p.org_id, p.client_id): p for p in own}
    for link in grants:
        caregiver = by_id.get((link.org_id, link.linked_client_id))
        receiver = receivers.get((link.org_id, link.client_id))
        org = levels.get(link.org_id, (None, {}))[0]
        if grants_rules.is_open(
            link,
            identity.id,
            caregiver=caregiver,
            caregiver_settings=_settings(caregiver, levels),
            receiver=receiver,
            receiver_settings=_settings(receiver, levels),
            org=org,
        ):
            accounts.append(caregiver_account(link))
    accounts += [
        staff_account(provider)
        for provider in memberships
        if staff_account_open(provider, identity.id)
    ]
    orgs = {org_id: org for org_id, (org, _) in levels.items() if org is not None}
    return Listing(accounts, orgs)


def people_of(found: list[Account]) -> dict[tuple[str, str], ClientProfile]:
    """Whose account each one is, by (org id, client id): a client account's own profile, a
    caregiver account's care receiver (R30), in one BatchGetItem. The chooser names them, so
    family members who share an email (R1) tell their accounts apart."""
    return _profiles({(a.org_id, a.client_id) for a in found if a.client_id})


def _profiles(keys: set[tuple[str, str]]) -> dict[tuple[str, str], ClientProfile]:
    if not keys:
        return {}
    found = db.get_together(
        [(ClientProfile, org_id, client_id) for org_id, client_id in sorted(keys)]
    )
    return {key: profile for key in keys if (profile := found.of(ClientProfile, *key))}


def _levels(profiles: list[ClientProfile], also_orgs: Collection[str] = ()) -> Levels:
    """The organizations and groups above these profiles, and the organizations `also_orgs`, in
    one BatchGetItem."""
    wanted: dict[str, set[str]] = {org_id: set() for org_id in also_orgs}
    for profile in profiles:
        groups = wanted.setdefault(profile.org_id, set())
        if profile.group_id:
            groups.add(profile.group_id)
    return records.levels_of(wanted) if wanted else {}


def _settings(profile: ClientProfile | None, levels: Levels) -> Effective | None:
    if profile is None:
        return None
    org, groups = levels.get(profile.org_id, (None, {}))
    return effective_for_client(profile, org, groups)


def settings_of(profile: ClientProfile | None) -> Effective | None:
    """One profile's effective settings, its levels read in one BatchGetItem."""
    if profile is None:
        return None
    return _settings(profile, _levels([profile]))


def open_grant(identity_id: str, org_id: str, client_id: str, link_id: str) -> CaregiverView:
    """The grant behind a caregiver account, read afresh (R31): the link, both profiles and the
    levels above them; `open` says whether the identity may act through it now."""
    link = db.get(Link, owner_for(org_id, client_id), Link.sk_for(link_id))
    if link is None:
        return CaregiverView(None, None, None, None, None, False)
    found = _profiles({(org_id, link.client_id), (org_id, link.linked_client_id)})
    receiver = found.get((org_id, link.client_id))
    caregiver = found.get((org_id, link.linked_client_id))
    levels = _levels([p for p in (receiver, caregiver) if p is not None])
    org = levels.get(org_id, (None, {}))[0]
    receiver_settings = _settings(receiver, levels)
    is_open = grants_rules.is_open(
        link,
        identity_id,
        caregiver=caregiver,
        caregiver_settings=_settings(caregiver, levels),
        receiver=receiver,
        receiver_settings=receiver_settings,
        org=org,
    )
    return CaregiverView(link, receiver, caregiver, org, receiver_settings, is_open)


@dataclass(frozen=True)
class CaregiverView:
    link: Link | None
    receiver: ClientProfile | None
    caregiver: ClientProfile | None
    org: Organization | None
    settings: Effective | None
    open: bool


def _parts(account_id: str) -> tuple[str, str, str]:
    """An account id's kind, organization and record (`Account.account_id`'s shape)."""
    kind, _, rest = account_id.partition(":")
    org_id, _, record_id = rest.partition(":")
    return kind, org_id, record_id


def org_id_in(account_id: str) -> str:
    """The organization an account id names, read or not (empty when it names none)."""
    return _parts(account_id)[1]


def resolve(identity: Identity, account_id: str) -> Account | None:
    """The account behind an id from the identity's own list, read afresh; None if not open."""
    kind, org_id, record_id = _parts(account_id)
    if not org_id or not record_id:
        return None
    if kind == SessionKind.CLIENT:
        profile = db.get(ClientProfile, org_id, record_id)
        if client_account_open(profile, identity.id, settings_of(profile)):
            assert profile is not None
            return client_account(profile)
        return None
    if kind == SessionKind.CAREGIVER:
        return _resolve_caregiver(identity, org_id, record_id)
    if kind == SessionKind.STAFF:
        provider = db.get(Provider, org_id, Provider.sk_for(record_id))
        return staff_account(provider) if staff_account_open(provider, identity.id) else None
    return None


def _resolve_caregiver(identity: Identity, org_id: str, record_id: str) -> Account | None:
    client_id, _, link_id = record_id.partition(":")
    if not client_id.startswith("cl_") or not link_id.startswith("lk_"):
        return None
    grant = open_grant(identity.id, org_id, client_id, link_id)
    return caregiver_account(grant.link) if grant.open and grant.link else None


def organizations(org_ids: set[str]) -> dict[str, Organization]:
    """The organizations behind a set of accounts, in one BatchGetItem (none for those read
    ahead)."""
    found = db.get_together([(Organization, org_id, "org") for org_id in sorted(org_ids)])
    return {org_id: org for org_id in org_ids if (org := found.of(Organization, org_id, "org"))}


def resolve_reads(account_id: str) -> list[db.Key]:
    """What `resolve` reads first for this account id, and its organization, to read ahead with
    the session (issue #17); a caregiver account's profiles and a client's group come after."""
    kind, org_id, record_id = _parts(account_id)
    if not org_id or not record_id:
        return []
    org: db.Key = (Organization, org_id, "org")
    if kind == SessionKind.CLIENT:
        return [(ClientProfile, org_id, record_id), org]
    if kind == SessionKind.STAFF:
        return [(Provider, org_id, Provider.sk_for(record_id)), org]
    client_id, _, link_id = record_id.partition(":")
    if kind == SessionKind.CAREGIVER and client_id and link_id:
        return [(Link, owner_for(org_id, client_id), Link.sk_for(link_id)), org]
    return []
