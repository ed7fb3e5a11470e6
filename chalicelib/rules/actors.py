"""Who acts (R47): the account an identity is in, the caller of a request, what `access.may`
granted, and the one way an action names its actor in records and the audit log.

A caregiver acts as their own profile on behalf of the care receiver (R30, B6), so every place
that names an actor names a caregiver the same way: by the caregiver's own client id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chalicelib.models.identities import Identity
from chalicelib.models.links import Link
from chalicelib.models.orgs import Organization, Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.sessions import Session, SessionKind
from chalicelib.rules.settings import Effective

# The kinds of account an identity may enter: a session in one has that kind (SessionKind).
AccountKind = Literal[SessionKind.CLIENT, SessionKind.CAREGIVER, SessionKind.STAFF]

# The actor of what no person did: triggers, follow-ups, the worker.
SYSTEM = "system"


def provider_ref(provider_id: str) -> str:
    return f"provider:{provider_id}"


def client_ref(client_id: str) -> str:
    return f"client:{client_id}"


def identity_ref(identity_id: str) -> str:
    return f"identity:{identity_id}"


@dataclass(frozen=True)
class Account:
    """One account an identity may enter. A caregiver account is the care receiver's
    (`client_id`), entered by the caregiver's own profile (`caregiver_client_id`) through the
    link that holds the grant (R30)."""

    kind: AccountKind
    org_id: str
    client_id: str | None = None
    provider_id: str | None = None
    role: str | None = None
    link_id: str | None = None
    caregiver_client_id: str | None = None
    # A client account's group as its profile was read: the session keeps it so the levels of
    # its settings are read with the profile, in the same round trip (issue #17).
    group_id: str | None = None

    @property
    def account_id(self) -> str:
        if self.kind == SessionKind.CAREGIVER:
            return f"caregiver:{self.org_id}:{self.client_id}:{self.link_id}"
        return f"{self.kind}:{self.org_id}:{self.client_id or self.provider_id}"

    @property
    def actor(self) -> str:
        """Who acts in this account (R47)."""
        if self.kind == SessionKind.STAFF:
            return provider_ref(str(self.provider_id))
        if self.kind == SessionKind.CAREGIVER:
            return client_ref(str(self.caregiver_client_id))
        return client_ref(str(self.client_id))

    @property
    def on_behalf_of(self) -> str | None:
        """The care receiver, when a caregiver acts (R30)."""
        return self.client_id if self.kind == SessionKind.CAREGIVER else None


@dataclass(frozen=True)
class Actor:
    """Who is calling: a live session, its identity and the account it acts in, if any."""

    session: Session
    identity: Identity
    account: Account | None
    provider: Provider | None = None
    # Client and caregiver accounts: the account's profile (the care receiver's for a
    # caregiver), its organization and effective portal settings (R35), read on this request.
    profile: ClientProfile | None = None
    org: Organization | None = None
    settings: Effective | None = None
    # Caregiver accounts: the link holding the grant and the caregiver's own profile (R30).
    link: Link | None = None
    caregiver: ClientProfile | None = None


def actor_ref(actor: Actor | None) -> str:
    """Who acts, as records and the audit log name them: a provider, a client (a caregiver by
    their own profile), the identity alone, or the system."""
    if actor is None:
        return SYSTEM
    if actor.account is None:
        return identity_ref(actor.identity.id)
    return actor.account.actor


@dataclass(frozen=True)
class Permit:
    """What `may` granted: the acting ref and on whose behalf, for records and audit (R47)."""

    org_id: str
    client_id: str | None
    actor: str  # provider_ref or client_ref (a caregiver acts as their own profile)
    on_behalf_of: str | None = None  # the care receiver, when a caregiver acts (R30)
    profile: ClientProfile | None = None
