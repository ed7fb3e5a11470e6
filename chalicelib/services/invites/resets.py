"""Password resets (R8, R9, R20, R46, R47): asked for by the client or sent by staff, redeemed
on the reset page.

A reset is a token of kind "reset" whose subject is the identity, so a newer reset kills the
older link (R13), living 24 hours (R20). Its email is identity-level: the branding of the
identity's last organization (R9, practices/branding.py). Redeeming consumes the token and sets
the password in one transaction; the identity's epoch moves, so every session ends (R46).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from chalicelib import config, logs, sealing
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.actors import Actor, identity_ref, provider_ref
from chalicelib.rules.email_kinds import KINDS
from chalicelib.rules.passwords import new_password_errors
from chalicelib.sealing import Sealed
from chalicelib.services import access, audit, outbox, records, throttle, tokens
from chalicelib.services.identity import accounts, auth, identities, passwords, sessions
from chalicelib.services.invites import invites
from chalicelib.services.practices import branding

TTL = timedelta(hours=24)


def subject_for(email: str) -> str:
    return identities.reset_subject(email)


def link(tx: Tx, email: str, identity_id: str | None = None) -> tuple[dict[str, object], Sealed]:
    """A new reset link of the address added to `tx` (R13: the older one dies with it): what
    an email carrying it puts in its context, and the link itself sealed for the worker (R53;
    the job names the token, so it is not sent once the link died, R43). `identity_id` when
    the caller knows the login; a link asked for on the public form does not (R51), and its
    page finds it by the address."""
    issued = tokens.issue(
        tx,
        "reset",
        subject_for(email),
        ttl=TTL,
        identity_id=identity_id,
        data={} if identity_id else {"email": email},
    )
    url = f"{config.PUBLIC_URL}/reset/{issued.secret}"
    return {"hours": int(TTL.total_seconds() // 3600)}, sealing.seal(url, issued.token.token_hash)


def _queue(tx: Tx, identity: Identity, org_id: str, client_id: str | None, actor: str) -> EmailJob:
    """The reset token, its email and the audit event, added to `tx`."""
    context, secret = link(tx, identity.email, identity.id)
    job = outbox.queue(
        tx,
        org_id=org_id,
        kind="password_reset",
        client_id=client_id,
        identity_id=identity.id,
        context=context,
        secret=secret,
    )
    audit.record(
        tx, org_id=org_id, action="password.reset_requested", actor=actor, client_id=client_id
    )
    return job


def request(email: str, source: str) -> None:
    """R20: anyone may ask for a reset of an email. R51: the request does the same for every
    address, and never looks up whose it is: the attempt is counted per email and per source
    first (R45, R52), then the link is made for the address and its email job queued for the
    worker, which sends it only if the address has a login (`asked_org`). Neither the answer
    nor its work can tell whether the address has a login.

    Two requests for one address at the same moment: one link is made, the other request
    finds the address's pointer moved and stops there, at once and with the same answer."""
    throttle.attempt(email, source, throttle.RESET_REQUEST)
    tx = Tx()
    job = outbox.queue_asked(tx, "password_reset", email, *link(tx, email))
    try:
        tx.commit(attempts=1)
    except Conflict as raced:
        if raced.code != "concurrent_change":
            raise
        return  # the other request's link is on its way to the same mailbox
    logs.event("password.reset_requested", job_id=job.job_id)


def asked_org(identity: Identity) -> str | None:
    """For the worker (R9, R51): the organization a reset asked for on the public form is
    filed under, the login's last one; None when there is none, and nothing is sent."""
    return identity.last_org_id


def send_for_client(actor: Actor, org_id: str, client_id: str) -> None:
    """Staff send a client a reset email (R8's way out, R20: five sends a day with invites)."""
    staff = access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    if profile.status != ProfileStatus.ACTIVE:
        raise records.client_archived()
    identity = identities.get(profile.identity_id) if profile.identity_id else None
    if identity is None:
        raise Conflict(
            "This client has no email, so they have no login to reset. Add an email first.",
            code="no_email",
        )
    tx = Tx()
    invites.count_staff_send(tx, profile)
    _queue(tx, identity, org_id, client_id, provider_ref(staff.provider_id))
    tx.commit()
    logs.event("password.reset_sent", org_id=org_id, client_id=client_id, actor=staff.provider_id)


