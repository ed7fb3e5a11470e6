"""The accounts an identity may enter (R2) and whether one is still open (R37, R38).

Every place that asks "may this identity act in this account" (the account list, switching,
every authenticated request) calls `client_account_open` or `staff_account_open`, so archiving
a profile or shutting its login removes it everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import db
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization, Provider
from chalicelib.models.profiles import ClientProfile


@dataclass(frozen=True)
class Account:
    kind: str  # "client" | "staff"
    org_id: str
    client_id: str | None = None
    provider_id: str | None = None
    role: str | None = None

    @property
    def account_id(self) -> str:
        return f"{self.kind}:{self.org_id}:{self.client_id or self.provider_id}"


def client_account_open(profile: ClientProfile | None, identity_id: str) -> bool:
    """R2/R37/R38: the identity owns the profile, which is active and may log in."""
    return (
        profile is not None
        and profile.identity_id == identity_id
        and profile.status == "active"
        and login_enabled(profile)
    )


def login_enabled(profile: ClientProfile) -> bool:
    """R37: staff may shut a client's portal login; until then it is open."""
    return profile.portal_settings.get("login_enabled") is not False


def staff_account_open(provider: Provider | None, identity_id: str) -> bool:
    return (
        provider is not None and provider.identity_id == identity_id and provider.status == "active"
    )


def client_account(profile: ClientProfile) -> Account:
    return Account("client", profile.org_id, client_id=profile.client_id)


def staff_account(provider: Provider) -> Account:
    return Account("staff", provider.org_id, provider_id=provider.provider_id, role=provider.role)


def list_for(identity: Identity) -> list[Account]:
    """Every account the identity may enter, in a fixed number of round trips (R2, DESIGN)."""
    accounts = [
        client_account(profile)
        for profile in ClientProfile.by_identity.query(identity.id)
        if client_account_open(profile, identity.id)
    ]
    accounts += [
        staff_account(provider)
        for provider in Provider.by_identity.query(identity.id)
        if staff_account_open(provider, identity.id)
    ]
    return accounts


def resolve(identity: Identity, account_id: str) -> Account | None:
    """The account behind an id from the identity's own list, read afresh; None if not open."""
    kind, _, rest = account_id.partition(":")
    org_id, _, record_id = rest.partition(":")
    if not org_id or not record_id:
        return None
    if kind == "client":
        profile = db.get(ClientProfile, org_id, record_id)
        return client_account(profile) if client_account_open(profile, identity.id) else None
    if kind == "staff":
        provider = db.get(Provider, org_id, Provider.sk_for(record_id))
        return staff_account(provider) if staff_account_open(provider, identity.id) else None
    return None


def organizations(org_ids: set[str]) -> dict[str, Organization]:
    """The organizations behind a set of accounts, in one BatchGetItem."""
    if not org_ids:
        return {}
    return {org.org_id: org for org in Organization.batch_get([(oid, "org") for oid in org_ids])}


def view(account: Account | None, orgs: dict[str, Organization]) -> dict[str, Any] | None:
    if account is None:
        return None
    org = orgs[account.org_id]
    shown: dict[str, Any] = {
        "account_id": account.account_id,
        "kind": account.kind,
        "org": {"id": org.org_id, "slug": org.slug, "name": org.name},
    }
    if account.client_id:
        shown["client_id"] = account.client_id
    if account.role:
        shown["role"] = account.role
    return shown