# The reset page ------------------------------------------------------------------------------


class ResetState(StrEnum):
    """Where a reset link leads."""

    UNKNOWN = "unknown"  # 404
    DEAD = "dead"  # 410, the landing's `reason` says why (a TokenStatus)
    OPEN = "open"


@dataclass(frozen=True)
class ResetLanding:
    """unknown (404), dead (410, `reason`: used, superseded, expired, revoked), or open."""

    state: ResetState
    org: Organization | None = None  # whose branding the page wears (R9, B7)
    token: Token | None = None
    identity: Identity | None = None
    reason: str | None = None


def landing(secret: str) -> ResetLanding:
    token = tokens.find(secret, "reset")
    identity = _identity_of(token) if token else None
    if token is None or identity is None:
        return ResetLanding(ResetState.UNKNOWN)
    org = branding.branding_org(KINDS["password_reset"], None, identity)
    state = tokens.status_of(token)
    if state != TokenStatus.LIVE:
        return ResetLanding(ResetState.DEAD, org, token, identity, reason=state)
    return ResetLanding(ResetState.OPEN, org, token, identity)


@dataclass(frozen=True)
class ResetOutcome:
    """The reset form's outcome: errors to show again, or the session the new password opened
    (`entered`: in the login's only account; otherwise the person chooses, R2)."""

    landing: ResetLanding
    errors: dict[str, str] = field(default_factory=dict)
    session_token: str | None = None
    entered: bool = False

    @property
    def done(self) -> bool:
        return self.session_token is not None


def redeem(secret: str, password: str, confirm: str) -> ResetOutcome:
    """Set the new password; the token is consumed in the same transaction (once), every
    session of the login ends (R46), and the change is audited (R47). The same transaction
    starts the session the page hands to the portal (B9): in the login's only account (an
    entry, R3, R47), or choosing (R2)."""
    found = landing(secret)
    if found.state != ResetState.OPEN:
        return ResetOutcome(found)
    token, identity = found.token, found.identity
    assert token is not None
    assert identity is not None
    errors = new_password_errors(password, confirm)
    if errors:
        return ResetOutcome(found, errors)
    org_id = identity.last_org_id  # the audit event's, read before an entry moves it (R3)
    listed = accounts.list_for(identity)
    entered = listed[0] if len(listed) == 1 else None
    tx = Tx()
    tokens.consume(tx, token, on_conflict=tokens.just_used)
    # R50: the link proved the mailbox; the password chosen here is the owner's, and opens
    # every account of the login. Never asks for the current one, which may be unproven.
    identities.prove_mailbox(
        tx,
        identity,
        password_hash=passwords.hash_password(password),
        keep_token=token.token_hash,
        also=auth.entry(tx, identity, entered) if entered else None,
    )
    session_token = sessions.start(tx, identity, entered)
    if org_id:
        audit.record(
            tx,
            org_id=org_id,
            action="password.changed",
            actor=identity_ref(identity.id),
            client_id=_client_in(org_id, identity.id),
        )
    try:
        tx.commit()
    except Conflict as exc:
        if exc.code != "token_not_live":
            raise
        return ResetOutcome(landing(secret))  # another tab won: the link says why it is dead
    logs.event("password.reset", identity_id=identity.id)
    return ResetOutcome(found, session_token=session_token, entered=entered is not None)


def _identity_of(token: Token) -> Identity | None:
    """The login a reset link is for: named when staff sent it, else the one of the address it
    was asked for (R51), if that address had a login then: a link made before the login was
    (never sent, since the worker found none) opens nothing."""
    if token.identity_id:
        return identities.get(token.identity_id)
    email = token.data.get("email")
    identity = identities.find_by_email(email) if isinstance(email, str) else None
    return identity if identity is not None and identity.created_at <= token.created_at else None


def _client_in(org_id: str, identity_id: str) -> str | None:
    """The identity's profile in its last organization, if it is a client there (the audit
    event belongs to that client's history); one Query on the identity's profiles."""
    for profile in ClientProfile.by_identity.query(
        identity_id, ClientProfile.org_id == org_id, limit=1
    ):
        return profile.client_id
    return None
